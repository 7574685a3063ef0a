"""Typo tolerance for BM25: the indexed terms one edit away from an unknown query term.

Symmetric deletes: every indexed term and each of its one-character deletions is a key;
two terms are one edit apart (an insertion, deletion, substitution or transposition) when
they share a key. The keys are stored as 32-bit hashes, sorted, each beside its term's
column: 12 MB for 200k terms, where a dict of lists took 240 MB and ~2.3 s of a snapshot
load, holding the GIL. The build computes the table and saves it with the BM25 index.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

MIN_TERM = 4
"""Shortest indexed term in the table: a 5-letter typo reaches it by one deletion."""
MIN_QUERY_TERM = 5
"""Shortest query term corrected. Shorter ones, and first letters, are never corrected:
both made more wrong corrections than right ones on the dev set."""
FILES = ("typo_keys.npy", "typo_columns.npy")


@dataclass(frozen=True, slots=True)
class TypoTable:
    """Hashes of terms and their deletions, sorted, and the column of each one's term."""

    keys: npt.NDArray[np.uint32]
    columns: npt.NDArray[np.int32]

    @classmethod
    def build(cls, terms: Sequence[str]) -> TypoTable:
        """The table of a vocabulary (``terms`` by column)."""
        keys: list[int] = []
        columns: list[int] = []
        for column, term in enumerate(terms):
            if len(term) >= MIN_TERM and not term.isdigit():
                variants = _variants(term)
                keys.extend(map(_hash, variants))
                columns.extend([column] * len(variants))
        hashes = np.array(keys, dtype=np.uint32)
        order = np.argsort(hashes, kind="stable")
        return cls(hashes[order], np.array(columns, dtype=np.int32)[order])

    def save(self, folder: Path) -> None:
        for name, array in zip(FILES, (self.keys, self.columns), strict=True):
            np.save(folder / name, array, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> TypoTable | None:
        """The saved table (memory-mapped), or None for an index saved without one.

        Raises:
            OSError, ValueError: the files are unreadable.
        """
        if not (folder / FILES[0]).is_file():
            return None
        keys, columns = (np.asarray(np.load(folder / name, mmap_mode="r", allow_pickle=False))
                         for name in FILES)
        if keys.shape != columns.shape:
            raise ValueError(f"{FILES[0]} and {FILES[1]} differ in length")
        return cls(keys, columns)

    def corrections(self, term: str, terms: Sequence[str]) -> list[str]:
        """The indexed terms (``terms`` by column) one edit away from ``term``."""
        if len(term) < MIN_QUERY_TERM:
            return []
        variants = _variants(term)
        hashes = np.fromiter(map(_hash, sorted(variants)), dtype=np.uint32, count=len(variants))
        starts = np.searchsorted(self.keys, hashes, side="left").tolist()
        ends = np.searchsorted(self.keys, hashes, side="right").tolist()
        found: dict[str, None] = {}
        for start, end in zip(starts, ends, strict=True):
            for column in self.columns[start:end].tolist():
                found[terms[column]] = None
        found.pop(term, None)
        # Equal hashes are not equal keys: a candidate must share a variant with the term.
        return [candidate for candidate in found if candidate[0] == term[0]
                and not variants.isdisjoint(_variants(candidate))]


def _variants(term: str) -> set[str]:
    """The term and each way of deleting one of its characters."""
    return {term} | {term[:i] + term[i + 1:] for i in range(len(term))}


def _hash(text: str) -> int:
    """CRC-32 of the UTF-8: the same in every process (``hash()`` is not), and fast."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))
