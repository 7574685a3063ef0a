"""BM25's posting lists, and their exact top k without scoring every chunk.

Each long posting list is also stored in impact order (highest BM25 weight first), and
:meth:`Postings.top` runs a batched threshold algorithm over those lists: take the first
``depth`` postings of every query term, score those candidates exactly, and stop once the
k-th best score beats the most any unseen chunk could reach (the sum of each list's next
weight). Common words ("how", "the", "jak") have long lists but small weights, so a few
hundred postings of each usually settle the top 100 — at 100k chunks a tenth of a
millisecond where scoring every chunk took 1.8 ms (bench/scale.py).

When the rounds cannot settle it (several common terms of nearly flat weights), the k-th
best score a round found is still a floor under the final k-th, and MaxScore finishes:
the lists whose best weights add up to less than that floor cannot put a chunk in the top
k on their own, so only the other lists are scored in full, and the floor's lists are
looked up for the chunks that can still reach it. At 1M chunks this took BM25's p99 from
~31 to ~16 ms (bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np
import numpy.typing as npt

IMPACT_MIN = 256
"""Posting lists longer than this are also stored in impact order; shorter ones are
always read whole, so the first round's depth is at least this."""
EXHAUSTIVE_SHARE = 0.125
"""Once the threshold algorithm would read more than this share of the index's chunks
per query term, scoring every chunk is cheaper."""
MAX_SCORE_RATIO = 16
"""The rounds stop once MaxScore would read at most this many postings per posting of
the next round: MaxScore adds its postings in place, a round sorts and merges its own."""


@dataclass(frozen=True, slots=True)
class Impacts:
    """Long posting lists re-sorted by weight, highest first (CSC-like: ``ptr`` per column)."""

    docs: npt.NDArray[np.int32]
    data: npt.NDArray[np.float32]
    ptr: npt.NDArray[np.int64]


