"""``create_app``: the FastAPI application, with the model and index loaded once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from app.activity import SearchActivity
from app.analytics import normalize_query
from app.auth import Authenticator, RateLimiter, check_startup
from app.deps import ServiceState
from app.errors import install_error_handlers
from app.gaps import MissedQueries, QueryVectors
from app.jobs import JobRunner
from app.live import LiveIndex
from app.metrics import Metrics
from app.middleware import RequestMiddleware
from app.routes import admin, analytics, articles, feedback, health, pages, search, suggest
from app.search import SearchConfig, Searcher
from app.searchlog import HelpfulRates, SearchLog
from app.settings import Settings
from app.store import Store
from app.worker import BuildRequest
from indexer.build import BuildOptions
from indexer.dense import set_search_threads
from indexer.embed import Encoder, load_encoder
from indexer.errors import SnapshotError
from indexer.snapshot import load_snapshot

logger = logging.getLogger(__name__)

VERSION = "0.1.0"
SEARCH_THREADS = 16
"""Searches answered at once; more wait for a thread (the GIL limits what more would add)."""
GAP_ENCODE_QUIET_SECONDS = 0.02
"""How long no search must have run before a logged query is encoded for the content gaps."""


def search_config(settings: Settings) -> SearchConfig:
    return SearchConfig(
        candidates=settings.candidates, rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight, lexical_weight=settings.lexical_weight,
        uncovered_dense_weight=settings.uncovered_dense_weight,
        language_dense_weights=settings.language_dense_weights,
        min_similarity=settings.min_similarity, min_coverage=settings.min_coverage,
        snippet_chars=settings.snippet_chars, default_lang=settings.default_lang,
        feedback_boost=settings.feedback_boost,
    )


def load_searcher(settings: Settings, encoder: Encoder) -> Searcher:
    """The Searcher over the published snapshot (for the CLI and benchmarks).

    Raises:
        SnapshotError: nothing is published or it cannot be read.
        ModelMismatch: the snapshot was built with another model.
    """
    return Searcher(load_snapshot(settings.index_path), encoder, search_config(settings))


def build_request(settings: Settings) -> BuildRequest:
    """What the build worker needs, from the settings."""
    options = BuildOptions(settings.default_lang, settings.max_article_bytes,
                           settings.chunk_tokens, settings.overlap_tokens, settings.batch_size,
                           settings.keep_snapshots, settings.dense_exact_max)
    return BuildRequest(settings.kb_dir, settings.index_path, settings.cache_path,
                        settings.model_spec(serving=False), options, settings.log_level.upper())


def create_app(settings: Settings, *, encoder: Encoder | None = None) -> FastAPI:
    """Build the service. Loads the model (unless given) and the published index now.

    With no index published yet the service still starts, answering 503 until one is.

    Raises:
        ModelMismatch: the published index was built with another model.
        StartupRefused: a non-loopback address without keys or explicit anonymous access.
    """
    store = Store(settings.store_url)
    store.migrate()
    check_startup(settings.host, settings.allow_anonymous, store)
    encoder = encoder or load_encoder(settings.model_spec(serving=True))
    state = _service_state(settings, store, encoder)
    app = FastAPI(title="Deskmate", version=VERSION, lifespan=_lifespan(state),
                  summary="Hybrid search over a support team's multilingual knowledge base.")
    app.state.deskmate = state
    install_error_handlers(app)
    for module in (search, suggest, articles, feedback, admin, analytics, health, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    _add_middleware(app, settings, state.metrics)
    return app


def _service_state(settings: Settings, store: Store, encoder: Encoder) -> ServiceState:
    """What the routes share: the live index, the store's users, the background workers."""
    set_search_threads(settings.encoder_threads)
    metrics = Metrics()
    live = LiveIndex(settings.index_path, encoder, search_config(settings), metrics)
    try:
        live.load()
    except SnapshotError as exc:
        live.not_ready_reason = str(exc)
        logger.warning("service starts without an index: %s", exc)
    gap_vectors = QueryVectors(store=store)
    activity = SearchActivity()
    missed = MissedQueries(gap_vectors, encoder, lambda: activity.wait_quiet(
        GAP_ENCODE_QUIET_SECONDS, timeout=5.0))

    def encode_missed(rows: list[dict[str, Any]]) -> None:
        """Queue the content-gap queries of logged searches to be encoded before the
        analytics report asks for them."""
        missed.add([normalize_query(row["query"]) for row in rows if row["no_good_match"]])

    return ServiceState(
        settings=settings, live=live, store=store,
        auth=Authenticator(store, host=settings.host, allow_anonymous=settings.allow_anonymous),
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
        jobs=JobRunner(build_request(settings), metrics=metrics,
                       on_published=lambda version: live.load(version)),
        metrics=metrics,
        search_log=SearchLog(store, mask=settings.mask_queries,
                             retention_days=settings.retention_days, on_written=encode_missed),
        helpful_rates=HelpfulRates(store),
        search_pool=ThreadPoolExecutor(max_workers=SEARCH_THREADS, thread_name_prefix="deskmate-search"),
        activity=activity,
        missed=missed,
        gap_vectors=gap_vectors,
        report_pool=ThreadPoolExecutor(max_workers=1, thread_name_prefix="deskmate-report"),
    )


def _lifespan(state: ServiceState) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the background workers with the server; stop them, then the store, after it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.live.start_polling(state.settings.reload_seconds)
        state.search_log.start()
        state.missed.start()
        yield
        state.search_log.stop()
        state.missed.stop()
        state.live.stop()
        state.jobs.close()
        state.search_pool.shutdown(wait=True)
        state.report_pool.shutdown(wait=True, cancel_futures=True)
        state.store.close()

    return lifespan


def _add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """CORS when origins are set, inside the request middleware (ids, body limits, metrics)."""
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type",
                                          "X-Request-ID", "X-Deskmate-Client"],
                           expose_headers=["X-Request-ID", "Retry-After"])
    app.add_middleware(RequestMiddleware, metrics=metrics, default_limit=settings.max_request_bytes,
                       limits={"/v1/admin/articles/": settings.max_upload_bytes,
                               "/v1/suggest": 64 * 1024})
