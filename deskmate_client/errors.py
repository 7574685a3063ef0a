"""Errors the Deskmate client raises, built from the server's problem+json answers.

Hierarchy::

    DeskmateError               any failed call; ``status``, ``type``, ``title``, ``detail``
    ├── ValidationFailed   422  (and 400) the request was malformed; ``errors`` lists fields
    ├── Unauthorized       401  no key, or an unknown or revoked one
    ├── Forbidden          403  the key lacks the scope (e.g. a search key on /v1/admin)
    ├── NotFound           404  unknown article, job or search_id — or no such endpoint
    ├── Conflict           409  a build is already running; ``job_id`` names it
    ├── PayloadTooLarge    413  the request body is over the server's limit
    ├── RateLimited        429  too many requests; ``retry_after`` seconds (or None)
    ├── ServerError        5xx  the server failed or has no index yet (503)
    └── ConnectionFailed        the server could not be reached, or timed out
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class DeskmateError(Exception):
    """A Deskmate API call failed; the message is the server's ``detail``."""

    def __init__(self, detail: str, *, status: int | None = None, type: str = "",
                 title: str = "", problem: Mapping[str, Any] | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.type = type
        self.title = title
        self.problem: Mapping[str, Any] = problem or {}
        self.request_id = request_id

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.status or ''} {self.title}: {self.detail}{where}".strip()


class ValidationFailed(DeskmateError):
    @property
    def errors(self) -> list[dict[str, Any]]:
        """Per-field problems: ``{"loc": [...], "msg": "..."}`` (when the server lists them)."""
        errors = self.problem.get("errors", [])
        return list(errors) if isinstance(errors, list) else []


class Unauthorized(DeskmateError):
    pass


class Forbidden(DeskmateError):
    pass


class NotFound(DeskmateError):
    pass


class Conflict(DeskmateError):
    @property
    def job_id(self) -> str | None:
        """The running build's job id."""
        job_id = self.problem.get("job_id")
        return str(job_id) if job_id is not None else None


class PayloadTooLarge(DeskmateError):
    pass


class RateLimited(DeskmateError):
    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after
        """Seconds to wait before retrying (the ``Retry-After`` header), None if not sent."""


class ServerError(DeskmateError):
    pass


class ConnectionFailed(DeskmateError):
    pass


_BY_STATUS: dict[int, type[DeskmateError]] = {
    400: ValidationFailed, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: PayloadTooLarge, 422: ValidationFailed, 429: RateLimited,
}


def error_from_response(response: httpx.Response) -> DeskmateError:
    """The typed error for a failed response (problem+json, or any other body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    problem: dict[str, Any] = body if isinstance(body, dict) else {}
    detail = str(problem.get("detail") or response.text[:500] or response.reason_phrase)
    kwargs: dict[str, Any] = {
        "status": response.status_code, "type": str(problem.get("type", "")),
        "title": str(problem.get("title") or response.reason_phrase), "problem": problem,
        "request_id": response.headers.get("x-request-id"),
    }
    if response.status_code == 429:
        return RateLimited(detail, retry_after=_seconds(response.headers.get("retry-after")),
                           **kwargs)
    cls = _BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else DeskmateError
    return cls(detail, **kwargs)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: Deskmate sends seconds, a proxy might not


def connection_failed(exc: httpx.TransportError, url: str) -> ConnectionFailed:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return ConnectionFailed(f"the request to {url} {kind}: {exc}; check the base URL and that "
                            "Deskmate is running")
