"""What the analytics report costs a busy team, and what it costs the agents searching.

    python bench/analytics_load.py [--searches 45000] [--distinct 27000] [--reports 5]

1. Builds the sample KB and fills the service's SQLite store with a month of a busy
   team's search log (deterministic): 45,000 searches (50 agents × 30 a day), 27,000
   distinct queries, 15 % of them no good match, five results each, and a helpful or
   unhelpful vote on every tenth.
2. Starts the real service (`deskmate serve`) on loopback.
3. Loads `GET /v1/admin/analytics` (the admin page's request) ``--reports`` times, one
   after another, and then exports the content gaps as CSV once.
4. Meanwhile another client searches back to back on its own keep-alive connection
   (the query cache is off, so that every search encodes): its latencies while the
   reports were built are printed next to its own for as long again with nothing else
   going on.
5. Restarts the service and loads the report once more: the content gaps' query vectors
   the first process encoded are read back from the store.

Prints the machine, the log's size, each report's time and the searches' percentiles.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.store import Store, query_vectors  # noqa: E402
from bench.common import machine, start_service, stop  # noqa: E402
from bench.edit_latency import Searches, Searching  # noqa: E402
from indexer.build import BuildOptions, build_snapshot  # noqa: E402
from indexer.embed import ModelSpec, load_encoder  # noqa: E402
from indexer.snapshot import load_snapshot  # noqa: E402

TOPICS = ["refund", "password reset", "invoice copy", "wifi drops", "printer offline", "vpn login",
          "billing date", "export data", "delete account", "shipping time", "order tracking",
          "warranty claim", "battery drain", "screen flicker", "sync fails", "two factor"]
ASKS = ["how do i", "customer asks", "cannot", "help with", "where is", "why does", "urgent"]


def fill_log(store: Store, article_ids: list[str], searches: int, distinct: int) -> None:
    """``searches`` logged searches over the last 29 days from ``distinct`` queries."""
    rng = random.Random(7)
    queries = [f"{rng.choice(ASKS)} {rng.choice(TOPICS)} {rng.choice(TOPICS)} {n}"
               for n in range(distinct)]
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for n in range(searches):
        results = rng.sample(article_ids, 5)
        rows.append({"id": f"s{n}", "created_at": now - timedelta(days=rng.random() * 29),
                     "query": rng.choice(queries), "lang": "en", "filters": {},
                     "results": [{"article_id": a, "rank": r, "score": 0.5}
                                 for r, a in enumerate(results, start=1)],
                     "top_score": 0.5, "no_good_match": rng.random() < 0.15,
                     "latency_ms": rng.uniform(3, 12), "endpoint": "search", "client": "sidebar",
                     "key_id": None})
    for start in range(0, searches, 5000):
        store.add_searches(rows[start:start + 5000])
    for row in rows[::10]:
        store.put_feedback(search_id=row["id"], article_id=row["results"][0]["article_id"],
                           section=None, helpful=rng.random() < 0.7, comment=None, key_id=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=45_000)
    parser.add_argument("--distinct", type=int, default=27_000)
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--backend", default="onnx-int8")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        prepare(data, args.backend, args.searches, args.distinct)
        took, searches = reports_beside_searches(data, args.backend, args.reports)
        restarted, kept = first_report_after_restart(data, args.backend)
    for index, seconds in enumerate(took[:-1], start=1):
        print(f"report {index}: {seconds:.2f} s")
    print(f"content gaps as CSV: {took[-1]:.2f} s")
    print(f"first report after a restart, {kept} query vectors in the store: {restarted:.2f} s")
    searches.report("while the reports were built")


def prepare(data: Path, backend: str, searches: int, distinct: int) -> None:
    """The sample KB's index and a month's search log in a store, under ``data``."""
    spec = ModelSpec(backend=backend, model_cache=data / "models")
    build_snapshot(ROOT / "kb", data / "index", load_encoder(spec), data / "cache" / "e.sqlite",
                   BuildOptions())
    store = Store(f"sqlite:///{data / 'deskmate.sqlite3'}")
    store.migrate()
    started = time.perf_counter()
    fill_log(store, list(load_snapshot(data / "index").articles), searches, distinct)
    store.close()
    print(f"search log: {searches} searches, {distinct} distinct queries, 15 % no good match, "
          f"{searches // 10} votes ({time.perf_counter() - started:.0f} s to write)")


def reports_beside_searches(data: Path, backend: str, count: int,
                            ) -> tuple[list[float], Searches]:
    """Each report's and the CSV's seconds while another client searches; that client's
    searches then, and for as long with nothing else going on."""
    # No query cache: the searching client's 1,000 queries would all be cached after
    # a few seconds, and a report's encodes would evict them, which measures the cache.
    server, port, _ = start_service(ROOT / "kb", data, backend=backend,
                                    extra={"DESKMATE_QUERY_CACHE_SIZE": "0"})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
            searching = Searching(port)
            searching.start()
            time.sleep(2)  # warm: the first searches load the model's caches

            def reports() -> list[float]:
                seconds = []
                queries: list[dict[str, str]] = [{}] * count + [{"format": "csv",
                                                                 "table": "content_gaps"}]
                for params in queries:
                    begun = time.perf_counter()
                    http.get("/v1/admin/analytics", params=params).raise_for_status()
                    seconds.append(time.perf_counter() - begun)
                return seconds

            return searching.beside(reports, sum)
    finally:
        stop(server)


def first_report_after_restart(data: Path, backend: str) -> tuple[float, int]:
    """Seconds to the first report of a new process, which finds the queries the last one
    encoded in the store; and how many vectors the store holds."""
    server, port, _ = start_service(ROOT / "kb", data, backend=backend)
    try:
        begun = time.perf_counter()
        httpx.get(f"http://127.0.0.1:{port}/v1/admin/analytics", timeout=300).raise_for_status()
        restarted = time.perf_counter() - begun
    finally:
        stop(server)
    store = Store(f"sqlite:///{data / 'deskmate.sqlite3'}")
    with store.engine.connect() as connection:
        kept = connection.execute(sa.select(sa.func.count()).select_from(query_vectors)).scalar()
    store.close()
    return restarted, int(kept or 0)


if __name__ == "__main__":
    main()
