"""The live index over the tiny KB's published snapshot: loads, swaps, and the heap."""

from __future__ import annotations

import gc
import weakref

from app.live import LiveIndex
from app.main import search_config
from app.metrics import Metrics
from indexer.embed import Encoder
from tests.conftest import Deployment


def test_a_load_freezes_the_snapshot_and_frees_the_one_it_replaces(deployment: Deployment,
                                                                   encoder: Encoder) -> None:
    settings = deployment.settings
    live = LiveIndex(settings.index_path, encoder, search_config(settings), Metrics())
    try:
        first = weakref.ref(live.load())
        assert gc.get_freeze_count() > 0  # full collections no longer walk the snapshot
        second = live.load()
        # The Searcher's caches hold it in reference cycles: frozen for good, the replaced
        # snapshot would never be freed; each load unfreezes and collects it first.
        assert first() is None
        assert live.searcher is second
    finally:
        gc.unfreeze()
