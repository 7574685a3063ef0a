"""``create_app``: the FastAPI application, with the model and index loaded once."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.deps import ServiceState
from app.errors import install_error_handlers
from app.routes import articles, health, pages, search
from app.search import SearchConfig, Searcher
from app.settings import Settings
from indexer.embed import Encoder, load_encoder
from indexer.errors import SnapshotError
from indexer.snapshot import load_snapshot

logger = logging.getLogger(__name__)

VERSION = "0.1.0"


def search_config(settings: Settings) -> SearchConfig:
    return SearchConfig(
        candidates=settings.candidates, rrf_k=settings.rrf_k,
        dense_weight=settings.dense_weight, lexical_weight=settings.lexical_weight,
        uncovered_dense_weight=settings.uncovered_dense_weight,
        language_dense_weights=settings.language_dense_weights,
        min_similarity=settings.min_similarity, min_coverage=settings.min_coverage,
        snippet_chars=settings.snippet_chars, default_lang=settings.default_lang,
    )


def load_searcher(settings: Settings, encoder: Encoder) -> Searcher:
    """The Searcher over the published snapshot.

    Raises:
        SnapshotError: nothing is published or it cannot be read.
        ModelMismatch: the snapshot was built with another model.
    """
    snapshot = load_snapshot(settings.index_path)
    return Searcher(snapshot, encoder, search_config(settings))


def create_app(settings: Settings, *, encoder: Encoder | None = None) -> FastAPI:
    """Build the service. Loads the model (unless given) and the published index now.

    With no index published yet the service still starts, answering 503 until one is.

    Raises:
        ModelMismatch: the published index was built with another model.
    """
    encoder = encoder or load_encoder(settings.model_spec(serving=True))
    state = ServiceState(settings, encoder, None)
    try:
        state.searcher = load_searcher(settings, encoder)
    except SnapshotError as exc:
        state.not_ready_reason = str(exc)
        logger.warning("service starts without an index: %s", exc)
    app = FastAPI(
        title="Deskmate",
        version=VERSION,
        summary="Hybrid search over a support team's multilingual knowledge base.",
    )
    app.state.deskmate = state
    install_error_handlers(app)
    for module in (search, articles, health, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app
