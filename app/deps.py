"""Typed FastAPI dependencies: settings, the live Searcher, the caller and its scope."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.activity import SearchActivity
from app.auth import Authenticator, Principal, RateLimiter, require
from app.errors import IndexNotReady
from app.gaps import MissedQueries, QueryVectors
from app.jobs import JobRunner
from app.live import LiveIndex
from app.metrics import Metrics
from app.search import Searcher
from app.searchlog import HelpfulRates, SearchLog
from app.settings import Settings
from app.store import Scope, Store

T = TypeVar("T")


@dataclass(slots=True)
class ServiceState:
    """Everything the running service holds."""

    settings: Settings
    live: LiveIndex
    store: Store
    auth: Authenticator
    limiter: RateLimiter
    jobs: JobRunner
    metrics: Metrics
    search_log: SearchLog
    helpful_rates: HelpfulRates
    search_pool: ThreadPoolExecutor
    """Threads the search routes run the Searcher in (see :func:`in_search_thread`)."""
    activity: SearchActivity
    """What runs in ``search_pool`` now, for background work to keep out of its way."""
    missed: MissedQueries
    """Content-gap queries (no good match, or voted unhelpful) waiting to be encoded."""
    gap_vectors: QueryVectors
    """The analytics report's query embeddings, kept between reports."""
    report_pool: ThreadPoolExecutor
    """The one thread analytics reports are built in: one at a time, however many admins
    load the page, and never in the threads requests are served from."""


async def in_search_thread(state: ServiceState, work: Callable[[], T]) -> T:
    """Run CPU-bound search work off the event loop, in the service's search threads.

    The search routes use this rather than being plain ``def`` routes: a plain route runs
    each of its ``def`` dependencies, the route and the response validation in anyio's
    thread pool, one hop each; here a search makes one hop, on a bare executor.
    """
    return await asyncio.get_running_loop().run_in_executor(state.search_pool,
                                                            state.activity.run, work)


# The dependencies are ``async`` because they never block: FastAPI runs a plain ``def``
# dependency in the thread pool, and each such hop cost a search ~0.1 ms.


async def get_state(request: Request) -> ServiceState:
    return _state(request)


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.deskmate
    return state


async def get_settings(request: Request) -> Settings:
    return _state(request).settings


async def get_searcher(request: Request) -> Searcher:
    live = _state(request).live
    searcher = live.searcher  # one read: a concurrent reload swaps the whole reference
    if searcher is None:
        raise IndexNotReady(live.not_ready_reason)
    return searcher


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return request.headers.get("x-api-key", "").strip() or None


async def get_principal(request: Request) -> Principal:
    state = _state(request)
    key = presented_key(request)
    principal = state.auth.authenticate_cached(key)
    if principal is None:  # the store must be read: off the event loop
        principal = await run_in_threadpool(state.auth.authenticate, key)
    client = request.client.host if request.client else "unknown"
    state.limiter.check(principal.key_id or f"ip:{client}")
    return principal


async def search_principal(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    require(principal, Scope.SEARCH)
    return principal


@dataclass(frozen=True, slots=True)
class SearchCall:
    """Who asks and what answers: the dependencies of a search route, resolved as one."""

    principal: Principal
    searcher: Searcher
    state: ServiceState


async def search_call(request: Request) -> SearchCall:
    """One dependency instead of three (each costs FastAPI ~30 µs to solve)."""
    principal = await search_principal(await get_principal(request))
    return SearchCall(principal, await get_searcher(request), _state(request))


async def admin_principal(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    require(principal, Scope.ADMIN)
    return principal


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
SearchKeyDep = Annotated[Principal, Depends(search_principal)]
AdminKeyDep = Annotated[Principal, Depends(admin_principal)]
SearchCallDep = Annotated[SearchCall, Depends(search_call)]