class Postings:
    """One list per term (a CSC column): its chunks by position and their BM25 weights,
    plus the long lists by weight."""

    def __init__(self, data: npt.NDArray[np.float32], indices: npt.NDArray[np.int32],
                 indptr: npt.NDArray[np.int64], size: int, impacts: Impacts | None = None) -> None:
        self.data, self.indices, self.indptr = data, indices, indptr
        self.impacts = impacts or _impact_order(data, indices, indptr)
        self.size = size

    def span(self, column: int) -> slice:
        """Where one list's postings lie in ``indices`` and ``data``."""
        return slice(int(self.indptr[column]), int(self.indptr[column + 1]))

    def length(self, column: int) -> int:
        """How many postings one list has."""
        return int(self.indptr[column + 1] - self.indptr[column])

    def totals(self, columns: list[int]) -> npt.NDArray[np.float64]:
        """Every chunk's summed weight in the given lists."""
        # A chunk occurs once in a list, so each list adds into the scores by fancy index,
        # reading its slice in place: half the time of gathering every posting first and
        # counting them (14 -> 7.6 ms for four lists of 1.7M postings at 1M chunks).
        totals = np.zeros(self.size, dtype=np.float64)
        for column in columns:
            span = self.span(column)
            totals[self.indices[span]] += self.data[span]
        return totals

    def weights(self, column: int, documents: npt.NDArray[np.int32] | npt.NDArray[np.int64],
                ) -> npt.NDArray[np.float32]:
        """Each document's weight in one list (0 where the term does not occur)."""
        span = self.span(column)
        return _lookup(self.indices[span], self.data[span], documents)

    def has_any(self, column: int, documents: npt.NDArray[np.int64]) -> bool:
        """Whether one list holds any of ``documents`` (positions, sorted ascending)."""
        if not len(documents):
            return False
        first, last = int(documents[0]), int(documents[-1])
        if last - first == len(documents) - 1:  # a run of positions, like an article's chunks
            postings = self.indices[self.span(column)]
            start = int(postings.searchsorted(first))
            return start < len(postings) and int(postings[start]) <= last
        return bool(self.weights(column, documents).any())

    def top(self, columns: list[int], n: int,
            mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.int64]:
        """The ``n`` best chunks by their summed weight in ``columns`` (each once; ties:
        lower position first), among those ``mask`` allows; only chunks with a positive
        score.

        Exact: the chunks of ranking every chunk by :meth:`totals` (up to float rounding
        of near-equal scores).
        """
        if not columns or n <= 0:
            return np.zeros(0, dtype=np.int64)
        depth, floor = max(n, IMPACT_MIN), 0.0
        while depth * len(columns) <= EXHAUSTIVE_SHARE * self.size:
            found, floor = self._threshold_round(columns, depth, n, mask)
            if found is not None:
                return found
            depth *= 4
            essential_postings = sum(map(self.length, self._split(columns, floor)[0]))
            next_round = sum(min(depth, self.length(c)) for c in columns)
            if essential_postings <= MAX_SCORE_RATIO * next_round:
                break
        return self._max_score(columns, n, mask, floor)

    def _threshold_round(self, columns: list[int], depth: int, n: int,
                         mask: npt.NDArray[np.bool_] | None,
                         ) -> tuple[npt.NDArray[np.int64] | None, float]:
        """The top ``n`` from the first ``depth`` postings of each list by weight, or None
        when a chunk outside them could still be among the top ``n``; and a floor under
        the ``n``-th best score (0 when not known)."""
        prefixes = [self._prefix(column, depth) for column in columns]
        candidates, inverse = np.unique(np.concatenate([docs for docs, _, _ in prefixes]),
                                        return_inverse=True)
        known = np.bincount(inverse, np.concatenate([w for _, w, _ in prefixes]),
                            minlength=len(candidates)).astype(np.float64, copy=False)
        upper, offset = known.copy(), 0
        partial: list[tuple[int, npt.NDArray[np.bool_]]] = []  # lists not read whole
        for column, (docs, _, rest) in zip(columns, prefixes, strict=True):
            if rest > 0:  # a chunk not seen in this list's prefix may still weigh ``rest``
                unseen = np.ones(len(candidates), dtype=bool)
                unseen[inverse[offset:offset + len(docs)]] = False
                upper[unseen] += rest
                partial.append((column, unseen))
            offset += len(docs)
        keep = np.ones(len(candidates), dtype=bool) if mask is None else mask[candidates]
        outside = sum(rest for _, _, rest in prefixes)  # the best a chunk in no prefix scores
        if outside > 0 and np.count_nonzero(keep) < n:
            return None, 0.0
        if np.count_nonzero(keep) > n:  # what cannot reach the n-th known score drops out
            keep &= upper >= _kth(known[keep], n)
        scores = known[keep]
        for column, unseen in partial:  # complete the survivors' scores
            missing = unseen[keep]
            scores[missing] += self.weights(column, candidates[keep][missing])
        # With a chunk unseen there are n exact scores here, and the n-th best is no lower.
        floor = _kth(scores, n) if outside > 0 else 0.0
        if outside == 0 or floor > outside:
            return _best(candidates[keep].astype(np.int64), scores, n), floor
        return None, floor

    def _max_score(self, columns: list[int], n: int, mask: npt.NDArray[np.bool_] | None,
                   floor: float) -> npt.NDArray[np.int64]:
        """The top ``n`` by MaxScore, given a floor under the ``n``-th best score: every
        chunk of the essential lists is scored, then the bounded lists, highest bound
        first, add their weights to the chunks that can still reach the floor."""
        essential, bounded = self._split(columns, floor)
        if len(essential) == 1:  # its postings as they lie: no array of every chunk to fill
            span = self.span(essential[0])
            chunks = self.indices[span].astype(np.int64)
            scores = self.data[span].astype(np.float64)
            if mask is not None:
                allowed = mask[chunks]
                chunks, scores = chunks[allowed], scores[allowed]
        else:
            totals = self.totals(essential)
            if mask is not None:
                totals[~mask] = 0
            chunks = np.flatnonzero(totals > 0)
            scores = totals[chunks]
        reach = list(accumulate(bound for bound, _ in bounded))  # what the first i+1 add at most
        for at in reversed(range(len(bounded))):
            keep = scores + reach[at] >= floor
            chunks, scores = chunks[keep], scores[keep]
            scores += self.weights(bounded[at][1], chunks)
        return _best(chunks, scores.astype(np.float32), n)

    def _split(self, columns: list[int], floor: float) -> tuple[list[int], list[tuple[float, int]]]:
        """The essential lists, and the bounded ones with their best weights (lowest
        first): together these weigh less than ``floor``, so a chunk in no essential list
        scores below it and is not among the top n."""
        by_bound = sorted((self._best_weight(column), column) for column in columns)
        total, bounded = 0.0, []
        for bound, column in by_bound:
            if total + bound >= floor:
                break
            total += bound
            bounded.append((bound, column))
        return [column for _, column in by_bound[len(bounded):]], bounded

    def _best_weight(self, column: int) -> float:
        start, stop = int(self.impacts.ptr[column]), int(self.impacts.ptr[column + 1])
        if stop > start:  # stored by weight: the first is the best
            return float(self.impacts.data[start])
        return float(self.data[self.span(column)].max())

    def _prefix(self, column: int, depth: int) -> tuple[npt.NDArray[np.int32],
                                                        npt.NDArray[np.float32], float]:
        """The first ``depth`` postings of a list by weight, their weights, and the most a
        later posting weighs (0 when the whole list was read)."""
        start, stop = int(self.impacts.ptr[column]), int(self.impacts.ptr[column + 1])
        if stop - start > depth:
            end = start + depth
            return (self.impacts.docs[start:end], self.impacts.data[start:end],
                    float(self.impacts.data[end]))
        if stop > start:
            return self.impacts.docs[start:stop], self.impacts.data[start:stop], 0.0
        span = self.span(column)  # a short list: not stored by weight
        return self.indices[span], self.data[span], 0.0


