"""Throughput: 8 concurrent clients against `deskmate serve` on 127.0.0.1 for 30 s.

    python bench/throughput.py [--seconds 30] [--clients 8] [--backend onnx-int8]

Builds the sample KB, starts the real service, then runs ``--clients`` keep-alive clients
(asyncio, one thread, raw HTTP/1.1) over 600 distinct varied queries for ``--seconds``
(bounded). Prints QPS, errors and the CPU share of server and client: they share the
machine's cores. Goal: ≥ 200 QPS with 0 errors on 2 cores, client included.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load_test, machine, start_service, stop, varied_queries  # noqa: E402
from indexer.build import BuildOptions, build_snapshot  # noqa: E402
from indexer.embed import ModelSpec, load_encoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--backend", default="onnx-int8")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"settings: backend {args.backend}, 1 uvicorn worker, 1 encoder thread per request, "
          f"{args.clients} clients, {args.seconds:.0f} s, GET /v1/search k=5")
    queries = varied_queries(600, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        spec = ModelSpec(backend=args.backend, model_cache=data / "models")
        build_snapshot(ROOT / "kb", data / "index", load_encoder(spec), data / "cache" / "e.sqlite",
                       BuildOptions())
        server, port, _ = start_service(ROOT / "kb", data, backend=args.backend)
        try:
            load_test(port, server.pid, "/v1/search", queries[:50], lambda q: {"q": q, "k": 5},
                      clients=args.clients, seconds=2)  # warm-up
            result = load_test(port, server.pid, "/v1/search", queries, lambda q: {"q": q, "k": 5},
                               clients=args.clients, seconds=args.seconds)
        finally:
            stop(server)
    print(f"throughput: {result.qps:.0f} requests/s, {result.requests} requests, "
          f"{result.errors} errors in {result.seconds:.1f} s")
    print(f"CPU: server {result.server_cpu / result.seconds:.0%}, client "
          f"{result.client_cpu / result.seconds:.0%} of one core "
          f"(client share of all CPU used: "
          f"{result.client_cpu / (result.client_cpu + result.server_cpu):.0%})")
    verdict = "met" if result.qps >= 200 and not result.errors else "NOT met"
    print(f"goal ≥ 200 requests/s with 0 errors: {verdict}")


if __name__ == "__main__":
    main()
