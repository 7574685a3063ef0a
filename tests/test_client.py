"""The Python client (deskmate_client), sync and async, against a real server over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from app.settings import Settings
from deskmate_client import (
    Article,
    AsyncDeskmateClient,
    Conflict,
    ConnectionFailed,
    DeskmateClient,
    DeskmateError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SearchResponse,
    ServerError,
    Suggestion,
    SuggestResponse,
    Unauthorized,
    ValidationFailed,
)
from indexer.embed import Encoder
from tests.conftest import (
    Deployment,
    LiveServer,
    SecuredServer,
    copy_deployment,
    free_port,
    serve_in_thread,
)

T = TypeVar("T")


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a loop of its own thread (sync Playwright keeps one in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


REFUND_TICKET = {
    "subject": "Re: money back",
    "body": "Hi Anna,\n\nHow do I request a refund for my order?\n\nBest regards,\nJohn\n\n"
            "On Mon, 3 Nov 2026 at 10:15, Nimbus Support <s@example.com> wrote:\n> Restart the router.",
}


@pytest.fixture
def agent(secured_server: SecuredServer) -> Iterator[DeskmateClient]:
    with DeskmateClient(secured_server.url, secured_server.keys.search) as client:
        yield client


@pytest.fixture
def plugin(secured_server: SecuredServer) -> Iterator[DeskmateClient]:
    with DeskmateClient(secured_server.url, secured_server.keys.public, client_name="zendesk") as client:
        yield client


@pytest.fixture
def admin(secured_server: SecuredServer) -> Iterator[DeskmateClient]:
    with DeskmateClient(secured_server.url, secured_server.keys.admin, timeout=30) as client:
        yield client


def test_search_round_trip_is_typed(agent: DeskmateClient) -> None:
    answer = agent.search("how do I get a refund", k=3, lang=["en", "pl"])
    assert isinstance(answer, SearchResponse)
    assert answer.results[0].article_id == "refunds"
    assert len(answer.search_id) == 32
    assert {r.lang for r in answer.results} <= {"en", "pl"}
    assert all(word.lower().startswith("refund") for word in answer.results[0].highlighted)


def test_suggest_round_trip_pins_the_customer_language(plugin: DeskmateClient) -> None:
    answer = plugin.suggest(**REFUND_TICKET, customer_lang="pl", agent_lang="en", k=3)
    assert isinstance(answer, SuggestResponse)
    first = answer.results[0]
    assert isinstance(first, Suggestion)
    assert (first.article_id, first.pinned_from, first.agent_article_id) == (
        "refunds-pl", "refunds", "refunds")
    assert first.languages == ("en", "pl", "ru")
    assert first.internal is False
    assert any(p.part == "subject" for p in first.matched_parts)
    assert [q.part for q in answer.queries][:2] == ["ticket", "subject"]
    assert "Restart the router" not in " ".join(q.text for q in answer.queries)


def test_suggest_excludes_articles_already_sent(plugin: DeskmateClient) -> None:
    answer = plugin.suggest(**REFUND_TICKET, k=10, exclude_article_ids=["refunds"])
    assert not {"refunds", "refunds-pl", "refunds-ru"} & {r.article_id for r in answer.results}


def test_article_and_facets_round_trip(agent: DeskmateClient) -> None:
    article = agent.article("refunds")
    assert isinstance(article, Article)
    assert article.translations == {"pl": "refunds-pl", "ru": "refunds-ru"}
    assert [s.anchor for s in article.sections] == ["how-to-request-a-refund", "steps", "agent-notes"]
    assert "<script" not in article.html
    assert set(agent.facets().lang) == {"en", "pl", "ru", "fa"}


def test_async_client_matches_the_sync_one(secured_server: SecuredServer,
                                           agent: DeskmateClient) -> None:
    async def calls() -> tuple[SearchResponse, SuggestResponse, Article]:
        async with AsyncDeskmateClient(secured_server.url, secured_server.keys.search) as client:
            return await asyncio.gather(client.search("zwrot pieniedzy"),
                                        client.suggest(**REFUND_TICKET),
                                        client.article("wifi"))

    searched, suggested, article = run_async(calls)
    assert [r.article_id for r in searched.results] == [
        r.article_id for r in agent.search("zwrot pieniedzy").results]
    assert suggested.results[0].article_id == agent.suggest(**REFUND_TICKET).results[0].article_id
    assert article.title == "Thermostat won't connect to Wi-Fi"


def test_async_client_raises_the_same_typed_errors(secured_server: SecuredServer) -> None:
    async def missing() -> None:
        async with AsyncDeskmateClient(secured_server.url, secured_server.keys.search) as client:
            await client.article("no-such-article")

    with pytest.raises(NotFound, match="no-such-article"):
        run_async(missing)


def test_feedback_and_events_round_trip(agent: DeskmateClient) -> None:
    answer = agent.search("wifi error E21")
    agent.feedback(answer.search_id, "wifi", True, section="error-e21", comment="solved it")
    agent.event(answer.search_id, "wifi", "copy", rank=1)
    with pytest.raises(NotFound) as raised:
        agent.feedback("0" * 32, "wifi", False)
    assert raised.value.status == 404
    with pytest.raises(ValidationFailed):
        agent.event(answer.search_id, "wifi", "print")


def test_unknown_and_internal_articles_are_not_found(agent: DeskmateClient,
                                                     plugin: DeskmateClient) -> None:
    assert agent.article("escalation").audience == "internal"
    with pytest.raises(NotFound) as raised:
        plugin.article("escalation")
    assert raised.value.type.endswith("not-found")
    assert raised.value.request_id


def test_a_missing_or_wrong_key_is_unauthorized(secured_server: SecuredServer) -> None:
    for key in (None, "dm_nope_nope"):
        with DeskmateClient(secured_server.url, key) as client, pytest.raises(Unauthorized):
            client.search("refund")


def test_admin_calls_need_an_admin_key(agent: DeskmateClient) -> None:
    with pytest.raises(Forbidden) as raised:
        agent.reindex()
    assert isinstance(raised.value, DeskmateError)
    assert "admin" in str(raised.value)


def test_validation_errors_list_the_fields(agent: DeskmateClient) -> None:
    with pytest.raises(ValidationFailed) as raised:
        agent.search("refund", k=0)
    assert raised.value.status == 422
    assert raised.value.errors[0]["loc"][-1] == "k"
    with pytest.raises(ValidationFailed, match="no text left"):
        agent.suggest(subject="Re:", body="Thanks in advance!")


def test_an_oversized_ticket_is_payload_too_large(plugin: DeskmateClient) -> None:
    with pytest.raises(PayloadTooLarge):
        plugin.suggest(subject="big", body="x" * (64 * 1024))


def test_admin_round_trip_uploads_searches_and_removes(admin: DeskmateClient) -> None:
    info = admin.index_info()
    assert info.counts
    markdown = ("---\nid: client-test\ntitle: Descaling the kettle\nlang: en\n---\n"
                "# Descaling the kettle\n\nUse citric acid to descale the zorblax kettle.\n")
    job = admin.wait_for_job(admin.put_article("client-test", markdown).job.id)
    assert job.state == "succeeded", job.error
    assert admin.search("zorblax kettle").results[0].article_id == "client-test"
    removed = admin.delete_article("client-test")
    assert admin.wait_for_job(removed.job.id).state == "succeeded"
    with pytest.raises(NotFound):
        admin.article("client-test")


def test_a_second_reindex_while_one_runs_is_a_conflict(admin: DeskmateClient) -> None:
    first = admin.reindex()
    try:
        with pytest.raises(Conflict) as raised:
            admin.reindex()
        assert raised.value.job_id == first.id
    finally:
        assert admin.wait_for_job(first.id).state == "succeeded"


def test_rate_limits_say_when_to_retry(deployment: Deployment, encoder: Encoder,
                                       tmp_path: Path) -> None:
    settings = copy_deployment(deployment, tmp_path).model_copy(
        update={"rate_limit_per_minute": 1, "rate_limit_burst": 1})
    for server in serve_in_thread(settings, encoder):
        with DeskmateClient(server.url) as client:
            client.search("refund")
            with pytest.raises(RateLimited) as raised:
                client.search("refund")
    assert raised.value.retry_after is not None and raised.value.retry_after > 0


def test_a_server_without_an_index_is_a_server_error(encoder: Encoder, tmp_path: Path) -> None:
    settings = Settings(kb_dir=tmp_path / "kb", data_dir=tmp_path / "var")
    for server in serve_in_thread(settings, encoder):
        with DeskmateClient(server.url) as client, pytest.raises(ServerError) as raised:
            client.suggest(subject="refund")
    assert raised.value.status == 503


def test_an_unreachable_server_is_connection_failed() -> None:
    with DeskmateClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client:
        with pytest.raises(ConnectionFailed, match="127.0.0.1"):
            client.search("refund")


def test_ready_reports_the_loaded_index(live_server: LiveServer) -> None:
    with DeskmateClient(live_server.url) as client:  # no keys: local anonymous agent
        assert client.ready()["status"] == "ready"
