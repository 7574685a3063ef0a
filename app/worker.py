"""The build worker process: loads the model once, then builds on request.

Runs in a process of its own (spawned), talking to the service over a pipe:
``("build", job_id, BuildRequest)`` in; ``("progress", job_id, phase, done, total)``,
then ``("done", job_id, report)`` or ``("failed", job_id, reason)`` out.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from indexer.build import BuildCache, BuildOptions, Phase, build_snapshot
from indexer.embed import Encoder, ModelSpec, load_encoder
from indexer.errors import DeskmateError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """Everything a build needs, as plain values (it crosses a process boundary)."""

    kb_dir: Path
    index_dir: Path
    cache_path: Path
    model: ModelSpec
    options: BuildOptions
    log_level: str = "INFO"


def worker_main(conn: Connection, request: BuildRequest) -> None:
    """Serve build requests until told to stop or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the service stops the service
    logging.basicConfig(level=request.log_level,
                        format="%(asctime)s %(levelname)s build-worker %(name)s: %(message)s")
    encoder = load_encoder(request.model)
    cache = BuildCache()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] != "build":
            return
        _, job_id, current = message
        _build(conn, job_id, current, encoder, cache)


def _build(conn: Connection, job_id: str, request: BuildRequest, encoder: Encoder,
           cache: BuildCache) -> None:
    def progress(phase: Phase, done: int, total: int) -> None:
        conn.send(("progress", job_id, phase.value, done, total))

    try:
        report = build_snapshot(request.kb_dir, request.index_dir, encoder,
                                request.cache_path, request.options, cache=cache,
                                progress=progress)
    except DeskmateError as exc:
        conn.send(("failed", job_id, str(exc)))
        return
    except Exception as exc:  # reported to the job, the worker lives on
        logger.exception("build %s crashed", job_id)
        conn.send(("failed", job_id, f"{type(exc).__name__}: {exc}"))
        return
    body = asdict(report)
    body["problems"] = [{"path": p.path, "reason": p.reason} for p in report.problems]
    conn.send(("done", job_id, body))
