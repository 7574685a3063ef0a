"""The live index: the Searcher over the published snapshot, swapped whole on reload.

Requests read ``searcher`` once and keep that reference, so a reload never makes a
search wait or see half of two snapshots. A poller notices snapshots published by
`deskmate index build` in another process.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.metrics import Metrics
from app.search import SearchConfig, Searcher
from indexer.embed import Encoder
from indexer.errors import ModelMismatch, SnapshotError
from indexer.snapshot import current_version, load_snapshot

logger = logging.getLogger(__name__)

FULL_COLLECTION_EVERY = 100
"""Loads per whole-heap collection; the first load is one (see ``LiveIndex.load``)."""


class LiveIndex:
    def __init__(self, index_dir: Path, encoder: Encoder, config: SearchConfig,
                 metrics: Metrics) -> None:
        self.index_dir = index_dir
        self.encoder = encoder
        self.config = config
        self.metrics = metrics
        self.searcher: Searcher | None = None
        self.not_ready_reason = f"no index has been published in {index_dir}; run " \
                                "`deskmate index build`"
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._loads = 0

    def load(self, version: str | None = None) -> Searcher:
        """Load a snapshot (the published one by default) and make it live.

        Raises:
            SnapshotError: it cannot be read.
            ModelMismatch: it was built with another model.
        """
        # The heap is frozen after each load: a snapshot is tens of thousands of long-lived
        # objects (~60k at 20k chunks: its vocabulary and tables; records stay on disk
        # until read), and every full collection walked them all (at 10k chunks, when
        # records were objects, one search in ~1,000 stalled 100–130 ms). So the snapshot
        # replaced must be freed by reference counting alone: a Searcher holds no
        # reference cycles (see method_cache).
        # A load collects only the unfrozen part, and pauses automatic collections while it
        # reads, which walked the new objects again and again (a fifth of the load at 10k
        # chunks, holding the GIL 20–45 ms at a time). What was frozen and later died in a
        # cycle (what requests in flight held: ~80 objects a load under traffic) waits for
        # the whole-heap collection of one load in FULL_COLLECTION_EVERY (70–150 ms at 10k).
        with self._load_lock:
            whole_heap = self._loads % FULL_COLLECTION_EVERY == 0
            if not whole_heap:
                gc.collect()  # the unfrozen part: what searches left since the last load
            with _collections_paused():
                snapshot = load_snapshot(self.index_dir, version)
                searcher = Searcher(snapshot, self.encoder, self.config)
                searcher.prepare()  # not in the first searches, which would all wait for it
            self.searcher = searcher  # the swap: one reference assignment
            if whole_heap:
                gc.unfreeze()
                gc.collect()
            gc.freeze()
            self._loads += 1
        self.metrics.index_loaded(snapshot.version, self.encoder.model_id,
                                  len(snapshot.articles), len(snapshot.chunks))
        logger.info("serving snapshot %s (%d articles, %d chunks)", snapshot.version,
                    len(snapshot.articles), len(snapshot.chunks))
        return searcher

    def reload_if_changed(self) -> bool:
        """Load the published snapshot if it is not the live one; True when it swapped."""
        version = current_version(self.index_dir)
        live = self.searcher
        if version is None or (live is not None and live.snapshot.version == version):
            return False
        try:
            self.load(version)
        except (SnapshotError, ModelMismatch) as exc:
            self.not_ready_reason = str(exc)
            logger.error("not loading snapshot %s: %s", version, exc)
            return False
        return True

    def start_polling(self, interval: float) -> None:
        if interval <= 0 or self._poller is not None:
            return
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, args=(interval,),
                                        name="deskmate-index-poller", daemon=True)
        self._poller.start()

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.reload_if_changed()
            except Exception:  # the poller must outlive any one bad snapshot
                logger.exception("checking for a new snapshot failed")

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None


@contextmanager
def _collections_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
