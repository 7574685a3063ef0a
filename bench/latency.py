"""Search latency over HTTP next to the in-process floor, and the service's ready time.

    python bench/latency.py [--queries 600] [--backend onnx-int8] [--synthetic-articles 5000]

For the sample KB (real vectors) and a synthetic ~10k-chunk KB (edit_latency's generator,
random chunk vectors: only timing matters there):

1. builds the index, starts `deskmate serve` on 127.0.0.1 and times until /readyz is 200;
2. sends ``--queries`` distinct varied queries (`GET /v1/search?q=…&k=5`, one keep-alive
   connection) and runs, in this process, the *floor* for the same queries: encode (same
   backend, 1 thread, no cache) + FAISS top 100 + BM25 top 100, no HTTP; and the same
   queries to the *stack floor* (bench/stack_floor.py: that work behind bare uvicorn and
   one thread hop, nothing else), to show how much of the gap any service on this stack
   pays; the three take turns in blocks of 25 queries;
3. prints p50/p95/p99 of each and their ratios, measured in the same run.

Goals: HTTP p50 ≤ 1.2× the floor (≈ 5.5 ms), p99 ≤ 15 ms; ready ≤ 3 s at 10k chunks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Connection,
    cpu_seconds,
    fmt_ms,
    free_port,
    machine,
    percentiles,
    start_service,
    stop,
    varied_queries,
    varied_with_lang,
    wait_ready,
)
from bench.edit_latency import RandomVectors, generate_kb  # noqa: E402
from indexer.analyze import Analyzer  # noqa: E402
from indexer.build import BuildOptions, build_snapshot  # noqa: E402
from indexer.dense import set_search_threads  # noqa: E402
from indexer.embed import Encoder, ModelSpec, load_encoder  # noqa: E402
from indexer.snapshot import Snapshot, load_snapshot  # noqa: E402

CANDIDATES = 100
SIDES = ["http", "floor", "stack"]
"""The service over HTTP, the in-process floor, and the stack floor (bench/stack_floor.py)."""
BLOCK = 25
"""Queries per block: each block runs on every side, each side first in turn, so all
see the same load on these shared cores. Query by query, each side would start with
caches the other's copy of the model had just flushed: a server answers requests back to
back, not between another process's encodes."""


def floor_once(encoder: Encoder, snapshot: Snapshot, analyzer: Analyzer, query: str) -> float:
    """Encode + dense top 100 + BM25 top 100 for one query, in ms."""
    started = time.perf_counter()
    vector = encoder.embed_queries([query])[0]
    snapshot.dense.search(vector, CANDIDATES, None)
    snapshot.lexical.top(analyzer.terms(query, "en"), CANDIDATES)
    return (time.perf_counter() - started) * 1000


@dataclass
class Sides:
    """The three ways of answering a query, one connection each to the servers, and what
    the service's answers said."""

    encoder: Encoder
    snapshot: Snapshot
    service: Connection
    stack: Connection
    analyzer: Analyzer = field(default_factory=Analyzer)
    took: dict[str, float] = field(default_factory=dict)
    """The Searcher's own time (``took_ms``) for each query."""
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))

    def once(self, side: str, query: str) -> float:
        """One query on one side, in ms."""
        if side == "floor":
            return floor_once(self.encoder, self.snapshot, self.analyzer, query)
        started = time.perf_counter()
        if side == "stack":
            status, _ = self.stack.get("/floor", {"q": query})
        else:
            status, body = self.service.get("/v1/search", {"q": query, "k": 5})
            self.took[query] = json.loads(body)["took_ms"] if status == 200 else 0.0
        self.errors[side] += status != 200
        return (time.perf_counter() - started) * 1000

    def in_blocks(self, queries: list[tuple[str, str]]) -> dict[str, list[float]]:
        """Each query's time on each side, the sides taking turns in blocks."""
        times = {side: [0.0] * len(queries) for side in SIDES}
        for block, start in enumerate(range(0, len(queries), BLOCK)):
            for side in SIDES[block % 3:] + SIDES[:block % 3]:  # each side first in turn
                for i in range(start, min(start + BLOCK, len(queries))):
                    times[side][i] = self.once(side, queries[i][0])
        return times


def measure(name: str, kb: Path, data: Path, backend: str,
            queries: list[tuple[str, str]]) -> dict[str, float]:
    server, port, ready = start_service(kb, data, backend=backend)
    bare = start_stack_floor(data, backend)
    try:
        set_search_threads(1)  # as the service does
        spec = ModelSpec(threads=1, backend=backend, model_cache=data / "models", query_cache=0)
        sides = Sides(load_encoder(spec), load_snapshot(data / "index"), Connection(port),
                      Connection(bare.port))
        for query in varied_queries(60, seed=99):  # warm-up: other queries than the measured
            for side in SIDES:
                sides.once(side, query)
        sides.errors = dict.fromkeys(SIDES, 0)
        server_cpu = cpu_seconds(server.pid)
        client_cpu, wall = time.process_time(), time.perf_counter()
        times = sides.in_blocks(queries)
        wall = time.perf_counter() - wall
        server_cpu = cpu_seconds(server.pid) - server_cpu
        sides.service.close()
        sides.stack.close()
    finally:
        stop(server)
        stop(bare.process)
    snapshot = sides.snapshot
    print(f"\n[{name}] {len(snapshot.chunks)} chunks, {len(snapshot.articles)} articles, "
          f"dense index {snapshot.manifest['dense']['type']}, backend {sides.encoder.backend}")
    print(f"  service ready after start: {ready:.2f} s")
    result = {"ready": ready, **report(queries, times, sides.took)}
    print(f"  errors: {sides.errors['http']} (stack floor: {sides.errors['stack']}); server CPU "
          f"{server_cpu / wall:.0%} of one core during the run (client + floor process: "
          f"{(time.process_time() - client_cpu) / wall:.0%}, stack floor not counted)")
    return result


