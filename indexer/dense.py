"""The dense vector index (FAISS, inner product over normalized vectors).

The index type follows the size: exact search (``IndexFlatIP``) up to ``exact_max``
vectors, an inverted-file index above it. Exact search costs ~0.6 ms at 10k vectors and
~9 ms at 100k on one core; IVF keeps 1M vectors at about a few milliseconds with
recall@10 ≥ 0.98 against exact search (bench/scale.py). IVF rather than HNSW because it
builds an order of magnitude faster (100k vectors: ~9 s against ~30 s on one core) and
adds no graph to the memory of a 1M-vector index.

The IVF lists hold each vector in half precision (``IndexIVFScalarQuantizer``, fp16):
half the memory of float32 (1M vectors: 0.73 GiB instead of 1.46 GiB) and 12 % less time
per search on a Zen 1 EPYC, for the same recall@10 (0.987 at 1M; bench/RESULTS.md).
8-bit codes were faster still but fell below 0.98. Snapshots built with float32 lists
(``ivf-flat``) still load.

Training the lists (k-means) is most of an IVF build: ~110 of 160 s at 1M vectors on a
Zen 1 EPYC; adding the vectors is the rest. A rebuild of about the same vectors, such as
one edited article, reuses the last build's :class:`Centroids` and only adds the vectors,
until the vectors new since the training, or the change in size, pass
``RETRAIN_SHARE`` (5 %) of the vectors trained for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np
import numpy.typing as npt

from indexer.errors import SnapshotError

FILE = "dense.faiss"
EXACT_MAX = 50_000
"""Vectors up to which search is exact (the default of ``DESKMATE_DENSE_EXACT_MAX``)."""
TRAIN_PER_LIST = 48
"""Training vectors per IVF list (FAISS warns below 39)."""
PROBE_SHARE = 0.05
"""Share of the IVF lists a search visits before any filter widens it (recall@10 ≥ 0.99 on
clustered data at 20k–1M vectors; 1.2 % gave 0.96 at 20k)."""
RETRAIN_SHARE = 0.05
"""Share of the vectors the IVF lists were trained for that may be new since, or added or
removed, before a build trains the lists again. New chunks of topics the training never
saw cost recall (bench/scale.py; bench/RESULTS.md, "Rebuilds keep the IVF training")."""


@dataclass(frozen=True, slots=True)
class Centroids:
    """The trained, still empty IVF index of a build, for later builds to add to."""

    index: faiss.IndexIVF
    trained_for: int
    """Vectors in the build that trained it."""
    new_since: int = 0
    """Vectors new in the builds that reused it since (edited or added chunks)."""

    def fit(self, count: int, dimension: int, new: int) -> bool:
        """Whether a build of ``count`` vectors, ``new`` of them new, may reuse these."""
        limit = RETRAIN_SHARE * self.trained_for
        return (int(self.index.d) == dimension and abs(count - self.trained_for) <= limit
                and self.new_since + new <= limit)


class DenseIndex:
    """Top-k inner-product search with optional pre-filtering by a chunk mask."""

    def __init__(self, index: faiss.Index, centroids: Centroids | None = None) -> None:
        self._index = index
        self.centroids = centroids
        """The IVF lists' training, empty, when this index was built here (not loaded)."""
        self.size = int(index.ntotal)
        self.dimension = int(index.d)
        self._ivf = faiss.try_extract_index_ivf(index) if not isinstance(index, faiss.IndexFlat) else None
        self.nlist = int(self._ivf.nlist) if self._ivf is not None else 0
        self.nprobe = int(self._ivf.nprobe) if self._ivf is not None else 0

    @classmethod
    def build(cls, vectors: npt.NDArray[np.float32], *, exact_max: int = EXACT_MAX,
              centroids: Centroids | None = None, new: int = 0) -> DenseIndex:
        """Exact index up to ``exact_max`` vectors, IVF above: on ``centroids`` when they
        fit (``new`` of the vectors were not in the build before), else trained now on a
        seeded sample."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        count, dimension = vectors.shape
        if count <= exact_max:
            flat = faiss.IndexFlatIP(dimension)
            flat.add(vectors)
            return cls(flat)
        if centroids is not None and centroids.fit(count, dimension, new):
            centroids = Centroids(centroids.index, centroids.trained_for, centroids.new_since + new)
        else:
            centroids = Centroids(_trained(vectors), count)
        index = cast(faiss.IndexIVF, faiss.clone_index(centroids.index))  # the clone is downcast
        index.add(vectors)
        index.nprobe = max(8, math.ceil(index.nlist * PROBE_SHARE))
        return cls(index, centroids)

    def describe(self) -> dict[str, Any]:
        """What kind of index this is, for the snapshot manifest."""
        if self._ivf is None:
            return {"type": "flat-ip", "metric": "cosine", "vectors": self.size}
        kind = "ivf-fp16" if isinstance(self._index, faiss.IndexIVFScalarQuantizer) else "ivf-flat"
        return {"type": kind, "metric": "cosine", "vectors": self.size, "nlist": self.nlist,
                "nprobe": self.nprobe}

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
        n = min(n, self.size)
        if _search_threads:
            faiss.omp_set_num_threads(_search_threads)
        if mask is None:  # the common case: no parameters to build (~10 µs of SWIG calls)
            scores, ids = self._index.search(query.reshape(1, -1), n)
        else:
            bits = _bitmap(mask)  # must outlive the search: FAISS keeps a raw pointer
            params = faiss.SearchParameters()
            if self._ivf is not None:
                params = faiss.SearchParametersIVF()
                params.nprobe = self._probes(mask)
            params.sel = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
            scores, ids = self._index.search(query.reshape(1, -1), n, params=params)
            del bits
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _probes(self, mask: npt.NDArray[np.bool_] | None) -> int:
        """IVF lists to visit: more when a filter leaves a small share of the vectors, so
        the filtered top k is as complete as the unfiltered one (all lists: exact)."""
        if mask is None:
            return self.nprobe
        allowed = int(np.count_nonzero(mask))
        if allowed == 0:
            return 1
        return min(self.nlist, math.ceil(self.nprobe * self.size / allowed))


_search_threads = 0


def set_search_threads(threads: int) -> None:
    """FAISS (OpenMP) threads per search from now on; 0 leaves the default (all cores).

    A server should use 1: one query is too small to split, and idle OpenMP threads
    spin — with 2 threads a 10k-vector search took 0.70 ms and two cores instead of
    0.34 ms and one. Requests run in parallel threads instead. (OpenMP's thread count
    is per calling thread, so :meth:`DenseIndex.search` applies it on each call.)
    """
    global _search_threads
    _search_threads = threads


def _trained(vectors: npt.NDArray[np.float32]) -> faiss.IndexIVF:
    """An empty IVF index (fp16 lists) trained on a seeded sample of ``vectors``."""
    count, dimension = vectors.shape
    nlist = ivf_lists(count)
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_fp16,
                                          faiss.METRIC_INNER_PRODUCT, False)  # not by residual
    sample = np.random.default_rng(0).choice(count, size=min(count, nlist * TRAIN_PER_LIST),
                                             replace=False)
    index.cp.niter = 10  # k-means rounds: 25 (the default) took 2.5× as long for the same recall
    index.train(vectors[np.sort(sample)])
    return index


def ivf_lists(count: int) -> int:
    """IVF lists for ``count`` vectors: about 4·√count (4,000 at 1M), with enough vectors
    per list to train (a threshold set very low still builds a working index)."""
    return max(1, min(int(4 * math.sqrt(count)), count // 39))


def _bitmap(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    return np.packbits(mask, bitorder="little")
