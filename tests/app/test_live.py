"""The live index over the tiny KB's published snapshot: loads, swaps, and the heap."""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Iterator

import pytest

import app.live as live_module
from app.live import LiveIndex
from app.main import search_config
from app.metrics import Metrics
from app.search import Filters
from indexer.embed import Encoder
from indexer.errors import SnapshotError
from tests.conftest import Deployment


@pytest.fixture
def live(deployment: Deployment, encoder: Encoder) -> Iterator[LiveIndex]:
    """A live index over the tiny KB's snapshot; the heap is unfrozen afterwards."""
    settings = deployment.settings
    yield LiveIndex(settings.index_path, encoder, search_config(settings), Metrics())
    gc.unfreeze()


def test_a_load_freezes_the_snapshot_and_frees_the_one_it_replaces(live: LiveIndex) -> None:
    gc.unfreeze()
    gc.collect()  # what earlier tests left, which the first load would collect
    stores = _open_stores()  # other searchers' in this session
    first = weakref.ref(live.load())
    assert gc.get_freeze_count() > 0  # full collections no longer walk the snapshot
    assert _open_stores() == stores + 2  # articles.jsonl and chunks.jsonl, read when needed
    second = live.load()
    assert first() is None
    assert live.searcher is second
    assert _open_stores() == stores + 2  # the replaced snapshot's were closed


def _open_stores() -> int:
    targets = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
               if os.path.exists(f"/proc/self/fd/{fd}")]
    return sum(target.endswith(".jsonl") for target in targets)


def test_a_load_builds_the_typo_table_before_the_snapshot_goes_live(live: LiveIndex) -> None:
    searcher = live.load()
    # Built lazily, the first search with a typo would build it, and every search
    # meanwhile would wait for the GIL.
    assert searcher.snapshot.lexical.corrections_ready
    assert searcher.search("refnud").hits[0].article.id.startswith("refund")


def test_a_searcher_still_in_use_during_a_load_is_freed_when_its_search_ends(live: LiveIndex) -> None:
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


class _Node:
    """A stand-in for what a request in flight holds in a reference cycle."""

    def __init__(self, ring: list[_Node]) -> None:
        self.ring = ring


def _ring(size: int) -> tuple[list[_Node], weakref.ref[_Node]]:
    ring: list[_Node] = []
    ring.extend(_Node(ring) for _ in range(size))
    return ring, weakref.ref(ring[0])


def test_cycles_frozen_with_a_load_are_freed_by_the_whole_heap_collection_of_a_later_one(
        live: LiveIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_module, "FULL_COLLECTION_EVERY", 3)
    live.load()  # the first load collects the whole heap
    ring, probe = _ring(1000)
    live.load()  # frozen while alive (a request in flight), then dead
    del ring
    live.load()
    gc.collect()  # full collections skip the frozen heap
    assert probe() is not None
    live.load()  # the fourth: the whole heap again
    assert probe() is None


def test_a_load_that_fails_leaves_automatic_collection_on(live: LiveIndex) -> None:
    with pytest.raises(SnapshotError):
        live.load("20990101T000000000000Z-missing")  # collections are paused while it reads
    assert gc.isenabled()
