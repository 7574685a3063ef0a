"""The HTTP API on a real uvicorn server on 127.0.0.1, over real HTTP."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from indexer.embed import Encoder
from indexer.errors import ModelMismatch
from indexer.snapshot import SNAPSHOTS, current_version
from tests.conftest import Deployment, LiveServer, serve_in_thread

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, *detail_parts: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == status
    assert "Traceback" not in response.text
    for part in detail_parts:
        assert part in body["detail"]
    return body


def test_search_returns_the_design_shape(client: httpx.Client) -> None:
    response = client.get("/v1/search", params={"q": "how do I get a refund"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"search_id", "query", "took_ms", "index_version", "no_good_match",
                         "results"}
    first = body["results"][0]
    assert first["article_id"] == "refunds"
    assert first["url"].startswith("/v1/articles/refunds#")
    assert set(first) >= {"title", "section", "snippet", "highlights", "score", "lang", "tags",
                          "updated", "stale"}
    for start, end in first["highlights"]:
        assert 0 <= start < end <= len(first["snippet"])
    assert len(body["results"]) <= 5


def test_post_search_matches_get(client: httpx.Client) -> None:
    got = client.get("/v1/search", params={"q": "zwrot pieniedzy", "k": 3}).json()
    posted = client.post("/v1/search", json={"q": "zwrot pieniedzy", "k": 3}).json()
    assert [r["article_id"] for r in got["results"]] == [r["article_id"] for r in posted["results"]]
    assert got["results"][0]["article_id"] == "refunds-pl"


def test_list_filters_take_commas_or_repeats(client: httpx.Client) -> None:
    commas = client.get("/v1/search", params={"q": "refund", "lang": "pl,ru", "k": 10}).json()
    repeats = client.get("/v1/search", params=[("q", "refund"), ("lang", "pl"), ("lang", "ru"),
                                               ("k", "10")]).json()
    langs = {r["lang"] for r in commas["results"]}
    assert langs == {"pl", "ru"}
    assert commas["results"] == repeats["results"]


def test_persian_text_round_trips_unescaped(client: httpx.Client) -> None:
    response = client.get("/v1/search", params={"q": "رمز عبور"})
    assert response.json()["results"][0]["article_id"] == "password-fa"
    assert "رمز" in response.json()["query"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"q": ""}, "q: String should have at least 1 character"),
        ({"q": "   "}, "q: String should have at least 1 character"),
        ({"q": "x" * 1001}, "q: String should have at most 1000 characters"),
        ({"q": "refund", "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"q": "refund", "k": 51}, "k: Input should be less than or equal to 50"),
        ({"q": "refund", "k": "many"}, "k: Input should be a valid integer"),
        ({"q": "refund", "audience": "everyone"}, "audience.0: Input should be 'public' or 'internal'"),
        ({}, "q: Field required"),
        ({"q": "refund", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_search_requests_are_422_problems(client: httpx.Client, params: dict,
                                              detail: str) -> None:
    assert_problem(client.get("/v1/search", params=params), 422, detail)


def test_bad_post_bodies_are_422_problems(client: httpx.Client) -> None:
    broken = client.post("/v1/search", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert_problem(broken, 422)
    assert_problem(client.post("/v1/search", json={"q": 5}), 422, "q: Input should be a valid string")
    assert_problem(client.post("/v1/search", json=["q"]), 422)


def test_unknown_routes_and_methods_are_problems(client: httpx.Client) -> None:
    assert_problem(client.get("/v2/search"), 404, "no route GET /v2/search")
    assert_problem(client.delete("/v1/search"), 405)


def test_article_has_metadata_markdown_and_safe_html(client: httpx.Client) -> None:
    body = client.get("/v1/articles/refunds").json()
    assert body["title"] == "How to request a refund"
    assert body["translations"] == {"pl": "refunds-pl", "ru": "refunds-ru"}
    assert [s["anchor"] for s in body["sections"]] == ["how-to-request-a-refund", "steps",
                                                        "agent-notes"]
    assert body["markdown"].startswith("# How to request a refund")
    assert '<h2 id="steps">Steps</h2>' in body["html"]
    assert body["stale"] is False


def test_unknown_article_is_a_404_problem(client: httpx.Client) -> None:
    assert_problem(client.get("/v1/articles/nope"), 404, "no article with id 'nope'")


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["articles"] == 7
    assert ready["model"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_openapi_documents_the_api(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/v1/search", "/v1/articles/{article_id}", "/healthz", "/readyz"} <= set(schema["paths"])
    # GET /v1/search reads its own parameters; the schema must still list every one.
    parameters = {p["name"]: p for p in schema["paths"]["/v1/search"]["get"]["parameters"]}
    assert set(parameters) == {"q", "k", "lang", "tags", "product", "audience", "X-Deskmate-Client"}
    assert parameters["q"]["required"] and parameters["q"]["schema"]["maxLength"] == 1000
    assert parameters["audience"]["schema"]["items"]["$ref"] in {
        f"#/components/schemas/{name}" for name in schema["components"]["schemas"]}
    assert client.get("/docs").status_code == 200


@pytest.fixture
def empty_server(tmp_path: Path, encoder: Encoder) -> Iterator[LiveServer]:
    yield from serve_in_thread(Settings(kb_dir=tmp_path / "kb", data_dir=tmp_path / "var"), encoder)


def test_without_an_index_the_service_is_alive_but_not_ready(empty_server: LiveServer) -> None:
    with empty_server.client() as http:
        assert http.get("/healthz").status_code == 200
        assert_problem(http.get("/readyz"), 503, "run `deskmate index build`")
        assert_problem(http.get("/v1/search", params={"q": "refund"}), 503)


def test_the_service_refuses_an_index_built_with_another_model(
        deployment: Deployment, tmp_path: Path, encoder: Encoder) -> None:
    settings = Settings(kb_dir=deployment.kb_dir, data_dir=tmp_path / "var")
    shutil.copytree(deployment.settings.index_path, settings.index_path)
    version = current_version(settings.index_path)
    manifest_path = settings.index_path / SNAPSHOTS / str(version) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["id"] = "BAAI/bge-m3"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ModelMismatch, match="built with model 'BAAI/bge-m3' but the service loaded"):
        create_app(settings, encoder=encoder)
