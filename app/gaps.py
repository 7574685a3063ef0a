"""The content gaps' query embeddings: kept between reports (in memory and in the store),
and encoded ahead of a report while no search is running."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from app.store import Store
from indexer.embed import Encoder
from indexer.vector_cache import text_key

logger = logging.getLogger(__name__)


class QueryVectors:
    """Embeddings of the queries content gaps are grouped by, kept from one report to the
    next: a month's missed queries change little between two loads of the admin page, and
    they take ~1 ms each to encode (7 s for a busy team's 6,800). Bounded in memory (least
    recently used go first); with a ``store`` they are also kept there, so that the first
    report after a restart, or in another process, need not encode them again. The search's
    query cache is left alone, so a report does not evict the agents' queries.
    """

    def __init__(self, size: int = 10_000, store: Store | None = None) -> None:
        self.size = size
        self.store = store
        self._vectors: OrderedDict[str, np.ndarray[Any, Any]] = OrderedDict()
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(self, encoder: Encoder, queries: list[str]) -> np.ndarray[Any, Any]:
        """One unit vector per query, in order; only those kept nowhere are encoded."""
        with self._lock:
            if encoder is not self._encoder:  # another model: nothing kept applies
                self._vectors.clear()
                self._encoder = encoder
            kept = {q: self._vectors[q] for q in queries if q in self._vectors}
            for query in kept:
                self._vectors.move_to_end(query)
        missing = list(dict.fromkeys(q for q in queries if q not in kept))
        keys = ({q: text_key(encoder.spec.query_prompt, q) for q in missing}
                if self.store is not None else {})
        found = self._stored(encoder, keys)
        fresh = [q for q in missing if q not in found]
        found.update(zip(fresh, encoder.embed_queries(fresh, cached=False), strict=True))
        with self._lock:
            for query in missing:
                kept[query] = self._vectors[query] = found[query]
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        if self.store is not None and fresh:
            self.store.put_query_vectors(model=encoder.model_id,
                                         vectors={keys[q]: found[q].tobytes() for q in fresh})
        if not queries:
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        return np.stack([kept[q] for q in queries])

    def _stored(self, encoder: Encoder, keys: dict[str, str]) -> dict[str, np.ndarray[Any, Any]]:
        """The stored vectors of the queries in ``keys`` (query → its key)."""
        if self.store is None or not keys:
            return {}
        queries = {key: query for query, key in keys.items()}
        stored = self.store.query_vectors(model=encoder.model_id, keys=list(queries))
        vectors = {queries[k]: np.frombuffer(v, dtype=np.float32) for k, v in stored.items()}
        return {q: v for q, v in vectors.items() if v.shape == (encoder.dimension,)}


class MissedQueries:
    """Content-gap queries (no good match, or voted unhelpful) waiting to be encoded for
    the next report, in a thread of their own, a few at a time, each time ``until_quiet``
    says no search is running. On 2 cores a search already uses both (its encode beside
    BM25), and encoding these as they were logged raised the search overhead's p99 by
    ~1.5 ms. What is still waiting when a report asks is encoded by the report; the
    oldest beyond ``size`` are dropped for it.
    """

    def __init__(self, vectors: QueryVectors, encoder: Encoder, until_quiet: Callable[[], bool],
                 size: int = 10_000, batch: int = 4) -> None:
        """``until_quiet`` waits a while for a quiet moment and says whether one came."""
        self._vectors, self._encoder, self._until_quiet = vectors, encoder, until_quiet
        self._size, self._batch = size, batch
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, queries: Iterable[str]) -> None:
        with self._changed:
            for query in queries:
                self._pending[query] = None
            while len(self._pending) > self._size:
                self._pending.popitem(last=False)
            self._changed.notify()

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="deskmate-gaps", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
            if not self._until_quiet():
                continue
            with self._changed:
                batch = [self._pending.popitem(last=False)[0]
                         for _ in range(min(self._batch, len(self._pending)))]
            try:
                self._vectors.embed(self._encoder, batch)
            except Exception:  # the store or the model failed: the report will try again
                logger.exception("encoding %d content-gap queries failed", len(batch))
