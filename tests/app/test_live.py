"""The live index over the tiny KB's published snapshot: loads, swaps, and the heap."""

from __future__ import annotations

import gc
import weakref

from app.live import LiveIndex
from app.main import search_config
from app.metrics import Metrics
from app.search import Filters
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
        assert first() is None
        assert live.searcher is second
    finally:
        gc.unfreeze()


def test_a_searcher_still_in_use_during_a_load_is_freed_when_its_search_ends(
        deployment: Deployment, encoder: Encoder) -> None:
    settings = deployment.settings
    live = LiveIndex(settings.index_path, encoder, search_config(settings), Metrics())
    try:
        in_flight = live.load()  # a request read the reference, then a reload came
        in_flight.search("refund my order")  # its caches (snippets, filters, words) filled
        in_flight.search("zwrot pieniędzy", filters=Filters(lang=("pl",)))
        live.load()
        gone = weakref.ref(in_flight)
        # The search ends. The GC is frozen now: only reference counting can free it, so
        # a cycle through the Searcher (a cache holding its own method) would keep the
        # whole old snapshot in memory until the next load.
        del in_flight
        assert gone() is None
    finally:
        gc.unfreeze()

