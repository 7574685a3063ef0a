"""Background index builds: a long-lived worker process and the jobs it runs.

Builds run in a separate process, so the service's request threads never wait on
the build's GIL. The worker loads the model once and keeps a BuildCache, so a
rebuild after one edited article reprocesses only that file. One build runs at a
time: an explicit reindex while one runs is refused (409); article edits coalesce
into one follow-up build.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from multiprocessing.connection import Connection
from typing import Any

from app.metrics import Metrics
from app.worker import BuildRequest, worker_main
from indexer.errors import DeskmateError

logger = logging.getLogger(__name__)

HISTORY = 100


class Conflict(DeskmateError):
    status = 409
    type = "build-running"
    title = "A build is already running"

    def __init__(self, detail: str, job_id: str) -> None:
        super().__init__(detail)
        self.job_id = job_id


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True)
class Job:
    """One build, as admins see it."""

    id: str
    reason: str
    state: JobState = JobState.QUEUED
    phase: str | None = None
    done: int = 0
    total: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: str | None = None
    error: str | None = None
    embedded: int | None = None
    worker_pid: int | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(UTC)
        return round((end - self.started_at).total_seconds(), 3)


class JobRunner:
    """Runs build jobs one at a time in the worker process; keeps the last 100 jobs."""

    def __init__(self, request: BuildRequest, *, metrics: Metrics,
                 on_published: Callable[[str], object]) -> None:
        self._request = request
        self._metrics = metrics
        self._on_published = on_published
        self._jobs: dict[str, Job] = {}
        self._running: Job | None = None
        self._queued: Job | None = None
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def submit(self, reason: str, *, coalesce: bool) -> Job:
        """Start a build, or with ``coalesce`` join/queue one after the running build.

        Raises:
            Conflict: a build is running and ``coalesce`` is false.
        """
        with self._lock:
            if self._running is not None:
                if not coalesce:
                    raise Conflict(f"build {self._running.id} is {self._running.state}; wait for "
                                   f"it (GET /v1/admin/jobs/{self._running.id})", self._running.id)
                if self._queued is None:
                    self._queued = self._remember(Job(uuid.uuid4().hex[:12], reason))
                return self._queued
            job = self._running = self._remember(Job(uuid.uuid4().hex[:12], reason))
        threading.Thread(target=self._run_chain, args=(job,), name="deskmate-build",
                         daemon=True).start()
        return job

    def _remember(self, job: Job) -> Job:
        self._jobs[job.id] = job
        while len(self._jobs) > HISTORY:
            self._jobs.pop(next(iter(self._jobs)))
        return job

    def _run_chain(self, job: Job) -> None:
        while True:
            self._run(job)
            with self._lock:
                job, self._queued = self._queued, None  # type: ignore[assignment]
                self._running = job
                if job is None:
                    return

    def _run(self, job: Job) -> None:
        job.state, job.started_at = JobState.RUNNING, datetime.now(UTC)
        try:
            conn = self._worker()
            job.worker_pid = self._process.pid
            conn.send(("build", job.id, self._request))
            self._follow(job, conn)
        except (EOFError, OSError, BrokenPipeError):
            self._fail(job, self._death_reason())
        except Exception as exc:  # the job must end in a state, whatever happened
            logger.exception("build job %s crashed", job.id)
            self._fail(job, f"{type(exc).__name__}: {exc}")
        finally:
            job.finished_at = job.finished_at or datetime.now(UTC)
            if job.duration_seconds is not None:
                self._metrics.build_duration.observe(job.duration_seconds)
            self._metrics.builds.labels(job.state.value).inc()

    def _follow(self, job: Job, conn: Connection) -> None:
        while True:
            kind, _, *payload = conn.recv()
            if kind == "progress":
                job.phase, job.done, job.total = payload
            elif kind == "failed":
                self._fail(job, payload[0])
                return
            elif kind == "done":
                report = payload[0]
                job.version, job.embedded = report["version"], report["embedded"]
                job.errors = report["problems"]
                try:
                    self._on_published(report["version"])
                except DeskmateError as exc:
                    self._fail(job, f"published {report['version']} but could not load it: {exc}")
                    return
                job.state, job.finished_at = JobState.SUCCEEDED, datetime.now(UTC)
                logger.info("build job %s published %s in %.1f s", job.id, job.version,
                            job.duration_seconds or 0)
                return

    def _fail(self, job: Job, error: str) -> None:
        job.state, job.error, job.finished_at = JobState.FAILED, error, datetime.now(UTC)
        logger.error("build job %s failed: %s", job.id, error)

    def _worker(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=worker_main, args=(child, self._request),
                                        name="deskmate-build-worker", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        return parent

    def _death_reason(self) -> str:
        process, self._conn = self._process, None
        if process is None:
            return "the build worker could not be started"
        process.join(timeout=5)
        code = process.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else \
            f"exited with code {code}"
        return (f"the build worker {how} before publishing; the live index is unchanged. "
                "A new worker starts with the next build")

    def close(self) -> None:
        process = self._process
        if process is not None and process.is_alive():
            try:
                if self._conn is not None:
                    self._conn.send(("stop", None))
            except (OSError, BrokenPipeError):
                pass
            process.join(timeout=3)
            if process.is_alive():
                process.terminate()
        self._process = None


def wait_for(job: Job, timeout: float = 120.0) -> Job:
    """Block until ``job`` finishes (for the CLI and tests)."""
    deadline = time.monotonic() + timeout
    while job.state in (JobState.QUEUED, JobState.RUNNING) and time.monotonic() < deadline:
        time.sleep(0.05)
    return job
