"""The search log: every answered search, written in batches by a background thread.

Searches only put a row on a queue, so logging never slows the search path. Feedback
is written synchronously (it is acknowledged with 201); when it arrives for a search
still on the queue, the queue is flushed first. Stored query text is masked: e-mail
addresses, phone numbers and long digit runs (order and card numbers) never reach
the database.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.store import Store
from indexer.records import Hit

logger = logging.getLogger(__name__)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{7,}\d(?![\w])")
_DIGITS = re.compile(r"\d{6,}")
_MAYBE_PERSONAL = re.compile(r"[@\d]")
"""Each pattern above needs an @ or a digit: most queries have neither, and skip all three."""
_CLIENT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


def mask_personal_data(text: str) -> str:
    """Replace e-mail addresses, phone numbers and 6+ digit runs with placeholders."""
    if _MAYBE_PERSONAL.search(text) is None:
        return text
    text = _EMAIL.sub("[email]", text)
    text = _DIGITS.sub("[number]", text)  # order and card numbers first: one unbroken run
    return _PHONE.sub("[phone]", text)


def client_kind(header: str | None) -> str:
    """The caller's ``X-Deskmate-Client`` header when sane (sidebar, zendesk…), else api."""
    value = (header or "").strip().lower()
    return value if _CLIENT.match(value) else "api"


@dataclass(frozen=True, slots=True)
class LoggedSearch:
    """What is remembered of one answered search."""

    search_id: str
    query: str
    lang: str | None
    filters: dict[str, list[str]]
    hits: Sequence[Hit]
    no_good_match: bool
    latency_ms: float
    endpoint: str
    client: str
    key_id: str | None


class SearchLog:
    """Queue + writer thread; also purges rows older than the retention period."""

    def __init__(self, store: Store, *, mask: bool, retention_days: int,
                 flush_seconds: float = 0.5, batch: int = 500,
                 on_written: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        """``on_written`` is called with each batch of rows once they are stored."""
        self._store = store
        self._on_written = on_written
        self._mask = mask
        self._retention = timedelta(days=retention_days) if retention_days > 0 else None
        self._flush_seconds = flush_seconds
        self._batch = batch
        self._queue: queue.Queue[tuple[datetime, LoggedSearch]] = queue.Queue(maxsize=100_000)
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_purge = datetime.min.replace(tzinfo=UTC)

    def record(self, search: LoggedSearch) -> None:
        """Queue a search for writing; drops it (and logs) if the queue is full.

        Only the queueing happens here: the row (masking included) is made by the writer.
        """
        with self._lock:
            self._pending.add(search.search_id)
        try:
            self._queue.put_nowait((datetime.now(UTC), search))
        except queue.Full:
            with self._lock:
                self._pending.discard(search.search_id)
            logger.error("search log queue full; search %s not logged", search.search_id)

    def _row(self, created_at: datetime, search: LoggedSearch) -> dict[str, Any]:
        return {
            "id": search.search_id, "created_at": created_at,
            "query": mask_personal_data(search.query) if self._mask else search.query,
            "lang": search.lang, "filters": search.filters,
            "results": [{"article_id": h.article.id, "rank": rank, "score": h.score}
                        for rank, h in enumerate(search.hits, start=1)],
            "top_score": search.hits[0].score if search.hits else None,
            "no_good_match": search.no_good_match, "latency_ms": round(search.latency_ms, 3),
            "endpoint": search.endpoint, "client": search.client, "key_id": search.key_id,
        }

    def logged_query(self, search_id: str) -> str | None:
        """The logged (masked) query of a search, or None if it was not logged (flushing
        it first if it is still queued)."""
        with self._lock:
            pending = search_id in self._pending
        if pending:
            self.flush()
        return self._store.search_query(search_id=search_id)

    def flush(self) -> None:
        """Write everything queued now."""
        with self._write_lock:
            rows: list[dict[str, Any]] = []
            while True:
                try:
                    rows.append(self._row(*self._queue.get_nowait()))
                except queue.Empty:
                    break
                if len(rows) >= self._batch:
                    self._write(rows)
                    rows = []
            self._write(rows)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            self._store.add_searches(rows)
        except Exception:  # the writer must survive a database hiccup
            logger.exception("could not write %d search log rows", len(rows))
        with self._lock:
            self._pending.difference_update(row["id"] for row in rows)
        if self._on_written is not None:
            try:
                self._on_written(rows)
            except Exception:  # nor may what comes after a write stop the writer
                logger.exception("handling %d written search log rows failed", len(rows))

    def purge_expired(self) -> int:
        if self._retention is None:
            return 0
        removed = self._store.purge(before=datetime.now(UTC) - self._retention)
        self._last_purge = datetime.now(UTC)
        if removed:
            logger.info("purged %d searches older than %s", removed, self._retention)
        return removed

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="deskmate-search-log",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()
            if datetime.now(UTC) - self._last_purge > timedelta(hours=1):
                try:
                    self.purge_expired()
                except Exception:
                    logger.exception("purging old search log rows failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()


class HelpfulRates:
    """Per-article helpful votes from the store, cached for a minute."""

    def __init__(self, store: Store, *, ttl_seconds: float = 60.0) -> None:
        self._store = store
        self._ttl = timedelta(seconds=ttl_seconds)
        self._votes: dict[str, tuple[int, int]] = {}
        self._loaded = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def votes(self) -> dict[str, tuple[int, int]]:
        """Article id → (helpful votes, all votes)."""
        with self._lock:
            if datetime.now(UTC) - self._loaded > self._ttl:
                self._votes = self._store.helpful_votes()
                self._loaded = datetime.now(UTC)
            return self._votes

    def invalidate(self) -> None:
        with self._lock:
            self._loaded = datetime.min.replace(tzinfo=UTC)
