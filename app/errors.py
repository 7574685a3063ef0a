"""HTTP errors as RFC 9457 problem+json, rendered by one set of handlers.

Hierarchy (the base lives in :mod:`indexer.errors`)::

    DeskmateError
    ├── NotFound          404  unknown article or route
    ├── BadRequest        422  a request the API cannot answer as asked
    ├── IndexNotReady     503  no index loaded yet
    ├── Unauthorized      401  (auth) no key, or an unknown or revoked one
    ├── Forbidden         403  (auth) the key lacks the scope
    ├── RateLimited       429  (auth) too many requests; Retry-After says when to retry
    ├── Conflict          409  (jobs) a build is already running
    ├── ModelMismatch     503  (indexer) index built with another model
    └── …                      other indexer errors keep their own status
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.errors import DeskmateError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:deskmate:problem:"


class NotFound(DeskmateError):
    status = 404
    type = "not-found"
    title = "Not found"


class BadRequest(DeskmateError):
    status = 422
    type = "bad-request"
    title = "Bad request"


class IndexNotReady(DeskmateError):
    status = 503
    type = "index-not-ready"
    title = "Index not ready"


def problem(status: int, type_: str, title: str, detail: str, *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + type_, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _deskmate_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeskmateError)
    log = logger.error if exc.status >= 500 else logger.warning
    log("%s %s -> %d %s", request.method, request.url.path, exc.status, exc.detail)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="deskmate"'
    if (retry_after := getattr(exc, "retry_after", None)) is not None:
        headers["Retry-After"] = str(retry_after)
    if (job_id := getattr(exc, "job_id", None)) is not None:
        extra["job_id"] = job_id
    return problem(exc.status, exc.type, exc.title, exc.detail, headers=headers, **extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_describe(error) for error in exc.errors()]
    logger.warning("%s %s -> 422 %s", request.method, request.url.path, "; ".join(errors))
    return problem(422, "validation-error", "Invalid request", "; ".join(errors),
                   errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()])


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"] if part not in ("query", "body"))
    return f"{location or 'request'}: {error['msg']}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404:
        detail = f"no route {request.method} {request.url.path}; see /docs for the API"
    logger.warning("%s %s -> %d", request.method, request.url.path, exc.status_code)
    return problem(exc.status_code, f"http-{exc.status_code}",
                   titles.get(exc.status_code, "HTTP error"), detail)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal", "Internal error",
                   "the server failed to answer; the error was logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DeskmateError, _deskmate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
