"""The live index: the Searcher over the published snapshot, swapped whole on reload.

Requests read ``searcher`` once and keep that reference, so a reload never makes a
search wait or see half of two snapshots. A poller notices snapshots published by
`deskmate index build` in another process.
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

from app.metrics import Metrics
from app.search import SearchConfig, Searcher
from indexer.embed import Encoder
from indexer.errors import ModelMismatch, SnapshotError
from indexer.snapshot import current_version, load_snapshot

logger = logging.getLogger(__name__)


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

    def load(self, version: str | None = None) -> Searcher:
        """Load a snapshot (the published one by default) and make it live.

        Raises:
            SnapshotError: it cannot be read.
            ModelMismatch: it was built with another model.
        """
        with self._load_lock:
            snapshot = load_snapshot(self.index_dir, version)
            searcher = Searcher(snapshot, self.encoder, self.config)
            self.searcher = searcher  # the swap: one reference assignment
            settle_heap()
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


def settle_heap() -> None:
    """Take what is alive now (the snapshot just loaded, the service) out of the cyclic GC.

    A snapshot is hundreds of thousands of long-lived objects (a million chunks: millions),
    and every full collection walked them all: at 10k chunks it stalled one search in
    ~1,000 by 100–130 ms. Frozen, they are skipped (full passes: 10–35 ms, over what
    searches cached since). The previous snapshot is unfrozen and collected first, once
    per load, so that its reference cycles (the Searcher's caches) do not leak.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()

