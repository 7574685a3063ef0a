"""The BM25 index: Lucene-style scoring over a sparse term matrix, saved as plain arrays.

Built here rather than with bm25s: indexing 25k chunks took bm25s 1.4 s even from
token ids, which alone broke the 2-second budget for publishing one edited article
on a 10k-article KB. This builds the same Lucene BM25 weights with numpy/scipy in a
fraction of that, loads with mmap, and scores a query by summing term columns.

Top-k retrieval does not score every chunk. Each long posting list is also stored in
impact order (highest BM25 weight first), and :meth:`LexicalIndex.top` runs a batched
threshold algorithm over those lists: take the first ``depth`` postings of every query
term, score those candidates exactly, and stop once the k-th best score beats the most
any unseen chunk could reach (the sum of each list's next weight). Common words ("how",
"the", "jak") have long lists but small weights, so a few hundred postings of each
usually settle the top 100 — at 100k chunks a tenth of a millisecond where scoring every
chunk took 1.8 ms (bench/scale.py).

When the rounds cannot settle it (several common terms of nearly flat weights), the k-th
best score a round found is still a floor under the final k-th, and MaxScore finishes:
the lists whose best weights add up to less than that floor cannot put a chunk in the top
k on their own, so only the other lists are scored in full, and the floor's lists are
looked up for the chunks that can still reach it. At 1M chunks this took BM25's p99 from
~31 to ~16 ms (bench/RESULTS.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from indexer.analyze import Analyzer
from indexer.errors import SnapshotError
from indexer.typos import TypoTable

if TYPE_CHECKING:
    from scipy import sparse

K1 = 1.5
B = 0.75
_ARRAYS = ("data", "indices", "indptr", "impact_docs", "impact_data", "impact_ptr")
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
class _Impacts:
    """Long posting lists re-sorted by weight, highest first (CSC-like: ``ptr`` per column)."""

    docs: npt.NDArray[np.int32]
    data: npt.NDArray[np.float32]
    ptr: npt.NDArray[np.int64]


class LexicalIndex:
    """BM25 weights per (term, chunk) in CSC form, plus each language's vocabulary."""

    def __init__(self, vocab: list[str], data: npt.NDArray[np.float32],
                 indices: npt.NDArray[np.int32], indptr: npt.NDArray[np.int64], size: int,
                 vocab_by_lang: dict[str, frozenset[str]], impacts: _Impacts | None = None,
                 typos: TypoTable | None = None) -> None:
        self._terms = vocab
        self._vocab = {term: column for column, term in enumerate(vocab)}
        self._data, self._indices, self._indptr = data, indices, indptr
        self._impacts = impacts or _impact_order(data, indices, indptr)
        self._idfs = _idf(np.diff(indptr).astype(np.float64), size)
        self.size = size
        self.vocab_by_lang = vocab_by_lang
        self._typos = typos
        self._typos_lock = threading.Lock()

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]], langs: Sequence[str]) -> LexicalIndex:
        """Index documents given as term lists, each in the language at the same position."""
        vocab: dict[str, int] = {}
        ids = [term_ids(doc, vocab) for doc in documents]
        return cls.from_term_ids(ids, list(vocab), langs)

    @classmethod
    def from_term_ids(cls, documents: Sequence[npt.NDArray[np.int32]], vocab: Sequence[str],
                      langs: Sequence[str]) -> LexicalIndex:
        """Index documents given as ids into ``vocab`` (terms no document uses are dropped)."""
        from scipy import sparse  # only builds need it: importing it costs the service's start 0.2 s
        lengths = np.fromiter((len(doc) for doc in documents), dtype=np.int64,
                              count=len(documents))
        columns = np.concatenate(documents) if documents else np.zeros(0, dtype=np.int32)
        rows = np.repeat(np.arange(len(documents), dtype=np.int32), lengths)
        counts = sparse.csc_matrix((np.ones(len(columns), dtype=np.float32), (rows, columns)),
                                   shape=(len(documents), len(vocab)))
        counts.sum_duplicates()
        used = np.flatnonzero(np.diff(counts.indptr))
        counts = counts[:, used]
        terms = [vocab[i] for i in used.tolist()]
        new_column = np.full(len(vocab), -1, dtype=np.int64)
        new_column[used] = np.arange(len(used))
        names = sorted(set(langs))
        code = {lang: n for n, lang in enumerate(names)}
        row_langs = np.repeat(np.fromiter((code[lang] for lang in langs), dtype=np.int16,
                                          count=len(langs)), lengths)
        by_lang = {}
        for n, lang in enumerate(names):
            present = np.unique(new_column[columns[row_langs == n]]).tolist()
            by_lang[lang] = frozenset(terms[i] for i in present)
        return cls(terms, _bm25_weights(counts, lengths), counts.indices.astype(np.int32),
                   counts.indptr.astype(np.int64), len(documents), by_lang)

    @classmethod
    def from_texts(cls, texts: Sequence[str], langs: Sequence[str],
                   analyzer: Analyzer) -> LexicalIndex:
        """Analyze each text in its language, then index."""
        return cls.build([analyzer.terms(t, lang) for t, lang in zip(texts, langs, strict=True)],
                         langs)

    def save(self, directory: Path) -> None:
        folder = directory / "bm25"
        folder.mkdir()
        impacts = self._impacts
        arrays: tuple[npt.NDArray[np.generic], ...] = (
            self._data, self._indices, self._indptr, impacts.docs, impacts.data, impacts.ptr)
        for name, array in zip(_ARRAYS, arrays, strict=True):
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        self._typo_table().save(folder)
        meta = {"size": self.size, "k1": K1, "b": B, "vocab": self._terms,
                "languages": {lang: sorted(terms) for lang, terms in self.vocab_by_lang.items()}}
        (folder / "terms.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        folder = directory / "bm25"
        try:
            # Plain ndarray views of the maps: slicing a np.memmap costs a Python call each.
            arrays = [np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False))
                      for name in _ARRAYS]
            meta = json.loads((folder / "terms.json").read_text("utf-8"))
            typos = TypoTable.load(folder)
            if typos is not None and len(typos.columns) and typos.columns.max() >= len(meta["vocab"]):
                raise ValueError("the typo table names terms the vocabulary does not have")
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"cannot read the BM25 index in {directory}: {exc}") from exc
        languages = {lang: frozenset(terms) for lang, terms in meta["languages"].items()}
        # A snapshot saved before the typo table was stored builds it on first use.
        return cls(meta["vocab"], arrays[0], arrays[1], arrays[2], meta["size"], languages,
                   _Impacts(arrays[3], arrays[4], arrays[5]), typos)

    def known(self, terms: Iterable[str]) -> list[str]:
        """The terms that occur somewhere in the index."""
        return [term for term in terms if term in self._vocab]

    def _column_span(self, column: int) -> slice:
        """Where one column's postings lie in ``indices`` and ``data``."""
        return slice(int(self._indptr[column]), int(self._indptr[column + 1]))

    def _columns(self, terms: Iterable[str]) -> list[int]:
        """The columns of the indexed ones among ``terms``, each once, in order."""
        return list(dict.fromkeys(c for t in terms if (c := self._vocab.get(t)) is not None))

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term (0 when unknown), as Lucene BM25 defines it."""
        column = self._vocab.get(term)
        return 0.0 if column is None else float(self._idfs[column])

    @property
    def max_idf(self) -> float:
        """The IDF of a term found in a single document."""
        return float(_idf(np.float64(1), self.size))

    def scores(self, terms: list[str], mask: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk; chunks outside ``mask`` score 0."""
        scores = self._totals(self._columns(terms)).astype(np.float32)
        if mask is not None:
            scores[~mask] = 0
        return scores

    def _totals(self, column_list: list[int]) -> npt.NDArray[np.float64]:
        """Every chunk's summed weight in the given lists."""
        # A chunk occurs once in a list, so each list adds into the scores by fancy index,
        # reading its slice in place: half the time of gathering every posting first and
        # counting them (14 -> 7.6 ms for four lists of 1.7M postings at 1M chunks).
        totals = np.zeros(self.size, dtype=np.float64)
        for column in column_list:
            span = self._column_span(column)
            totals[self._indices[span]] += self._data[span]
        return totals

    def contains(self, term: str, documents: npt.NDArray[np.int64]) -> bool:
        """Whether ``term`` occurs in any of ``documents`` (positions, sorted ascending)."""
        column = self._vocab.get(term)
        if column is None or not len(documents):
            return False
        first, last = int(documents[0]), int(documents[-1])
        if last - first == len(documents) - 1:  # a run of positions, like an article's chunks
            postings = self._indices[self._column_span(column)]
            start = int(postings.searchsorted(first))
            return start < len(postings) and int(postings[start]) <= last
        return bool(self._weights(column, documents).any())

    def top(self, terms: Sequence[str], n: int,
            mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.int64]:
        """The ``n`` best chunks for ``terms`` by BM25 (ties: lower position first),
        among those ``mask`` allows; only chunks with a positive score.

        Exact: the chunks of ranking every chunk by :meth:`scores` (up to float rounding
        of near-equal scores).
        """
        columns = self._columns(terms)
        if not columns or n <= 0:
            return np.zeros(0, dtype=np.int64)
        depth, floor = max(n, IMPACT_MIN), 0.0
        while depth * len(columns) <= EXHAUSTIVE_SHARE * self.size:
            found, floor = self._threshold_round(columns, depth, n, mask)
            if found is not None:
                return found
            depth *= 4
            essential_postings = sum(map(self._length, self._split(columns, floor)[0]))
            next_round = sum(min(depth, self._length(c)) for c in columns)
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
            scores[missing] += self._weights(column, candidates[keep][missing])
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
            span = self._column_span(essential[0])
            chunks = self._indices[span].astype(np.int64)
            scores = self._data[span].astype(np.float64)
            if mask is not None:
                allowed = mask[chunks]
                chunks, scores = chunks[allowed], scores[allowed]
        else:
            totals = self._totals(essential)
            if mask is not None:
                totals[~mask] = 0
            chunks = np.flatnonzero(totals > 0)
            scores = totals[chunks]
        reach = list(accumulate(bound for bound, _ in bounded))  # what the first i+1 add at most
        for at in reversed(range(len(bounded))):
            keep = scores + reach[at] >= floor
            chunks, scores = chunks[keep], scores[keep]
            scores += self._weights(bounded[at][1], chunks)
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
        start, stop = int(self._impacts.ptr[column]), int(self._impacts.ptr[column + 1])
        if stop > start:  # stored by weight: the first is the best
            return float(self._impacts.data[start])
        return float(self._data[self._column_span(column)].max())

    def _length(self, column: int) -> int:
        return int(self._indptr[column + 1] - self._indptr[column])

    def _prefix(self, column: int, depth: int) -> tuple[npt.NDArray[np.int32],
                                                        npt.NDArray[np.float32], float]:
        """The first ``depth`` postings of a list by weight, their weights, and the most a
        later posting weighs (0 when the whole list was read)."""
        start, stop = int(self._impacts.ptr[column]), int(self._impacts.ptr[column + 1])
        if stop - start > depth:
            end = start + depth
            return (self._impacts.docs[start:end], self._impacts.data[start:end],
                    float(self._impacts.data[end]))
        if stop > start:
            return self._impacts.docs[start:stop], self._impacts.data[start:stop], 0.0
        span = self._column_span(column)  # a short list: not stored by weight
        return self._indices[span], self._data[span], 0.0

    def _weights(self, column: int, documents: npt.NDArray[np.int32] | npt.NDArray[np.int64],
                 ) -> npt.NDArray[np.float32]:
        """Each document's weight in one list (0 where the term does not occur)."""
        span = self._column_span(column)
        return _lookup(self._indices[span], self._data[span], documents)

    def corrections(self, term: str) -> list[str]:
        """Indexed terms one edit away from an unknown term (typo tolerance; see
        `indexer.typos`): insertions, deletions, substitutions, transpositions. Terms under
        5 characters, and first letters, are never corrected."""
        return self._typo_table().corrections(term, self._terms)

    @property
    def corrections_ready(self) -> bool:
        """Whether the table behind :meth:`corrections` is there yet."""
        return self._typos is not None

    def prepare_corrections(self) -> None:
        """Build the table behind :meth:`corrections` now rather than on first use.

        A snapshot stores the table (the build computes it), so this only builds it for
        one saved before that. Building is pure Python over the whole vocabulary, holding
        the GIL: 10–30 ms for the sample KB's and a 10k-chunk KB's vocabularies, ~1.3 s
        for 200k terms. Done in the first search that needs a correction, it would stall
        that search and every other.
        """
        self._typo_table()

    def _typo_table(self) -> TypoTable:
        with self._typos_lock:
            if self._typos is None:
                self._typos = TypoTable.build(self._terms)
            return self._typos


