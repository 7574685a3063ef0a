"""How long one edited article takes to go live on a 10,000-article KB.

    python bench/edit_latency.py [--articles 10000] [--edits 5]

1. Generates a synthetic KB (deterministic: seeded pseudo-words, 2 sections per
   article) in a temporary directory.
2. Builds it once. To skip ~20k encodes on a CPU, this first build writes random
   unit vectors into the embedding cache (a stand-in encoder: only token counting
   uses the real model). Every later encode uses the real model.
3. Starts the real service (`deskmate serve`) on loopback and runs one reindex job,
   which warms the build worker's per-file cache.
4. Edits an article through `PUT /v1/admin/articles/{id}` (new text with a unique
   word) and times until `GET /v1/search` for that word returns the edited article.
5. Meanwhile another client searches back to back (varied queries, its own keep-alive
   connection): its latencies while the edits go live (builds, reloads) are printed
   next to its own for as long again after the last edit, with nothing going on.

Prints the machine, the KB size, each edit's end-to-end time and its job's build
time. Goal: ≤ 2 s end to end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Connection,
    fmt_ms,
    machine,
    percentiles,
    start_service,
    stop,
    varied_queries,
)
from indexer.build import BuildOptions, BuildReport, build_snapshot  # noqa: E402
from indexer.embed import ONNX_INT8, Encoder, ModelSpec, Vectors, load_encoder  # noqa: E402

EDIT_TIMEOUT = 300
"""Seconds an edit may take to become searchable before the benchmark gives up."""
SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "gri", "pe", "nul", "sa", "dor", "ex", "fi",
             "qua", "zen", "bra", "tol", "wi", "um", "cer"]


class RandomVectors(Encoder):
    """The real model's tokenizer, random unit vectors instead of encoding."""

    def __init__(self, real: Encoder) -> None:
        super().__init__(real._model, real.spec, real.model_id, real.languages)
        self._random = np.random.default_rng(0)

    def embed_chunks(self, texts: Sequence[str], *, batch_size: int) -> Vectors:
        vectors = self._random.standard_normal((len(texts), self.dimension)).astype(np.float32)
        unit: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit


def words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(count)]


def generate_kb(root: Path, articles: int) -> None:
    rng = random.Random(42)
    vocabulary = words(rng, 8000)
    for n in range(articles):
        def sentence() -> str:
            return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(8, 16))).capitalize() + "."
        body = "\n\n".join([
            f"# Article {n} {rng.choice(vocabulary)}", " ".join(sentence() for _ in range(4)),
            "## Steps", " ".join(sentence() for _ in range(4))])
        path = root / f"part{n % 100:02d}" / f"article-{n}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\nid: article-{n}\nlang: en\nproduct: synthetic\n---\n{body}\n", "utf-8")


