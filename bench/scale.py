"""Scale: query time, memory and dense recall at 100k and 1M chunks (synthetic).

    python bench/scale.py [--sizes 100000,1000000] [--queries 200]

Per size, in two child processes (so the serving memory is not the build's):

* build: seeded synthetic chunk vectors (384-d, unit, low-rank and clustered like sentence
  embeddings) and BM25 term ids (20–60, mean 40, Zipf-distributed terms per chunk from
  200k), built
  with the real `DenseIndex.build` (exact below DESKMATE_DENSE_EXACT_MAX, IVF above) and
  `LexicalIndex.from_term_ids`; synthetic articles (5 chunks each, ~2 KB of Markdown) and
  chunks (~450 characters) written by the real `write_records`; published as a snapshot.
  The exact top 10 of every query is computed by brute force for recall. Then the IVF
  lists are trained on the KB as it was before 4.8 % more chunks came, all of topics it did
  not have (one cluster in 22: just inside the 5 % a rebuild keeps a training for), and
  the whole KB is added to that training, as a rebuild in the service does: its time and
  recall@10 (this child's peak RSS includes both builds).
* serve: loads the snapshot with `load_snapshot` as the service does, loads the real
  encoder (ONNX int8, one thread), and times per query: encoding a real query text, the
  dense top 100 for a synthetic query vector, the BM25 top 100 for 1–4 synthetic terms, the
  typo corrections of one unknown word, and reading the top 5 chunks and their articles as
  hits do. Prints p50s, recall@10 against exact search, the load time (until the typo table
  is ready, as the Searcher needs it) and the process's RSS.

Goals at 1M: p50 ≤ 30 ms (encode + dense + BM25 + records), RSS ≤ 2.5 GB, recall@10 ≥ 0.98;
BM25 sub-millisecond at 100k.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentiles, rss_mb, varied_queries  # noqa: E402
from indexer.dense import EXACT_MAX, DenseIndex  # noqa: E402
from indexer.embed import Encoder, ModelSpec, load_encoder  # noqa: E402
from indexer.lexical import LexicalIndex  # noqa: E402
from indexer.records import Article, Audience, Chunk, Section  # noqa: E402
from indexer.snapshot import Snapshot, load_snapshot, point_to, write_manifest, write_records  # noqa: E402

DIMENSION, RANK, VOCAB, TERMS_PER_CHUNK, CANDIDATES = 384, 48, 200_000, 40, 100
CHUNKS_PER_ARTICLE, HITS, VERSION = 5, 5, "synthetic"
WORDS = [a + b for a in ("ka", "lo", "mi", "pe", "quo", "ren", "sa", "tol", "um", "vo")
         for b in ("bra", "cer", "dor", "fi", "gri", "nul", "tas", "wi", "zen", "ex")]


def synthetic_vectors(count: int, seed: int = 0, block: int = 100_000,
                      ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Unit vectors from a seeded low-rank clustered model, generated in blocks, and the
    cluster (topic) of each."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((RANK, DIMENSION)).astype(np.float32)
    centers = rng.standard_normal((max(count // 40, 4), RANK)).astype(np.float32)
    out = np.empty((count, DIMENSION), dtype=np.float32)
    topics = np.empty(count, dtype=np.int64)
    for start in range(0, count, block):
        size = min(block, count - start)
        topics[start:start + size] = rng.integers(0, len(centers), size)
        latent = centers[topics[start:start + size]]
        latent += 0.6 * rng.standard_normal((size, RANK)).astype(np.float32)
        rows = latent @ basis + 0.87 * rng.standard_normal((size, DIMENSION)).astype(np.float32)
        out[start:start + size] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out, topics


def exact_top10(vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        scores = queries @ vectors[start:start + 200_000].T
        top = np.argpartition(-scores, 9, axis=1)[:, :10]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
        merged_ids = np.concatenate([best_ids, top + start], axis=1)
        order = np.argsort(-merged_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(merged_scores, order, 1)
        best_ids = np.take_along_axis(merged_ids, order, 1)
    return best_ids


def build(size: int, queries: int, folder: Path) -> None:
    started = time.perf_counter()
    everything, topics = synthetic_vectors(size + queries)
    vectors, query_vectors = everything[:size], everything[size:]
    generated = time.perf_counter() - started
    exact = exact_top10(vectors, query_vectors)
    np.save(folder / "queries.npy", query_vectors)
    np.save(folder / "exact.npy", exact)
    started = time.perf_counter()
    dense = DenseIndex.build(vectors, exact_max=EXACT_MAX)
    dense_seconds = time.perf_counter() - started
    rebuild = rebuild_on_an_older_training(vectors, topics[:size], query_vectors, exact)
    snapshot = folder / "snapshots" / VERSION
    snapshot.mkdir(parents=True)
    dense.save(snapshot)
    described = dense.describe()
    del vectors, everything, dense
    rng = np.random.default_rng(1)
    # Chunk lengths vary (20–60 terms, mean 40) as real chunks do: with one length for all,
    # BM25 weights depend on the term count alone and every count is one big tie.
    lengths = rng.integers(TERMS_PER_CHUNK // 2, TERMS_PER_CHUNK * 3 // 2 + 1, size)
    ids = np.minimum(rng.zipf(1.3, int(lengths.sum())) - 1, VOCAB - 1).astype(np.int32)
    started = time.perf_counter()
    lexical = LexicalIndex.from_term_ids(np.split(ids, np.cumsum(lengths)[:-1]),
                                         [f"t{i}" for i in range(VOCAB)], ["en"] * size)
    lexical_seconds = time.perf_counter() - started
    started = time.perf_counter()
    lexical.save(snapshot)  # with the typo table, which the build computes
    lexical_save_seconds = time.perf_counter() - started
    del lexical, ids
    started = time.perf_counter()
    write_records(snapshot, *synthetic_records(size))
    records_seconds = time.perf_counter() - started
    write_manifest(snapshot, {"version": VERSION})
    point_to(folder, VERSION)
    report = {"generate_s": generated, "dense_build_s": dense_seconds, "bm25_build_s": lexical_seconds,
              "bm25_save_s": lexical_save_seconds, "records_write_s": records_seconds,
              "dense": described, **rebuild, "build_peak_rss_mb": rss_mb()[1]}
    (folder / "build.json").write_text(json.dumps(report))


def rebuild_on_an_older_training(vectors: npt.NDArray[np.float32], topics: npt.NDArray[np.int64],
                                 queries: npt.NDArray[np.float32], exact: npt.NDArray[np.int64],
                                 ) -> dict[str, Any]:
    """Seconds and recall@10 of a dense build that adds ``vectors`` to lists trained before
    4.8 % more came, all of the topics (one in 22) the training never saw."""
    before = vectors[topics % 22 != 0]
    trained = DenseIndex.build(before, exact_max=EXACT_MAX).centroids
    started = time.perf_counter()
    rebuilt = DenseIndex.build(vectors, exact_max=EXACT_MAX, centroids=trained,
                               new=len(vectors) - len(before))
    seconds = time.perf_counter() - started
    if trained is None or rebuilt.centroids is None or rebuilt.centroids.index is not trained.index:
        return {"rebuild": None}
    found = sum(len(set(rebuilt.search(q, CANDIDATES, None)[1][:10].tolist()) & set(truth.tolist()))
                for q, truth in zip(queries, exact, strict=True))
    return {"rebuild": {"dense_s": seconds, "recall_at_10": found / (10 * len(exact)),
                        "new": len(vectors) - len(before)}}


def synthetic_records(size: int) -> tuple[list[Article], list[Chunk]]:
    """Articles of ``CHUNKS_PER_ARTICLE`` chunks, each chunk ~450 characters of words."""
    rng = np.random.default_rng(4)
    words = np.array(WORDS)[rng.integers(0, len(WORDS), (size, 70))]
    texts = [" ".join(row) for row in words.tolist()]
    articles, chunks = [], []
    for start in range(0, size, CHUNKS_PER_ARTICLE):
        article_id, title = f"a{start}", f"Article {start}"
        body = texts[start:start + CHUNKS_PER_ARTICLE]
        sections = tuple(Section(f"s{n}", (title, f"Part {n}"), 2, text) for n, text in enumerate(body))
        markdown = f"# {title}\n\n" + "".join(f"## Part {n}\n\n{text}\n\n" for n, text in enumerate(body))
        articles.append(Article(article_id, f"{article_id}.md", title, "en", ("synthetic",), "app",
                                Audience.PUBLIC, None, None, None, None, None, (), markdown, sections))
        chunks += [Chunk(f"{article_id}#s{n}:0", article_id, f"s{n}", (title, f"Part {n}"), text, n)
                   for n, text in enumerate(body)]
    return articles, chunks


def serve(size: int, folder: Path) -> None:
    rss_start = rss_mb()[0]  # the interpreter with numpy, FAISS and this script
    started = time.perf_counter()
    snapshot = load_snapshot(folder)
    snapshot.lexical.prepare_corrections()  # as the Searcher does before it serves
    load_seconds = time.perf_counter() - started
    encoder = load_encoder(ModelSpec(threads=1, backend="onnx-int8", model_cache=folder.parent / "models",
                                     query_cache=0))
    timings, recall = time_queries(snapshot, encoder, folder)  # the encoder counts in the RSS
    build_report = json.loads((folder / "build.json").read_text())
    print(json.dumps({
        "size": size, **build_report, "load_s": load_seconds,
        "recall_at_10": recall, "rss_start_mb": rss_start,
        "rss_mb": rss_mb()[0], "rss_peak_mb": rss_mb()[1],
        **{f"{k}_p50_ms": percentiles(v)["p50"] for k, v in timings.items()},
        **{f"{k}_p99_ms": percentiles(v)["p99"] for k, v in timings.items()},
    }))


def time_queries(snapshot: Snapshot, encoder: Encoder, folder: Path,
                 ) -> tuple[dict[str, list[float]], float]:
    """Each part of every query in ms (encode, dense, BM25, one typo, the hits' records,
    all), and the dense search's recall@10 against exact search."""
    dense, lexical = snapshot.dense, snapshot.lexical
    query_vectors, exact = np.load(folder / "queries.npy"), np.load(folder / "exact.npy")
    texts = varied_queries(len(query_vectors), seed=3)
    rng = np.random.default_rng(2)
    timings: dict[str, list[float]] = {"encode": [], "dense": [], "bm25": [], "typo": [],
                                       "records": [], "total": []}
    hits = 0
    for text, vector, truth in zip(texts, query_vectors, exact, strict=True):
        terms = [f"t{int(t)}" for t in np.minimum(rng.zipf(1.3, rng.integers(1, 5)) - 1, VOCAB - 1)]
        t0 = time.perf_counter()
        encoder.embed_queries([text])
        t1 = time.perf_counter()
        _, ids = dense.search(vector, CANDIDATES, None)
        t2 = time.perf_counter()
        lexical.top(terms, CANDIDATES)
        t3 = time.perf_counter()
        lexical.corrections(f"{terms[0]}x")  # one unknown word, as a typo in the query
        t4 = time.perf_counter()
        for chunk in ids[:HITS].tolist():  # what the hits show
            snapshot.chunks[chunk], snapshot.articles.records[snapshot.chunk_articles[chunk]]
        t5 = time.perf_counter()
        for key, value in (("encode", t1 - t0), ("dense", t2 - t1), ("bm25", t3 - t2),
                           ("typo", t4 - t3), ("records", t5 - t4), ("total", t5 - t0)):
            timings[key].append(value * 1000)
        hits += len(set(ids[:10].tolist()) & set(truth.tolist()))
    return timings, hits / (10 * len(exact))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        return build(args.build, args.queries, args.folder)
    if args.serve:
        return serve(args.serve, args.folder)
    print(f"machine: {machine()}")
    print(f"settings: {DIMENSION}-d vectors (rank {RANK}, clustered), {TERMS_PER_CHUNK} terms/chunk (mean) "
          f"from {VOCAB:,}, exact search up to {EXACT_MAX:,} chunks, {args.queries} queries, "
          f"top {CANDIDATES} per retriever, ONNX int8 encoder on 1 thread")
    with tempfile.TemporaryDirectory() as tmp:
        # Export the ONNX model here, once: the serving children then never import torch.
        load_encoder(ModelSpec(backend="onnx-int8", model_cache=Path(tmp) / "models"))
        for size in (int(s) for s in args.sizes.split(",")):
            folder = Path(tmp) / str(size)
            folder.mkdir()
            script = [sys.executable, __file__, "--queries", str(args.queries), "--folder", str(folder)]
            subprocess.run([*script, "--build", str(size)], check=True)
            out = subprocess.run([*script, "--serve", str(size)], check=True, capture_output=True, text=True)
            print_size(size, json.loads(out.stdout.strip().splitlines()[-1]))


