"""A peer on the same work: txtai's API next to Deskmate, measured in the same run.

    python bench/peer_txtai.py [--queries 500] [--seconds 10]

1. Creates (once) a virtualenv for txtai under var/bench/txtai-venv: torch==2.13.0 first
   (the local CPU wheel), then txtai[api]==9.14.0.
2. Builds Deskmate's index of the sample KB and writes the same chunks (embed text, id,
   article) to a JSON-lines file; in the txtai venv, indexes them with txtai's
   Embeddings (same model directory, faiss backend, content stored) and serves txtai's
   API (uvicorn, 1 worker) on 127.0.0.1.
3. Starts `deskmate serve` over the same KB, then for both services on the same queries:
   MRR@10 on bench/dev_queries.jsonl (article of each returned chunk), sequential HTTP
   p50/p99 over ``--queries`` varied queries, and QPS with 8 clients for ``--seconds``.

Goal: Deskmate's p50 at least 2× faster than txtai's at equal or better MRR.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Connection,
    dev_queries,
    fmt_ms,
    free_port,
    load_test,
    machine,
    percentiles,
    start_service,
    stop,
    time_requests,
    varied_queries,
    wait_ready,
)
from indexer.build import BuildOptions, build_snapshot  # noqa: E402
from indexer.embed import ModelSpec, load_encoder, resolve_model_path  # noqa: E402
from indexer.snapshot import load_snapshot  # noqa: E402

VENV = ROOT / "var" / "bench" / "txtai-venv"
TXTAI = "txtai[api]==9.14.0"

RUNNER = '''
import json, sys
from txtai import Embeddings
chunks, model, target = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(line) for line in open(chunks, encoding="utf-8")]
embeddings = Embeddings(path=model, content=True, backend="faiss")
embeddings.index((r["id"], r["text"], None) for r in rows)
embeddings.save(target)
'''


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} (torch==2.13.0 first, then {TXTAI}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "torch==2.13.0"], check=True)
        subprocess.run([*pip, TXTAI], check=True)
    return python


def start_txtai(python: Path, index: Path, model: str, folder: Path,
                threads: int) -> tuple[subprocess.Popen[bytes], int]:
    config = folder / "txtai.yml"
    config.write_text(json.dumps({"path": str(index), "writable": False,
                                  "embeddings": {"path": model, "content": True, "backend": "faiss"}}))
    port = free_port()
    # torch pinned like Deskmate's encoder (1 thread): unpinned, txtai's 2 torch threads on 2
    # shared cores stalled (p50 61 ms, p95 537 ms in one run) — not a fair comparison.
    env = {**os.environ, "CONFIG": str(config), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    server = subprocess.Popen([str(python), "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1",
                               "--port", str(port), "--log-level", "warning"],
                              env=env, cwd=folder, stdout=subprocess.DEVNULL)
    wait_ready(port, server, "/count", time.perf_counter())
    return server, port


def mrr(port: int, path: str, params: Callable[[str], dict[str, object]],
        articles_of: Callable[[bytes], list[str]]) -> float:
    connection = Connection(port)
    total, count = 0.0, 0
    for query in dev_queries():
        expected = set(query["expected"])  # type: ignore[call-overload]
        if not expected:
            continue
        _, body = connection.get(path, params(str(query["q"])))
        ranked = list(dict.fromkeys(articles_of(body)))[:10]
        total += next((1 / rank for rank, a in enumerate(ranked, 1) if a in expected), 0.0)
        count += 1
    connection.close()
    return total / count


ARTICLE_OF: dict[str, str] = {}
"""Chunk id → article id (txtai returns the chunk ids it was given)."""


def txtai_articles(body: bytes) -> list[str]:
    return [ARTICLE_OF[str(r["id"])] for r in json.loads(body)]


def deskmate_articles(body: bytes) -> list[str]:
    return [str(r["article_id"]) for r in json.loads(body)["results"]]


Params = Callable[[str], dict[str, object]]


def measure(name: str, port: int, pid: int, path: str, params: Params,
            articles_of: Callable[[bytes], list[str]], queries: list[str],
            seconds: float) -> dict[str, float]:
    score = mrr(port, path, params, articles_of)
    time_requests(port, path, varied_queries(50, seed=98), params)  # warm-up
    latencies, errors = time_requests(port, path, queries, params)
    load = load_test(port, pid, path, queries, params, clients=8, seconds=seconds)
    stats = percentiles(latencies)
    print(f"  {name:<9} MRR@10 {score:.3f} | {fmt_ms(stats)} ({errors} errors) | "
          f"{load.qps:.0f} req/s with 8 clients ({load.errors} errors, server CPU "
          f"{load.server_cpu / load.seconds:.0%}, client {load.client_cpu / load.seconds:.0%})")
    return {"mrr": score, **stats, "qps": load.qps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--txtai-threads", type=int, default=1, help="torch threads of txtai's server")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    python = ensure_venv()
    model = resolve_model_path("default")
    queries = varied_queries(args.queries, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "deskmate"
        chunks, seconds = index_both(folder, data, python, model, args.backend)
        print(f"settings: sample KB, {chunks} chunks in both; txtai 9.14 (torch, faiss, "
              f"content=True, {args.txtai_threads} torch thread(s), index built in "
              f"{seconds:.1f} s); Deskmate backend "
              f"{args.backend}, hybrid; {args.queries} varied queries; 8 clients × {args.seconds:.0f} s")
        results = {}
        server, port = start_txtai(python, folder / "txtai-index", model, folder, args.txtai_threads)
        try:
            results["txtai"] = measure("txtai", port, server.pid, "/search",
                                       lambda q: {"query": q, "limit": 10}, txtai_articles, queries,
                                       args.seconds)
        finally:
            stop(server)
        server, port, _ = start_service(ROOT / "kb", data, backend=args.backend)
        try:
            results["deskmate"] = measure("deskmate", port, server.pid, "/v1/search",
                                          lambda q: {"q": q, "k": 10}, deskmate_articles, queries,
                                          args.seconds)
        finally:
            stop(server)
    ours, peer = results["deskmate"], results["txtai"]
    speedup = peer["p50"] / ours["p50"]
    print(f"\np50 speed-up over txtai: {speedup:.2f}× (goal ≥ 2×); MRR@10 {ours['mrr']:.3f} vs "
          f"{peer['mrr']:.3f} (goal: equal or better); throughput {ours['qps'] / peer['qps']:.2f}×")


def index_both(folder: Path, data: Path, python: Path, model: str, backend: str) -> tuple[int, float]:
    """Deskmate's snapshot of the sample KB under ``data``, and txtai's index of the same
    chunks under ``folder`` (``ARTICLE_OF`` learns each chunk's article); the number of
    chunks and txtai's build seconds."""
    build_snapshot(ROOT / "kb", data / "index", load_encoder(ModelSpec(
        backend=backend, model_cache=data / "models")), data / "cache" / "e.sqlite", BuildOptions())
    snapshot = load_snapshot(data / "index")
    ARTICLE_OF.update({chunk.id: chunk.article_id for chunk in snapshot.chunks})
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as out:
        for chunk in snapshot.chunks:
            out.write(json.dumps({"id": chunk.id, "text": chunk.embed_text,
                                  "article": chunk.article_id}, ensure_ascii=False) + "\n")
    started = time.perf_counter()
    subprocess.run([str(python), "-c", RUNNER, str(folder / "chunks.jsonl"), model,
                    str(folder / "txtai-index")], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return len(snapshot.chunks), time.perf_counter() - started


if __name__ == "__main__":
    main()
