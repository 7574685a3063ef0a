"""The dense index: exact below the size threshold, IVF above it with recall ≥ 0.98 against
exact search, filters applied before the top k is cut, rebuilds that add to the last IVF
training while it fits, and the type kept across save/load and recorded in the snapshot
manifest."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from indexer.build import BuildOptions, build_snapshot
from indexer.dense import FILE, DenseIndex, ivf_lists
from indexer.embed import Encoder
from indexer.snapshot import current_version

DIMENSION = 64


def clustered(count: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """Unit vectors with the low-rank, clustered shape of sentence embeddings; the first
    ``count`` rows of a larger draw are the same for any ``count`` (queries: the rows after)."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((16, DIMENSION))
    centers = rng.standard_normal((500, 16))
    draws = 25_000
    latent = centers[rng.integers(0, len(centers), draws)] + 0.6 * rng.standard_normal((draws, 16))
    vectors = latent @ basis + 0.5 * rng.standard_normal((draws, DIMENSION))
    unit = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit[:count]


def corpus_and_queries(count: int, queries: int) -> tuple[npt.NDArray[np.float32],
                                                          npt.NDArray[np.float32]]:
    both = clustered(count + queries)
    return both[:count], both[count:]


def exact_top(vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32], k: int,
              allowed: npt.NDArray[np.bool_] | None = None) -> list[int]:
    scores = vectors @ query
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]


def test_small_indexes_are_exact_and_match_brute_force() -> None:
    vectors, queries = corpus_and_queries(2000, 20)
    index = DenseIndex.build(vectors, exact_max=5000)

    assert index.describe()["type"] == "flat-ip"
    for query in queries:
        scores, ids = index.search(query, 10, None)
        assert ids.tolist() == exact_top(vectors, query, 10)
        assert np.allclose(scores, vectors[ids] @ query, atol=1e-5)


def test_large_indexes_use_ivf_with_recall_of_at_least_098(tmp_path: Path) -> None:
    vectors, queries = corpus_and_queries(20_000, 200)
    index = DenseIndex.build(vectors, exact_max=10_000)
    index.save(tmp_path)

    described = index.describe()
    assert described["type"] == "ivf-fp16"
    assert 1 <= described["nprobe"] < described["nlist"]
    stored = faiss.extract_index_ivf(faiss.read_index(str(tmp_path / FILE)))
    assert stored.code_size == 2 * DIMENSION  # half precision: half the memory of float32
    found = [set(index.search(q, 100, None)[1][:10].tolist()) for q in queries]
    recall = np.mean([len(f & set(exact_top(vectors, q, 10))) / 10
                      for f, q in zip(found, queries, strict=True)])
    assert recall >= 0.98


def test_a_rebuild_of_about_the_same_vectors_adds_to_the_last_training() -> None:
    vectors, queries = corpus_and_queries(20_000, 200)
    first = DenseIndex.build(vectors, exact_max=10_000)
    edited = vectors.copy()
    edited[:1000] = clustered(len(vectors) + len(queries) + 1000)[-1000:]  # 5 % rewritten

    rebuilt = DenseIndex.build(edited, exact_max=10_000, centroids=first.centroids, new=1000)

    assert first.centroids is not None and rebuilt.centroids is not None
    assert rebuilt.centroids.index is first.centroids.index  # no new k-means
    assert (rebuilt.centroids.trained_for, rebuilt.centroids.new_since) == (20_000, 1000)
    assert rebuilt.describe() == first.describe()
    found = [set(rebuilt.search(q, 100, None)[1][:10].tolist()) for q in queries]
    recall = np.mean([len(f & set(exact_top(edited, q, 10))) / 10
                      for f, q in zip(found, queries, strict=True)])
    assert recall >= 0.98


def test_the_lists_are_trained_again_once_5_percent_is_new_or_the_size_moves_5_percent() -> None:
    vectors = clustered(20_000)
    centroids = DenseIndex.build(vectors, exact_max=10_000).centroids
    assert centroids is not None

    assert centroids.fit(20_000, DIMENSION, new=1000)
    assert centroids.fit(19_000, DIMENSION, new=0) and centroids.fit(21_000, DIMENSION, new=0)
    assert not centroids.fit(20_000, DIMENSION, new=1001)
    assert not centroids.fit(18_999, DIMENSION, new=0)
    assert not centroids.fit(21_001, DIMENSION, new=0)
    assert not centroids.fit(20_000, DIMENSION * 2, new=0)  # another model
    once = DenseIndex.build(vectors, exact_max=10_000, centroids=centroids, new=700).centroids
    assert once is not None and once.index is centroids.index
    twice = DenseIndex.build(vectors, exact_max=10_000, centroids=once, new=301).centroids
    assert twice is not None and twice.index is not centroids.index  # 1,001 new in all
    assert (twice.trained_for, twice.new_since) == (20_000, 0)


def test_ivf_filters_before_the_cut_even_for_a_small_share() -> None:
    vectors, queries = corpus_and_queries(20_000, 20)
    index = DenseIndex.build(vectors, exact_max=10_000)
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[np.random.default_rng(3).choice(len(vectors), 150, replace=False)] = True

    for query in queries:
        _, ids = index.search(query, 10, allowed)
        assert len(ids) == 10
        assert allowed[ids].all()
        assert ids.tolist() == exact_top(vectors, query, 10, allowed)


def test_a_filter_that_allows_nothing_returns_nothing() -> None:
    vectors = clustered(3000)
    index = DenseIndex.build(vectors, exact_max=1000)

    _, ids = index.search(vectors[0], 10, np.zeros(len(vectors), dtype=bool))

    assert ids.tolist() == []


def test_the_index_type_survives_save_and_load(tmp_path: Path) -> None:
    vectors, queries = corpus_and_queries(5000, 1)
    built = DenseIndex.build(vectors, exact_max=1000)
    built.save(tmp_path)

    loaded = DenseIndex.load(tmp_path)

    assert loaded.describe() == built.describe()
    query = queries[0]
    assert loaded.search(query, 10, None)[1].tolist() == built.search(query, 10, None)[1].tolist()


def test_snapshots_with_float32_ivf_lists_still_load_and_search(tmp_path: Path) -> None:
    vectors, queries = corpus_and_queries(5000, 20)
    nlist = ivf_lists(len(vectors))
    older = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIMENSION), DIMENSION, nlist, faiss.METRIC_INNER_PRODUCT)
    older.train(vectors)
    older.add(vectors)
    older.nprobe = nlist  # every list: the results are exact
    faiss.write_index(older, str(tmp_path / FILE))

    loaded = DenseIndex.load(tmp_path)

    assert loaded.describe()["type"] == "ivf-flat"
    for query in queries:
        assert loaded.search(query, 10, None)[1].tolist() == exact_top(vectors, query, 10)


def test_the_manifest_records_the_dense_index_type(kb_dir: Path, tmp_path: Path,
                                                   encoder: Encoder) -> None:
    index_dir = tmp_path / "index"
    build_snapshot(kb_dir, index_dir, encoder, tmp_path / "cache.sqlite",
                   BuildOptions(dense_exact_max=0))
    manifest = json.loads((index_dir / "snapshots" / str(current_version(index_dir))
                           / "manifest.json").read_text("utf-8"))

    assert manifest["dense"]["type"] == "ivf-fp16"
    assert manifest["dense"]["vectors"] == manifest["counts"]["chunks"]