def print_size(size: int, result: dict[str, Any]) -> None:
    """One size's figures, as its serving child reported them, against the goals."""
    dense = result["dense"]
    kind = dense["type"]
    if "nlist" in dense:
        kind += f" nlist {dense['nlist']} nprobe {dense['nprobe']}"
    print(f"\n[{size:,} chunks] dense {kind}; built in {result['dense_build_s']:.1f} s, BM25 in "
          f"{result['bm25_build_s']:.1f} s + saved with its typo table in "
          f"{result['bm25_save_s']:.1f} s (build peak RSS {result['build_peak_rss_mb']:.0f} MiB)")
    print(f"  query p50: encode {result['encode_p50_ms']:.2f} + dense {result['dense_p50_ms']:.2f} + "
          f"BM25 {result['bm25_p50_ms']:.2f} + one typo {result['typo_p50_ms']:.2f} + records "
          f"{result['records_p50_ms']:.2f} = total {result['total_p50_ms']:.2f} ms "
          f"(p99 {result['total_p99_ms']:.2f} ms)")
    print(f"  query p99 of each part: encode {result['encode_p99_ms']:.2f}, dense "
          f"{result['dense_p99_ms']:.2f}, BM25 {result['bm25_p99_ms']:.2f}, one typo "
          f"{result['typo_p99_ms']:.2f}, records {result['records_p99_ms']:.2f} ms")
    print(f"  dense recall@10 vs exact: {result['recall_at_10']:.3f}")
    rebuild = result["rebuild"]
    if rebuild:
        print(f"  dense rebuild on a training from before {rebuild['new']:,} chunks of new topics "
              f"came: {rebuild['dense_s']:.1f} s (trained anew: {result['dense_build_s']:.1f} s), "
              f"recall@10 {rebuild['recall_at_10']:.3f}")
    elif "nlist" in dense:
        print("  dense rebuild on an older training: not measured, the new chunks passed the "
              "share it is kept for (it trained anew)")
    print(f"  records: {size // CHUNKS_PER_ARTICLE:,} articles, written in "
          f"{result['records_write_s']:.1f} s")
    print(f"  serving RSS {result['rss_mb']:.0f} MiB (peak {result['rss_peak_mb']:.0f} MiB), "
          f"snapshot load (typo table ready) {result['load_s']:.2f} s")
    if size >= 1_000_000:
        ok = (result["total_p50_ms"] <= 30 and result["rss_mb"] <= 2560
              and result["recall_at_10"] >= 0.98)
        verdict = "met" if ok else "NOT met"
        print(f"  goal at 1M (p50 ≤ 30 ms, RSS ≤ 2.5 GB, recall ≥ 0.98): {verdict}")
    if size <= 100_000:
        print(f"  BM25 sub-millisecond: {'met' if result['bm25_p50_ms'] < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
