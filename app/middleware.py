"""One ASGI middleware for every request: request id, body-size limit, metrics, access log."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON, TYPE_BASE
from app.logs import request_id
from app.metrics import Metrics

logger = logging.getLogger("deskmate.access")

_VALID_ID = re.compile(r"^[\w.:-]{1,128}$")


class BodyTooLarge(Exception):
    pass


class RequestMiddleware:
    """Wraps the app; ``limits`` maps path prefixes to maximum body bytes (longest wins)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, limits: Mapping[str, int],
                 default_limit: int) -> None:
        self.app = app
        self.metrics = metrics
        self.limits = sorted(limits.items(), key=lambda item: -len(item[0]))
        self.default_limit = default_limit

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)),
                    self.default_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        limit = self.limit_for(scope["path"])

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", rid.encode())]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
            return message

        try:
            if int(headers.get("content-length") or 0) > limit:
                raise BodyTooLarge
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            await self._too_large(send_with_id, scope["path"], limit)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id.reset(token)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        """Count the request in the metrics and log it (under its request id)."""
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(route, scope["method"], str(status)).inc()
        self.metrics.latency.labels(route, scope["method"]).observe(elapsed)
        logger.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed * 1000,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2),
                           "route": route})

    @staticmethod
    async def _too_large(send: Send, path: str, limit: int) -> None:
        body = json.dumps({"type": TYPE_BASE + "payload-too-large", "title": "Payload too large",
                           "status": 413,
                           "detail": f"the request body is over the {limit:,}-byte limit for {path}"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", PROBLEM_JSON.encode())]})
        await send({"type": "http.response.body", "body": body.encode()})