def term_ids(terms: Sequence[str], vocab: dict[str, int]) -> npt.NDArray[np.int32]:
    """Ids of ``terms`` in ``vocab``, adding the new ones."""
    return np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), dtype=np.int32,
                       count=len(terms))


def _idf(df: npt.NDArray[np.float64] | np.float64, size: int) -> npt.NDArray[np.float64]:
    return np.asarray(np.log(1 + (size - df + 0.5) / (df + 0.5)))


def _bm25_weights(counts: sparse.csc_matrix, lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Lucene BM25 weight of every stored (chunk, term) frequency."""
    size = counts.shape[0]
    document_frequency = np.diff(counts.indptr).astype(np.float64)
    idf = np.repeat(_idf(document_frequency, size), np.diff(counts.indptr))
    average = float(lengths.mean()) if size else 1.0
    norm = K1 * (1 - B + B * lengths[counts.indices] / max(average, 1e-9))
    tf = counts.data.astype(np.float64)
    weights: npt.NDArray[np.float32] = (idf * tf / (tf + norm)).astype(np.float32)
    return weights


def _impact_order(data: npt.NDArray[np.float32], indices: npt.NDArray[np.int32],
                  indptr: npt.NDArray[np.int64]) -> _Impacts:
    """The postings of every list longer than IMPACT_MIN, each list by weight descending
    (ties: lower position first)."""
    lengths = np.diff(indptr)
    long = lengths > IMPACT_MIN
    ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.where(long, lengths, 0))
    if not long.any():
        return _Impacts(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), ptr)
    positions = np.flatnonzero(np.repeat(long, lengths))
    columns = np.repeat(np.flatnonzero(long), lengths[long]).astype(np.int64)
    # One int64 key per posting: the column, then the weight descending (a positive
    # float32's bits sort like its value). A stable sort keeps each list's position order
    # among equal weights, and is ten times faster than np.lexsort here.
    weight_bits = np.asarray(data[positions], dtype=np.float32).view(np.uint32)
    key = (columns << 32) | (np.uint32(0xFFFFFFFF) - weight_bits).astype(np.int64)
    order = positions[np.argsort(key, kind="stable")]
    return _Impacts(np.asarray(indices[order], dtype=np.int32),
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
