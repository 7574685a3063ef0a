"""Shared pieces of the benchmarks: the machine, a light HTTP client, servers, query sets.

Every server here listens on 127.0.0.1 and every request goes there; nothing else is
contacted. The client is deliberately light (one process, raw HTTP/1.1 over keep-alive
sockets, TCP_NODELAY) because it shares the machine's cores with the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEV_QUERIES = ROOT / "bench" / "dev_queries.jsonl"
PREFIXES = ["", "customer asks: ", "how do i ", "help - ", "question: ", "urgent: ", "hi, "]
SUFFIXES = ["", "?", " please", " thanks", " asap", " (ticket)", " again"]


def machine() -> str:
    """Cores, CPU model, Python, and the load when the benchmark starts."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
            f"load average {load} at start")


def dev_queries() -> list[dict[str, object]]:
    return [json.loads(line) for line in DEV_QUERIES.read_text("utf-8").splitlines() if line.strip()]


def varied_queries(count: int, seed: int) -> list[str]:
    """``count`` distinct queries (see :func:`varied_with_lang`)."""
    return [text for text, _ in varied_with_lang(count, seed)]


def varied_with_lang(count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` distinct queries and their language: the dev questions with seeded
    prefixes, suffixes, case, a dropped or swapped word (so the query cache never hits)."""
    rng = random.Random(seed)
    base = [(str(q["q"]), str(q["lang"])) for q in dev_queries()]
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < count:
        source, lang = rng.choice(base)
        words = source.split()
        if len(words) > 3 and rng.random() < 0.3:
            del words[rng.randrange(len(words))]
        if len(words) > 2 and rng.random() < 0.3:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        text = rng.choice(PREFIXES) + " ".join(words) + rng.choice(SUFFIXES)
        text = text.lower() if rng.random() < 0.3 else text
        if text not in seen:
            seen.add(text)
            out.append((text, lang))
    return out


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples_ms)
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "p99": float(np.percentile(values, 99)), "mean": float(values.mean())}


def fmt_ms(stats: dict[str, float]) -> str:
    return f"p50 {stats['p50']:.2f} / p95 {stats['p95']:.2f} / p99 {stats['p99']:.2f} ms"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (and its reaped children) used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(v) for v in fields[11:15]) / ticks


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """Resident memory now and at its peak, in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 (blocking)."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rb")

    def get(self, path: str, params: dict[str, object]) -> tuple[int, bytes]:
        target = f"{path}?{urlencode(params)}"
        self._sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        status = int(self._file.readline().split()[1])
        length = 0
        while (line := self._file.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, self._file.read(length)

    def close(self) -> None:
        self._file.close()
        self._sock.close()


def time_requests(port: int, path: str, queries: Sequence[str],
                  params: Callable[[str], dict[str, object]]) -> tuple[list[float], int]:
    """Sequential requests on one keep-alive connection: latencies (ms) and errors."""
    connection = Connection(port)
    latencies, errors = [], 0
    try:
        for query in queries:
            started = time.perf_counter()
            status, _ = connection.get(path, params(query))
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status != 200
    finally:
        connection.close()
    return latencies, errors


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    client_cpu: float
    server_cpu: float

    @property
    def qps(self) -> float:
        return self.requests / self.seconds


async def _client(port: int, path: str, queries: Sequence[str], params: Callable[[str], dict[str, object]],
                  deadline: float, offset: int, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = offset
    try:
        while time.perf_counter() < deadline:
            query = queries[n % len(queries)]
            n += 8
            writer.write(f"GET {path}?{urlencode(params(query))} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                         .encode())
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            counts[0] += 1
            counts[1] += status != 200
    finally:
        writer.close()


def load_test(port: int, server_pid: int, path: str, queries: Sequence[str],
              params: Callable[[str], dict[str, object]], *, clients: int = 8,
              seconds: float = 30.0) -> LoadResult:
    """``clients`` concurrent keep-alive clients (asyncio, one thread) for ``seconds``."""
    counts = [0, 0]
    server_before, client_before = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, path, queries, params, deadline, i, counts)
                               for i in range(clients)))

    asyncio.run(run())
    elapsed = time.perf_counter() - started
    return LoadResult(counts[0], counts[1], elapsed, time.process_time() - client_before,
                      cpu_seconds(server_pid) - server_before)


def start_service(kb: Path, data: Path, *, backend: str, extra: dict[str, str] | None = None,
                  ) -> tuple[subprocess.Popen[bytes], int, float]:
    """``deskmate serve`` on a free loopback port; returns it, the port and the ready time."""
    port = free_port()
    env = {**os.environ, "DESKMATE_KB_DIR": str(kb), "DESKMATE_DATA_DIR": str(data),
           "DESKMATE_RATE_LIMIT_PER_MINUTE": "0", "DESKMATE_LOG_LEVEL": "warning",
           "DESKMATE_BACKEND": backend, "DESKMATE_RELOAD_SECONDS": "0", **(extra or {})}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    ready = wait_ready(port, server, "/readyz", started)
    return server, port, ready


def wait_ready(port: int, server: subprocess.Popen[bytes], path: str, started: float,
               timeout: float = 300) -> float:
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was ready")
        try:
            connection = Connection(port)
            try:
                status, _ = connection.get(path, {})
            finally:
                connection.close()
            if status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} was not ready after {timeout} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def sample_searcher(kb: Path) -> object:
    """The real Searcher over a fresh snapshot of ``kb``, built with the configured model
    (vectors come from the embedding cache after the first run)."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from app.main import search_config
    from app.search import Searcher
    from app.settings import Settings
    from indexer.build import BuildOptions, build_snapshot
    from indexer.embed import load_encoder
    from indexer.snapshot import load_snapshot

    settings = Settings()
    encoder = load_encoder(settings.model_spec(serving=True))
    with tempfile.TemporaryDirectory() as tmp:
        build_snapshot(kb, Path(tmp), encoder, settings.cache_path, BuildOptions())
        return Searcher(load_snapshot(Path(tmp)), encoder, search_config(settings))