def wait_job(http: httpx.Client, job_id: str) -> dict[str, object]:
    while True:
        job: dict[str, object] = http.get(f"/v1/admin/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.02)


def edit_once(http: httpx.Client, n: int, marker: str) -> tuple[float, float]:
    text = (f"---\nid: article-{n}\nlang: en\nproduct: synthetic\n---\n# Article {n} edited\n\n"
            f"This article now explains the {marker} procedure in detail.\n")
    started = time.perf_counter()
    response = http.put(f"/v1/admin/articles/article-{n}", content=text.encode())
    response.raise_for_status()
    job_id = response.json()["job"]["id"]
    # In the top 10, not first: above DESKMATE_DENSE_EXACT_MAX chunks the dense side is an
    # IVF index, and its lists, trained on the first build's random vectors, need not hold
    # the one real vector next to the query's; BM25 alone still finds the unique word.
    while not any(r["article_id"] == f"article-{n}"
                  for r in http.get("/v1/search", params={"q": marker, "k": 10}).json()["results"]):
        if time.perf_counter() - started > EDIT_TIMEOUT:
            raise RuntimeError(f"article-{n} was not searchable {EDIT_TIMEOUT} s after its edit")
        time.sleep(0.01)
    live = time.perf_counter() - started
    job = wait_job(http, job_id)
    return live, float(job["duration_seconds"])  # type: ignore[arg-type]


T = TypeVar("T")


class Searching(threading.Thread):
    """Searches back to back on its own connection until stopped; keeps each latency."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stopped = port, threading.Event()
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        connection = Connection(self.port)
        queries = varied_queries(1000, seed=11)
        while not self.stopped.is_set():
            started = time.perf_counter()
            status, _ = connection.get("/v1/search", {"q": queries[len(self.latencies) % 1000],
                                                      "k": 5})
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.errors += status != 200
        connection.close()

    def during(self, work: Callable[[], T]) -> tuple[T, list[float]]:
        """``work()``'s result and the latencies of the searches made while it ran."""
        first = len(self.latencies)
        result = work()
        return result, self.latencies[first:]

    def beside(self, work: Callable[[], T],
               idle_seconds: Callable[[T], float]) -> tuple[T, Searches]:
        """``work()``'s result, and the searches made while it ran and then over
        ``idle_seconds(result)`` with nothing else going on; searching stops after."""
        result, busy = self.during(work)
        _, idle = self.during(lambda: time.sleep(idle_seconds(result)))
        self.stopped.set()
        self.join()
        return result, Searches(busy, idle, self.errors)


@dataclass(frozen=True)
class Searches:
    """Another client's search latencies (ms) while some work ran, then for as long idle."""

    busy: list[float]
    idle: list[float]
    errors: int

    def report(self, during: str) -> None:
        """Print both spans' percentiles; ``during`` says what the work was."""
        print(f"another client's searches, {self.errors} errors:")
        for label, latencies in ((during, self.busy), ("as long with nothing going on", self.idle)):
            print(f"  {label} ({len(latencies)}): {fmt_ms(percentiles(latencies))}, "
                  f"max {max(latencies):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        kb, data = Path(tmp) / "kb", Path(tmp) / "var"
        report = first_build(kb, data, args.articles)
        runs, searches = edits_beside_searches(kb, data, args.edits)
    live = [r[0] for r in runs]
    for index, (seconds, build) in enumerate(runs, start=1):
        print(f"edit {index}: live in {seconds:.2f} s (build job {build:.2f} s)")
    print(f"edit → searchable: median {statistics.median(live):.2f} s, max {max(live):.2f} s "
          f"(goal ≤ 2 s) on {report.articles} articles / {report.chunks} chunks")
    searches.report("while the edits went live")


def first_build(kb: Path, data: Path, articles: int) -> BuildReport:
    """Generate the KB and build its first snapshot with random vectors."""
    started = time.perf_counter()
    generate_kb(kb, articles)
    print(f"generated {articles} articles in {time.perf_counter() - started:.1f} s")
    # The service's backend and model cache: the int8 export is made here, so the ready
    # time edits_beside_searches prints is the service's start, not a first export.
    encoder = RandomVectors(load_encoder(ModelSpec(backend=ONNX_INT8, model_cache=data / "models")))
    report = build_snapshot(kb, data / "index", encoder, data / "cache" / "embeddings.sqlite",
                            BuildOptions())
    print(f"first build (random vectors): {report.articles} articles, {report.chunks} chunks, "
          f"{report.seconds:.1f} s")
    return report


def edits_beside_searches(kb: Path, data: Path, edits: int,
                          ) -> tuple[list[tuple[float, float]], Searches]:
    """Each edit's seconds until searchable and its build job's, while another client
    searches; that client's searches then, and for as long with nothing going on."""
    server, port, ready = start_service(kb, data, backend=ONNX_INT8,
                                        extra={"DESKMATE_RELOAD_SECONDS": "2"})
    try:
        print(f"service ready after {ready:.1f} s")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            warm = wait_job(http, http.post("/v1/admin/reindex").json()["id"])
            print(f"warm-up reindex (cold worker: model load + reading every file): "
                  f"{warm['duration_seconds']} s, {warm['state']}")
            searching = Searching(port)
            searching.start()
            return searching.beside(
                lambda: [edit_once(http, 17 + 997 * i, f"zqx{i}marker") for i in range(edits)],
                lambda runs: sum(live for live, _ in runs))
    finally:
        stop(server)


if __name__ == "__main__":
    main()
