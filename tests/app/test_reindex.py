"""Reindex jobs, hot swaps under load, article upload and removal, worker death, reloads."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from app.cli import main
from indexer.build import BuildOptions, build_snapshot
from indexer.embed import Encoder
from indexer.snapshot import current_version
from tests.app.test_api import assert_problem
from tests.conftest import Deployment, LiveServer, copy_deployment, serve_in_thread

NEW_ARTICLE = """---
id: solar-panels
title: Solar panel compatibility
lang: en
tags: [energy]
product: thermostat
---
# Solar panel compatibility

The thermostat can prefer heating when your photovoltaic inverter reports surplus power.
"""


@pytest.fixture
def server(deployment: Deployment, encoder: Encoder, tmp_path: Path) -> Iterator[LiveServer]:
    settings = copy_deployment(deployment, tmp_path).model_copy(
        update={"reload_seconds": 0.2, "rate_limit_per_minute": 0})
    yield from serve_in_thread(settings, encoder)


def wait_job(http: httpx.Client, job_id: str, *, until: set[str] | None = None,
             timeout: float = 180) -> dict:
    until = until or {"succeeded", "failed"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/v1/admin/jobs/{job_id}").json()
        if job["state"] in until or job["phase"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {until}: {job}")


def live_version(http: httpx.Client) -> str:
    return http.get("/readyz").json()["index_version"]


def test_reindex_runs_in_the_background_and_swaps(server: LiveServer) -> None:
    with server.client() as http:
        before = live_version(http)
        started = http.post("/v1/admin/reindex")
        assert started.status_code == 202
        job = started.json()
        assert job["state"] in {"queued", "running"}
        conflict = http.post("/v1/admin/reindex")
        assert_problem(conflict, 409, "wait for it")
        assert conflict.json()["job_id"] == job["id"]
        done = wait_job(http, job["id"])
        assert done["state"] == "succeeded", done
        assert done["version"] != before
        assert {e["path"] for e in done["errors"]} == {"broken.md"}
        assert done["duration_seconds"] > 0 and done["finished_at"]
        assert live_version(http) == done["version"]
        info = http.get("/v1/admin/index").json()
        assert info["version"] == done["version"] and info["stale_articles"] == 1
        assert info["counts"]["languages"]["fa"]["articles"] == 1
        assert len(info["retained"]) == 2
        assert 'deskmate_builds_total{state="succeeded"} 1.0' in http.get("/metrics").text


def test_searches_never_fail_while_an_edit_goes_live(server: LiveServer) -> None:
    stop = threading.Event()
    outcomes: list[tuple[int, str]] = []

    def search_continuously() -> None:
        with server.client() as http:
            while not stop.is_set():
                response = http.get("/v1/search", params={"q": "photovoltaic inverter surplus"})
                body = response.json()
                top = body["results"][0]["article_id"] if response.status_code == 200 else ""
                outcomes.append((response.status_code, top))

    clients = [threading.Thread(target=search_continuously) for _ in range(8)]
    for client in clients:
        client.start()
    try:
        with server.client() as http:
            put = http.put("/v1/admin/articles/solar-panels", content=NEW_ARTICLE.encode(),
                           headers={"content-type": "text/markdown"})
            assert put.status_code == 202, put.text
            assert put.json()["path"] == "en/solar-panels.md"
            assert wait_job(http, put.json()["job"]["id"])["state"] == "succeeded"
            time.sleep(0.5)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)
    statuses = {status for status, _ in outcomes}
    assert statuses == {200}, f"{len(outcomes)} requests, statuses {statuses}"
    tops = [top for _, top in outcomes]
    assert tops[-1] == "solar-panels" and "solar-panels" not in tops[:8]
    assert len(outcomes) > 50


def test_edits_and_deletes_rebuild_incrementally(server: LiveServer) -> None:
    with server.client() as http:
        put = http.put("/v1/admin/articles/solar-panels", content=NEW_ARTICLE.encode())
        first = wait_job(http, put.json()["job"]["id"])
        assert first["state"] == "succeeded"
        edited = NEW_ARTICLE.replace("surplus power.", "surplus power.\n\n## Setup\n\nEnable it.")
        second = wait_job(http, http.put("/v1/admin/articles/solar-panels",
                                         content=edited.encode()).json()["job"]["id"])
        assert second["embedded"] == 1  # only the new section went through the model
        article = http.get("/v1/articles/solar-panels").json()
        assert [s["anchor"] for s in article["sections"]][-1] == "setup"
        deleted = http.delete("/v1/admin/articles/solar-panels")
        assert deleted.status_code == 202
        assert wait_job(http, deleted.json()["job"]["id"])["state"] == "succeeded"
        assert_problem(http.get("/v1/articles/solar-panels"), 404)
        assert_problem(http.delete("/v1/admin/articles/solar-panels"), 404)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"---\ntitle: [unclosed\n---\n# x\n", "front matter is not valid YAML"),
        (b"---\nid: other-id\n---\n# x\n\ntext\n", "the front matter says id 'other-id'"),
        ("# Café\n\nPrix 5 €".encode("cp1252"), "not UTF-8"),
        (b"---\ntitle: Empty\n---\n", "no text"),
        (b"---\naudience: everyone\n---\n# x\n\ntext\n", "not one of public, internal"),
    ],
)
def test_an_invalid_upload_is_422_and_writes_nothing(server: LiveServer, body: bytes,
                                                     detail: str) -> None:
    with server.client() as http:
        assert_problem(http.put("/v1/admin/articles/new-article", content=body), 422, detail)
        assert http.get("/v1/admin/index").json()["counts"]["articles"] == 7


def test_an_upload_over_the_limit_is_413(server: LiveServer) -> None:
    with server.client() as http:
        response = http.put("/v1/admin/articles/huge", content=b"# Huge\n\n" + b"x" * 2_200_000)
        assert_problem(response, 413)


def test_a_killed_build_worker_fails_the_job_and_keeps_serving(server: LiveServer,
                                                               tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    for n in range(200):  # enough new text that embedding takes seconds
        (kb / "en" / f"generated-{n}.md").write_text(
            f"# Manual page {n}\n\nStep {n}: turn the dial {n * 3} degrees, then wait.\n",
            encoding="utf-8")
    with server.client() as http:
        before = live_version(http)
        job = http.post("/v1/admin/reindex").json()
        running = wait_job(http, job["id"], until={"embed", "succeeded", "failed"})
        assert running["phase"] == "embed" and running["worker_pid"]
        os.kill(running["worker_pid"], signal.SIGKILL)
        failed = wait_job(http, job["id"])
        assert failed["state"] == "failed"
        assert "killed by signal 9" in failed["error"]
        assert live_version(http) == before
        assert http.get("/v1/search", params={"q": "refund"}).status_code == 200
        retry = wait_job(http, http.post("/v1/admin/reindex").json()["id"])
        assert retry["state"] == "succeeded"
        assert http.get("/v1/admin/index").json()["counts"]["articles"] == 207


def test_a_cli_build_and_a_rollback_are_picked_up(server: LiveServer, tmp_path: Path,
                                                  encoder: Encoder) -> None:
    index = tmp_path / "var" / "index"
    with server.client() as http:
        before = live_version(http)
        (tmp_path / "kb" / "en" / "solar.md").write_text(NEW_ARTICLE, encoding="utf-8")
        report = build_snapshot(tmp_path / "kb", index, encoder, tmp_path / "c.sqlite",
                                BuildOptions())
        deadline = time.monotonic() + 10
        while live_version(http) != report.version:
            assert time.monotonic() < deadline, "the service did not notice the new snapshot"
            time.sleep(0.1)
        result = CliRunner().invoke(main, ["index", "rollback", "--index", str(index)])
        assert result.exit_code == 0, result.output
        assert current_version(index) == before
        deadline = time.monotonic() + 10
        while live_version(http) != before:
            assert time.monotonic() < deadline, "the service did not notice the rollback"
            time.sleep(0.1)