def report(queries: list[tuple[str, str]], times: dict[str, list[float]],
           took: dict[str, float]) -> dict[str, float]:
    """Print each side's percentiles and their ratios, for all queries and English ones."""
    result: dict[str, float] = {}
    # The service encodes only queries in a language the model covers (English here); the
    # floor always encodes. So the like-for-like ratio is the English one.
    english = [i for i, (_, lang) in enumerate(queries) if lang == "en"]
    for label, rows in (("all queries", range(len(queries))), ("English (both encode)", english)):
        h, f, b = (percentiles([times[side][i] for i in rows]) for side in SIDES)
        print(f"  {label}: {len(rows)}")
        print(f"    HTTP GET /v1/search  {fmt_ms(h)}")
        print(f"    … of it the Searcher {fmt_ms(percentiles([took[queries[i][0]] for i in rows]))}"
              " (took_ms)")
        print("    … around the Searcher "
              f"{fmt_ms(percentiles([times['http'][i] - took[queries[i][0]] for i in rows]))}"
              " (each search's HTTP time minus its took_ms)")
        print(f"    floor (in-process)   {fmt_ms(f)}")
        print(f"    ratio HTTP/floor     p50 {h['p50'] / f['p50']:.2f}×  p99 {h['p99'] / f['p99']:.2f}×")
        if label.startswith("English"):
            print(f"    stack floor (HTTP)   {fmt_ms(b)}  = {b['p50'] / f['p50']:.2f}× the floor: "
                  "bare uvicorn, one hop, the floor's work (bench/stack_floor.py)")
            print(f"    ratio HTTP/stack     p50 {h['p50'] / b['p50']:.2f}×  (the service's own "
                  f"share: {h['p50'] - b['p50']:.2f} ms)")
            result[f"{label}_stack_p50"] = b["p50"]
        result.update({f"{label}_http_p50": h["p50"], f"{label}_floor_p50": f["p50"]})
    return result


@dataclass
class StackFloor:
    process: subprocess.Popen[bytes]
    port: int


def start_stack_floor(data: Path, backend: str) -> StackFloor:
    """bench/stack_floor.py over the same snapshot, on a free loopback port, once ready."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "stack_floor.py"), str(data),
                                str(port), "--backend", backend], cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_ready(port, process, "/readyz", time.perf_counter())
    return StackFloor(process, port)


def encode_only(count: int) -> None:
    """Query encode p50 per backend, 1 thread, no cache, same queries, interleaved."""
    queries = varied_queries(count, seed=2)
    with tempfile.TemporaryDirectory() as tmp:
        encoders = {b: load_encoder(ModelSpec(threads=1, backend=b, model_cache=Path(tmp), query_cache=0))
                    for b in ("torch", "onnx", "onnx-int8")}
        times: dict[str, list[float]] = {b: [] for b in encoders}
        for query in queries[:20]:
            for encoder in encoders.values():
                encoder.embed_queries([query])
        for query in queries:
            for backend, encoder in encoders.items():
                started = time.perf_counter()
                encoder.embed_queries([query])
                times[backend].append((time.perf_counter() - started) * 1000)
    for backend, samples in times.items():
        print(f"  encode {backend:<9} {fmt_ms(percentiles(samples))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--synthetic-articles", type=int, default=5000,
                        help="articles of the synthetic KB (2 chunks each); 0 skips it")
    parser.add_argument("--encode-only", action="store_true",
                        help="only compare query encoding per backend (torch, onnx, onnx-int8)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.encode_only:
        return encode_only(args.queries)
    print(f"settings: backend {args.backend}, 1 encoder thread, k=5, {CANDIDATES} candidates "
          f"per retriever, {args.queries} distinct queries (query cache never hits)")
    queries = varied_with_lang(args.queries, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "sample"
        spec = ModelSpec(backend=args.backend, model_cache=data / "models")
        build_snapshot(ROOT / "kb", data / "index", load_encoder(spec), data / "cache" / "e.sqlite",
                       BuildOptions())
        measure("sample KB", ROOT / "kb", data, args.backend, queries)
        if args.synthetic_articles:
            kb, data = root / "synthetic-kb", root / "synthetic"
            generate_kb(kb, args.synthetic_articles)
            encoder = RandomVectors(load_encoder(ModelSpec(backend=args.backend,
                                                           model_cache=data / "models")))
            build_snapshot(kb, data / "index", encoder, data / "cache" / "e.sqlite", BuildOptions())
            measure("synthetic KB", kb, data, args.backend, queries)


if __name__ == "__main__":
    main()
