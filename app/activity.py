"""What runs in the search threads now, for background work to keep out of its way.

The service has 2 cores in mind, and one search uses both (its encode beside BM25). So
work that is not a search waits for a quiet moment (:meth:`SearchActivity.wait_quiet`), or,
when an admin asked for it, steps aside often while searches run (:class:`GiveWay`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class SearchActivity:
    """Searches running in the search threads. Background work (encoding the content gaps'
    queries as they are logged) waits until there are none: those encodes raised the
    search overhead's p99 by ~1.5 ms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._last = 0.0

    def run(self, work: Callable[[], T]) -> T:
        with self._lock:
            self._running += 1
        try:
            return work()
        finally:
            with self._lock:
                self._running -= 1
                self._last = time.monotonic()

    def wait_quiet(self, quiet: float, timeout: float) -> bool:
        """Wait until no search has run for ``quiet`` seconds; False after ``timeout``.

        It looks again after ``quiet``, then twice as long each time up to half a second:
        under steady traffic the waiting thread wakes a few times a second, not fifty
        (each wake-up takes the GIL from a search)."""
        deadline, pause = time.monotonic() + timeout, quiet
        while True:
            with self._lock:
                running, last = self._running, self._last
            now = time.monotonic()
            if not running and now - last >= quiet:
                return True
            if now >= deadline:
                return False
            time.sleep(min(pause, max(deadline - now, 0.001)))
            pause = min(pause * 2, 0.5)

    def busy(self, within: float = 0.005) -> bool:
        """Whether a search is running or ended less than ``within`` seconds ago (its
        response is still being sent)."""
        return self._running > 0 or time.monotonic() - self._last < within


class GiveWay:
    """Called often from the long loops of a report: while searches are running, it
    sleeps for ``pause`` every ``every`` seconds, and a search waiting for the GIL takes
    it. Otherwise a search waits up to the interpreter's switch interval (5 ms) at each
    hand-off between its threads, and searches beside a report read p99 ~35 ms."""

    def __init__(self, activity: SearchActivity, every: float = 0.001,
                 pause: float = 0.0002) -> None:
        self.activity, self.every, self.pause = activity, every, pause
        self.pauses = 0
        self._last = time.perf_counter()

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self._last < self.every:
            return
        if self.activity.busy():
            time.sleep(self.pause)
            self.pauses += 1
        self._last = time.perf_counter()
