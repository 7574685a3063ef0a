"""API keys, scopes, the anonymous policy, limits, CORS, request ids and metrics, over HTTP."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from app.auth import StartupRefused
from app.cli import main
from app.logs import JsonFormatter, RequestIdFilter, request_id
from app.main import create_app
from app.settings import Settings
from app.store import Scope, Store
from indexer.embed import Encoder
from tests.app.test_api import assert_problem
from tests.conftest import Deployment, LiveServer, SecuredServer, copy_deployment, serve_in_thread


def get(server: LiveServer, path: str, key: str | None = None, **params: str) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.get(server.url + path, params=params, headers=headers, timeout=30)


def test_no_key_is_401_once_keys_exist(secured_server: SecuredServer) -> None:
    response = get(secured_server, "/v1/search", q="refund")
    assert_problem(response, 401, "requires an API key")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_problem(get(secured_server, "/v1/search", "dm_00000000_forged", q="refund"), 401,
                   "unknown or revoked")


def test_keys_work_as_bearer_or_x_api_key(secured_server: SecuredServer) -> None:
    key = secured_server.keys.search
    bearer = httpx.get(f"{secured_server.url}/v1/search", params={"q": "refund"},
                       headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200
    assert get(secured_server, "/v1/search", key, q="refund").status_code == 200


def test_a_search_key_cannot_administer(secured_server: SecuredServer) -> None:
    assert_problem(get(secured_server, "/v1/admin/index", secured_server.keys.search), 403,
                   "needs the admin scope")
    assert get(secured_server, "/v1/admin/index", secured_server.keys.admin).status_code == 200


def test_a_public_key_never_sees_internal_articles(secured_server: SecuredServer) -> None:
    public, agent = secured_server.keys.public, secured_server.keys.search
    query = {"q": "chargeback dispute escalation", "k": "10"}
    def found(key: str) -> set[str]:
        body = get(secured_server, "/v1/search", key, **query).json()
        return {r["article_id"] for r in body["results"]}

    agent_ids, public_ids = found(agent), found(public)
    assert "escalation" in agent_ids
    assert "escalation" not in public_ids and public_ids
    assert_problem(get(secured_server, "/v1/articles/escalation", public), 404)
    assert get(secured_server, "/v1/articles/escalation", agent).status_code == 200
    assert_problem(get(secured_server, "/v1/search", public, q="x", audience="internal"), 403)
    assert get(secured_server, "/v1/facets", public).json()["audience"] == ["public"]


def test_revoked_keys_stop_working(secured_server: SecuredServer) -> None:
    store = Store(secured_server.settings.store_url)
    key, secret = store.create_key(name="temp", scopes=frozenset({Scope.SEARCH}), internal=True)
    assert get(secured_server, "/v1/search", secret, q="refund").status_code == 200
    assert store.revoke_key(key_id=key.id)
    store.close()
    time.sleep(2.2)  # the service caches a verified key for 2 s
    assert_problem(get(secured_server, "/v1/search", secret, q="refund"), 401)


def test_only_a_hash_of_the_key_is_stored(secured_server: SecuredServer) -> None:
    database = Path(secured_server.settings.store_url.removeprefix("sqlite:///")).read_bytes()
    assert secured_server.keys.admin.encode() not in database


def test_rate_limit_answers_429_with_retry_after(deployment: Deployment, encoder: Encoder,
                                                 tmp_path: Path) -> None:
    settings = copy_deployment(deployment, tmp_path).model_copy(
        update={"rate_limit_per_minute": 30, "rate_limit_burst": 3})
    for server in serve_in_thread(settings, encoder):
        statuses = [get(server, "/v1/search", q="refund").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = get(server, "/v1/search", q="refund")
        assert_problem(limited, 429, "requests a minute")
        assert int(limited.headers["retry-after"]) >= 1
        assert get(server, "/healthz").status_code == 200  # probes are not limited


def test_request_bodies_over_the_limit_are_413(live_server: LiveServer) -> None:
    big = {"q": "refund", "padding": "x" * 20_000}
    response = httpx.post(f"{live_server.url}/v1/search", json=big)
    assert_problem(response, 413, "over the 16,384-byte limit")


def test_cors_allows_only_configured_origins(deployment: Deployment, encoder: Encoder,
                                             tmp_path: Path) -> None:
    settings = copy_deployment(deployment, tmp_path).model_copy(
        update={"cors_origins": ["https://acme.zendesk.com"]})
    def preflight(server: LiveServer, origin: str) -> httpx.Response:
        return httpx.options(f"{server.url}/v1/search", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key"})

    for server in serve_in_thread(settings, encoder):
        allowed = preflight(server, "https://acme.zendesk.com")
        assert allowed.headers["access-control-allow-origin"] == "https://acme.zendesk.com"
        assert "access-control-allow-origin" not in preflight(server, "https://evil.example").headers


def test_request_ids_are_echoed_or_made(live_server: LiveServer) -> None:
    echoed = httpx.get(f"{live_server.url}/healthz", headers={"X-Request-ID": "ticket-42.a"})
    assert echoed.headers["x-request-id"] == "ticket-42.a"
    made = httpx.get(f"{live_server.url}/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32


def test_json_logs_carry_the_request_id() -> None:
    record = logging.LogRecord("deskmate.access", logging.INFO, __file__, 1, "GET %s", ("/x",),
                               None)
    record.status = 200
    token = request_id.set("abc123")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /x" and line["request_id"] == "abc123" and line["status"] == 200


def test_metrics_count_requests_searches_and_the_index(live_server: LiveServer) -> None:
    httpx.get(f"{live_server.url}/v1/search", params={"q": "refund"})
    httpx.get(f"{live_server.url}/v1/search", params={"q": "xqzv blorp frobnicate"})
    text = httpx.get(f"{live_server.url}/metrics").text
    assert 'deskmate_http_requests_total{method="GET",route="/v1/search",status="200"}' in text
    assert 'deskmate_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/search"}' in text
    assert 'deskmate_searches_total{endpoint="search"}' in text
    assert 'deskmate_no_good_match_total{endpoint="search"}' in text
    assert "deskmate_index_articles 7.0" in text
    assert "deskmate_index_info{model=" in text


@pytest.fixture
def lonely_settings(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(kb_dir=tmp_path / "kb", data_dir=tmp_path / "var", host="0.0.0.0")


def test_a_public_address_without_keys_is_refused(lonely_settings: Settings,
                                                  encoder: Encoder) -> None:
    with pytest.raises(StartupRefused, match="DESKMATE_ALLOW_ANONYMOUS=true"):
        create_app(lonely_settings, encoder=encoder)
    create_app(lonely_settings.model_copy(update={"allow_anonymous": True}), encoder=encoder)
    store = Store(lonely_settings.store_url)
    store.create_key(name="ops", scopes=frozenset({Scope.ADMIN}), internal=True)
    store.close()
    create_app(lonely_settings, encoder=encoder)


def test_serve_explains_the_refusal(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"],
                                env={"DESKMATE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "refusing to listen on 0.0.0.0 without API keys" in result.output


def test_keys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    env = {"DESKMATE_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--name", "zendesk", "--public"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("dm_")
    key_id = secret.split("_")[1]
    listed = runner.invoke(main, ["keys", "list"], env=env)
    assert key_id in listed.output and "zendesk" in listed.output and "public" in listed.output
    assert secret not in listed.output
    assert runner.invoke(main, ["keys", "revoke", key_id], env=env).exit_code == 0
    again = runner.invoke(main, ["keys", "revoke", key_id], env=env)
    assert again.exit_code == 1 and "no active key" in again.output