def _impact_order(data: npt.NDArray[np.float32], indices: npt.NDArray[np.int32],
                  indptr: npt.NDArray[np.int64]) -> Impacts:
    """The postings of every list longer than IMPACT_MIN, each list by weight descending
    (ties: lower position first)."""
    lengths = np.diff(indptr)
    long = lengths > IMPACT_MIN
    ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.where(long, lengths, 0))
    if not long.any():
        return Impacts(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), ptr)
    positions = np.flatnonzero(np.repeat(long, lengths))
    columns = np.repeat(np.flatnonzero(long), lengths[long]).astype(np.int64)
    # One int64 key per posting: the column, then the weight descending (a positive
    # float32's bits sort like its value). A stable sort keeps each list's position order
    # among equal weights, and is ten times faster than np.lexsort here.
    weight_bits = np.asarray(data[positions], dtype=np.float32).view(np.uint32)
    key = (columns << 32) | (np.uint32(0xFFFFFFFF) - weight_bits).astype(np.int64)
    order = positions[np.argsort(key, kind="stable")]
    return Impacts(np.asarray(indices[order], dtype=np.int32),
                   np.asarray(data[order], dtype=np.float32), ptr)


def _lookup(postings: npt.NDArray[np.int32], weights: npt.NDArray[np.float32],
            documents: npt.NDArray[np.int32] | npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Each document's weight in one posting list (0 where it does not occur)."""
    at = np.minimum(np.searchsorted(postings, documents), len(postings) - 1)
    found = postings[at] == documents
    return np.where(found, weights[at], np.float32(0))


def _kth(scores: npt.NDArray[np.floating[Any]], n: int) -> float:
    return float(np.partition(scores, len(scores) - n)[len(scores) - n])


def _best(documents: npt.NDArray[np.int64], scores: npt.NDArray[np.floating[Any]],
          n: int) -> npt.NDArray[np.int64]:
    """The ``n`` highest-scoring documents, best first, ties by position."""
    if len(scores) > n:
        keep = np.argpartition(-scores, n - 1)[:n]
        threshold = scores[keep].min()
        keep = np.flatnonzero(scores >= threshold)  # every tie at the cut, then sort
        documents, scores = documents[keep], scores[keep]
    order = np.lexsort((documents, -scores))[:n]
    return np.asarray(documents[order], dtype=np.int64)
