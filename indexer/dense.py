"""The dense vector index (FAISS, inner product over normalized vectors)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from indexer.errors import SnapshotError

FILE = "dense.faiss"


class DenseIndex:
    """Exact inner-product search with optional pre-filtering by a chunk mask."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index
        self.size = int(index.ntotal)
        self.dimension = int(index.d)

    @classmethod
    def build(cls, vectors: npt.NDArray[np.float32]) -> DenseIndex:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    def save(self, directory: Path) -> None:
        faiss.write_index(self._index, str(directory / FILE))

    @classmethod
    def load(cls, directory: Path) -> DenseIndex:
        try:
            return cls(faiss.read_index(str(directory / FILE)))
        except RuntimeError as exc:
            raise SnapshotError(f"cannot read the FAISS index in {directory}: {exc}") from exc

    def search(
        self, query: npt.NDArray[np.float32], n: int, mask: npt.NDArray[np.bool_] | None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top ``n`` chunks by cosine among those allowed by ``mask`` (filter before the cut).

        Returns scores and chunk positions, best first, without padding.
        """
        params = None
        if mask is not None:
            bits = _bitmap(mask)  # must outlive the search: FAISS keeps a raw pointer
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
            params = faiss.SearchParameters()
            params.sel = selector
        n = min(n, self.size)
        scores, ids = self._index.search(query.reshape(1, -1), n, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]


def _bitmap(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    return np.packbits(mask, bitorder="little")
