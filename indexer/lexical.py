"""The BM25 index: Lucene-style scoring over a sparse term matrix, saved as plain arrays.

Built here rather than with bm25s: indexing 25k chunks took bm25s 1.4 s even from
token ids, which alone broke the 2-second budget for publishing one edited article
on a 10k-article KB. This builds the same Lucene BM25 weights with numpy/scipy in a
fraction of that, loads with mmap, and scores a query by summing term columns.

Top-k retrieval runs over the posting lists without scoring every chunk: see
`indexer.postings`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from indexer.analyze import Analyzer
from indexer.errors import SnapshotError
from indexer.postings import Impacts, Postings
from indexer.typos import TypoTable

if TYPE_CHECKING:
    from scipy import sparse

K1 = 1.5
B = 0.75
_ARRAYS = ("data", "indices", "indptr", "impact_docs", "impact_data", "impact_ptr")


class LexicalIndex:
    """BM25 weights per (term, chunk) in CSC form, plus each language's vocabulary."""

    def __init__(self, vocab: list[str], data: npt.NDArray[np.float32],
                 indices: npt.NDArray[np.int32], indptr: npt.NDArray[np.int64], size: int,
                 vocab_by_lang: dict[str, frozenset[str]], impacts: Impacts | None = None,
                 typos: TypoTable | None = None) -> None:
        self._terms = vocab
        self._vocab = {term: column for column, term in enumerate(vocab)}
        self.postings = Postings(data, indices, indptr, size, impacts)
        self._idfs = _idf(np.diff(indptr).astype(np.float64), size)
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
        postings, impacts = self.postings, self.postings.impacts
        arrays: tuple[npt.NDArray[np.generic], ...] = (
            postings.data, postings.indices, postings.indptr, impacts.docs, impacts.data,
            impacts.ptr)
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
                   Impacts(arrays[3], arrays[4], arrays[5]), typos)

    def known(self, terms: Iterable[str]) -> list[str]:
        """The terms that occur somewhere in the index."""
        return [term for term in terms if term in self._vocab]

    def _columns(self, terms: Iterable[str]) -> list[int]:
        """The columns of the indexed ones among ``terms``, each once, in order."""
        return list(dict.fromkeys(c for t in terms if (c := self._vocab.get(t)) is not None))

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term (0 when unknown), as Lucene BM25 defines it."""
        column = self._vocab.get(term)
        return 0.0 if column is None else float(self._idfs[column])

    @property
    def size(self) -> int:
        """Chunks in the index: the postings hold the count."""
        return self.postings.size

    @property
    def max_idf(self) -> float:
        """The IDF of a term found in a single document."""
        return float(_idf(np.float64(1), self.size))

    def scores(self, terms: list[str], mask: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk; chunks outside ``mask`` score 0."""
        scores = self.postings.totals(self._columns(terms)).astype(np.float32)
        if mask is not None:
            scores[~mask] = 0
        return scores

    def contains(self, term: str, documents: npt.NDArray[np.int64]) -> bool:
        """Whether ``term`` occurs in any of ``documents`` (positions, sorted ascending)."""
        column = self._vocab.get(term)
        return column is not None and self.postings.has_any(column, documents)

    def top(self, terms: Sequence[str], n: int,
            mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.int64]:
        """The ``n`` best chunks for ``terms`` by BM25 (ties: lower position first),
        among those ``mask`` allows; only chunks with a positive score.

        Exact: the chunks of ranking every chunk by :meth:`scores` (up to float rounding
        of near-equal scores), found without scoring every chunk (`indexer.postings`).
        """
        return self.postings.top(self._columns(terms), n, mask)

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
