"""Feedback, click events and the search log over real HTTP; durability under kill -9."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.searchlog import client_kind, mask_personal_data
from app.store import Store, feedback, searches
from tests.app.test_api import assert_problem
from tests.conftest import Deployment, LiveServer, copy_deployment, serve_process


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("refund for jan.kowalski+shop@example.co.uk please", "refund for [email] please"),
        ("call me at +48 600 123 456 about order", "call me at [phone] about order"),
        ("zamówienie 2026112312345 nie doszło", "zamówienie [number] nie doszło"),
        ("карта 4111 1111 1111 1111 списали дважды", "карта [phone] списали дважды"),
        ("سفارش ۱۲۳۴۵۶۷ کجاست", "سفارش ۱۲۳۴۵۶۷ کجاست".replace("۱۲۳۴۵۶۷", "[number]")),
        ("error E21 after 3 days", "error E21 after 3 days"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_client_kind_is_sanitized() -> None:
    assert client_kind("Sidebar") == "sidebar"
    assert client_kind("zendesk-app") == "zendesk-app"
    assert client_kind("<script>") == "api" and client_kind(None) == "api"


def logged(settings_url: str, table: object) -> list[dict]:
    store = Store(settings_url)
    now = datetime.now(UTC)
    rows = store.rows(table, since=now - timedelta(days=1), until=now + timedelta(days=1))  # type: ignore[arg-type]
    store.close()
    return rows


def test_searches_are_logged_masked_and_feedback_round_trips(
        deployment: Deployment, live_server: LiveServer) -> None:
    with live_server.client() as http:
        body = http.get("/v1/search", params={"q": "refund for anna@example.com", "k": 3},
                        headers={"X-Deskmate-Client": "sidebar"}).json()
        search_id, top = body["search_id"], body["results"][0]["article_id"]
        first = http.post("/v1/feedback", json={"search_id": search_id, "article_id": top,
                                                "section": "steps", "helpful": False})
        assert first.status_code == 201
        again = http.post("/v1/feedback", json={"search_id": search_id, "article_id": top,
                                                "helpful": True, "comment": "good now"})
        assert again.status_code == 201
        event = http.post("/v1/events", json={"search_id": search_id, "article_id": top,
                                              "rank": 1, "action": "copy"})
        assert event.status_code == 201
        later = http.get("/v1/search", params={"q": "refund", "k": 3}).json()
    row = next(r for r in logged(deployment.settings.store_url, searches) if r["id"] == search_id)
    assert row["query"] == "refund for [email]"
    assert row["client"] == "sidebar" and row["endpoint"] == "search" and row["lang"] == "en"
    assert [r["article_id"] for r in row["results"]] == [r["article_id"] for r in body["results"]]
    votes = [r for r in logged(deployment.settings.store_url, feedback) if r["search_id"] == search_id]
    assert [(v["helpful"], v["comment"]) for v in votes] == [(True, "good now")]
    rated = next(r for r in later["results"] if r["article_id"] == top)
    assert rated["votes"] >= 1 and rated["helpful_rate"] is not None


def test_feedback_for_an_unknown_search_is_404(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.post("/v1/feedback", json={"search_id": "0" * 32, "article_id": "refunds",
                                                   "helpful": True})
        assert_problem(response, 404, "no search")
        assert_problem(http.post("/v1/events", json={"search_id": "0" * 32,
                                                     "article_id": "refunds", "action": "open"}),
                       404)


@pytest.mark.parametrize(
    "body",
    [
        {"search_id": "x", "article_id": "refunds"},
        {"search_id": "x", "article_id": "refunds", "helpful": "maybe"},
        {"search_id": "", "article_id": "refunds", "helpful": True},
        {"search_id": "x", "article_id": "refunds", "helpful": True, "stars": 5},
    ],
)
def test_invalid_feedback_is_422(live_server: LiveServer, body: dict) -> None:
    assert_problem(httpx.post(f"{live_server.url}/v1/feedback", json=body), 422)


def test_invalid_event_action_is_422(live_server: LiveServer) -> None:
    response = httpx.post(f"{live_server.url}/v1/events",
                          json={"search_id": "x", "article_id": "y", "action": "print"})
    assert_problem(response, 422, "action")


def test_acknowledged_feedback_survives_kill_9(deployment: Deployment, tmp_path: Path) -> None:
    settings = copy_deployment(deployment, tmp_path)
    with serve_process(settings, tmp_path / "serve.log") as (server, url):
        search_id = httpx.get(f"{url}/v1/search", params={"q": "wifi"}).json()["search_id"]
        response = httpx.post(f"{url}/v1/feedback", json={"search_id": search_id,
                                                          "article_id": "wifi", "helpful": True})
        assert response.status_code == 201
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    rows = logged(settings.store_url, feedback)
    assert [(r["search_id"], r["article_id"], r["helpful"]) for r in rows] == [
        (search_id, "wifi", True)]
