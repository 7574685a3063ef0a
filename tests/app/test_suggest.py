"""``POST /v1/suggest`` on a real server: cleaning, fusion, exclusion, pinning, internal text."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from app.search import Searcher
from app.settings import Settings
from app.store import Scope, Store
from app.suggest import Access, Ticket, suggest
from indexer.build import BuildOptions, build_snapshot
from indexer.embed import Encoder
from indexer.records import Audience
from tests.app.test_api import assert_problem
from tests.conftest import ARTICLES, LiveServer, serve_in_thread, write_kb

SECRET = "PARCEL-SORRY-25"
PARCEL = f"""---
id: parcel-missing
title: Parcel marked delivered but not received
lang: en
tags: [delivery]
product: store
internal_sections: [agent-notes]
---
# Parcel marked delivered but not received

If tracking says the parcel was delivered but nothing arrived, ask your neighbours and
check the tracking photo, then wait one working day: couriers sometimes mark a parcel
delivered before they reach the door.

## Agent notes

Lost by the courier: give the goodwill voucher {SECRET} and reship at once, no questions.
"""

REFUND_TICKET = {
    "subject": "Re: money back",
    "body": ("Hi Anna,\n\nHow do I request a refund for my order? I want my money back.\n\n"
             "Thanks in advance!\n\nBest regards,\nJohn\n\nOn Mon, 3 Nov 2026 at 10:15, Nimbus "
             "Support <support@nimbushome.example> wrote:\n> Please restart the thermostat and "
             "check the Wi-Fi error E21."),
}


@dataclass(frozen=True)
class HelpdeskServer(LiveServer):
    agent_key: str
    plugin_key: str

    def suggest(self, key: str, **body: object) -> httpx.Response:
        with self.client() as http:
            return http.post("/v1/suggest", json=body, headers={"X-API-Key": key})


@pytest.fixture(scope="module")
def helpdesk(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskServer]:
    """The tiny KB plus an article with an internal section; an agent key and a plugin key."""
    root = tmp_path_factory.mktemp("helpdesk")
    settings = Settings(kb_dir=write_kb(root / "kb", ARTICLES | {"en/parcel.md": PARCEL}),
                        data_dir=root / "var")
    build_snapshot(settings.kb_dir, settings.index_path, encoder, settings.cache_path, BuildOptions())
    store = Store(settings.store_url)
    store.migrate()
    agent = store.create_key(name="agents", scopes=frozenset({Scope.SEARCH}), internal=True)[1]
    plugin = store.create_key(name="zendesk", scopes=frozenset({Scope.SEARCH}), internal=False)[1]
    store.close()
    for server in serve_in_thread(settings, encoder):
        yield HelpdeskServer(server.url, agent, plugin)


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["article_id"] for r in response.json()["results"]]


def test_suggest_answers_a_noisy_ticket_with_the_search_shape(helpdesk: HelpdeskServer) -> None:
    response = helpdesk.suggest(helpdesk.agent_key, **REFUND_TICKET)
    assert ids(response)[0] == "refunds"
    body = response.json()
    assert uuid.UUID(hex=body["search_id"]).version == 4
    assert set(body) >= {"search_id", "query", "queries", "customer_lang", "took_ms",
                         "index_version", "no_good_match", "results"}
    assert body["query"] == "money back\nHow do I request a refund for my order? I want my money back."
    searched = " ".join(q["text"] for q in body["queries"])
    assert "E21" not in searched and "Best regards" not in searched and "Hi Anna" not in searched
    first = body["results"][0]
    assert set(first) >= {"title", "section", "url", "snippet", "highlights", "score", "passage",
                          "internal", "why", "languages", "translations"}
    assert first["languages"] == ["en", "pl", "ru"]
    assert {p["part"] for p in first["why"]["parts"]} >= {"ticket", "subject"}
    assert first["why"]["terms"]
    for start, end in first["highlights"]:
        assert first["snippet"][start:end] in first["why"]["terms"]


def test_the_customer_language_is_detected_and_pinned(helpdesk: HelpdeskServer) -> None:
    response = helpdesk.suggest(helpdesk.plugin_key, subject="Zwrot",
                                body="Dzień dobry,\nchcę zwrot pieniędzy za zamówienie.\nPozdrawiam\nJan")
    assert ids(response)[0] == "refunds-pl"
    body = response.json()
    assert (body["customer_lang"], body["customer_lang_source"]) == ("pl", "detected")


def test_pinning_returns_the_translation_in_the_customer_language(helpdesk: HelpdeskServer) -> None:
    response = helpdesk.suggest(helpdesk.plugin_key, customer_lang="ru", agent_lang="en",
                                **REFUND_TICKET)
    first = response.json()["results"][0]
    assert first["article_id"] == "refunds-ru"
    assert first["lang"] == "ru"
    assert first["pinned_from"] == "refunds"
    assert first["agent_article_id"] == "refunds"
    assert first["translations"] == {"en": "refunds", "pl": "refunds-pl"}
    assert "деньги" in first["passage"].lower()
    assert response.json()["customer_lang_source"] == "given"


def test_without_a_translation_the_original_is_returned(helpdesk: HelpdeskServer) -> None:
    response = helpdesk.suggest(helpdesk.plugin_key, subject="Wi-Fi error E21",
                                body="The thermostat cannot see my network.", customer_lang="fa")
    first = response.json()["results"][0]
    assert (first["article_id"], first["pinned_from"], first["translations"]) == ("wifi", None, {})


def test_excluded_articles_and_their_translations_are_left_out(helpdesk: HelpdeskServer) -> None:
    before = ids(helpdesk.suggest(helpdesk.agent_key, k=10, **REFUND_TICKET))
    assert "refunds" in before
    after = ids(helpdesk.suggest(helpdesk.agent_key, k=10, exclude_article_ids=["refunds-pl"],
                                 **REFUND_TICKET))
    assert not {"refunds", "refunds-pl", "refunds-ru"} & set(after)
    assert [a for a in before if not a.startswith("refunds")][:len(after)] == after


LOST_PARCEL = {"subject": "Lost parcel",
               "body": "Tracking says delivered, nothing arrived. I want the goodwill voucher "
                       "and a reship at once."}


def test_agents_see_internal_passages_flagged(helpdesk: HelpdeskServer) -> None:
    response = helpdesk.suggest(helpdesk.agent_key, **LOST_PARCEL)
    parcel = next(r for r in response.json()["results"] if r["article_id"] == "parcel-missing")
    assert parcel["internal"] is True
    assert SECRET in parcel["passage"]
    assert parcel["section"] == "Agent notes"


def test_plugin_keys_never_receive_internal_text(helpdesk: HelpdeskServer) -> None:
    response = helpdesk.suggest(helpdesk.plugin_key, k=10, **LOST_PARCEL)
    assert SECRET not in response.text
    parcel = next(r for r in response.json()["results"] if r["article_id"] == "parcel-missing")
    assert parcel["internal"] is False
    assert parcel["url"] == "/v1/articles/parcel-missing#parcel-marked-delivered-but-not-received"
    assert "neighbours" in parcel["passage"]


def test_an_article_matching_only_in_internal_text_is_dropped_for_plugins(
        helpdesk: HelpdeskServer) -> None:
    ticket = {"subject": "goodwill voucher", "body": "reship at once, no questions"}
    assert "parcel-missing" in ids(helpdesk.suggest(helpdesk.agent_key, **ticket))
    assert "parcel-missing" not in ids(helpdesk.suggest(helpdesk.plugin_key, **ticket))


def test_plugin_keys_never_receive_internal_articles(helpdesk: HelpdeskServer) -> None:
    ticket = {"subject": "Chargeback", "body": "The bank sent a dispute letter about a chargeback."}
    assert ids(helpdesk.suggest(helpdesk.agent_key, **ticket))[0] == "escalation"
    assert "escalation" not in ids(helpdesk.suggest(helpdesk.plugin_key, **ticket))


def test_a_long_ticket_is_searched_in_passages_within_the_body_limit(helpdesk: HelpdeskServer) -> None:
    story = "\n\n".join(f"Day {n}: the heating schedule ran as usual and the house was warm. " * 6
                        for n in range(120))
    body = story + "\n\nToday the thermostat shows error E21 and cannot see the Wi-Fi network."
    assert 16 * 1024 < len(body.encode()) < 64 * 1024  # over the general limit, under suggest's
    response = helpdesk.suggest(helpdesk.plugin_key, subject="Wi-Fi error E21", body=body)
    assert ids(response)[0] == "wifi"
    parts = [q["part"] for q in response.json()["queries"]]
    assert parts.count("passage") == 6


def test_a_ticket_over_64_kib_is_413_problem_json(helpdesk: HelpdeskServer) -> None:
    response = helpdesk.suggest(helpdesk.plugin_key, subject="big", body="x" * (64 * 1024))
    body = assert_problem(response, 413, "65,536-byte limit", "/v1/suggest")
    assert body["type"].endswith("payload-too-large")


@pytest.mark.parametrize(("payload", "detail"), [
    ({"subject": "", "body": ""}, "no text left"),
    ({"subject": "Re:", "body": "Hi,\n\nThanks in advance!\n\nBest regards,\nJohn"}, "no text left"),
    ({"subject": "refund", "k": 0}, "k"),
    ({"subject": "refund", "k": 51}, "k"),
    ({"subject": "refund", "customer_lang": "english please"}, "customer_lang"),
    ({"subject": "refund", "exclude_article_ids": ["x"] * 201}, "exclude_article_ids"),
    ({"subject": "refund", "question": "refund"}, "question"),
    ({"subject": ["refund"]}, "subject"),
])
def test_bad_tickets_are_422_problem_json(helpdesk: HelpdeskServer, payload: dict,
                                          detail: str) -> None:
    assert_problem(helpdesk.suggest(helpdesk.plugin_key, **payload), 422, detail)


def test_suggest_needs_a_key_once_keys_exist(helpdesk: HelpdeskServer) -> None:
    with helpdesk.client() as http:
        assert_problem(http.post("/v1/suggest", json=REFUND_TICKET), 401)


def test_suggestions_are_counted_in_metrics(helpdesk: HelpdeskServer) -> None:
    helpdesk.suggest(helpdesk.plugin_key, **REFUND_TICKET)
    with helpdesk.client() as http:
        metrics = http.get("/metrics").text
    counter = 'deskmate_searches_total{endpoint="suggest"}'
    line = next(m for m in metrics.splitlines() if m.startswith(counter))
    assert float(line.split()[-1]) >= 1


def test_suggest_is_in_the_openapi_schema(helpdesk: HelpdeskServer) -> None:
    with helpdesk.client() as http:
        schema = http.get("/openapi.json").json()
    operation = schema["paths"]["/v1/suggest"]["post"]
    assert {"413", "422"} <= set(operation["responses"])
    assert "SuggestIn" in json.dumps(operation["requestBody"])


def test_suggest_runs_each_part_through_the_one_searcher(searcher: Searcher) -> None:
    """The library call the route makes: plain search of the cleaned text agrees with part 1."""
    outcome = suggest(searcher, Ticket(**REFUND_TICKET), k=3,
                      access=Access((Audience.PUBLIC,), internal_sections=False))
    whole = searcher.search(outcome.parts[0].text, k=3)
    assert outcome.parts[0].kind == "ticket"
    assert outcome.suggestions[0].article.id == whole.hits[0].article.id == "refunds"


def test_suggestions_are_logged_and_take_feedback(live_server) -> None:
    import httpx

    body = httpx.post(f"{live_server.url}/v1/suggest",
                      json={"subject": "Refund", "body": "How do I get my money back?"},
                      headers={"X-Deskmate-Client": "zendesk"}).json()
    vote = httpx.post(f"{live_server.url}/v1/feedback",
                      json={"search_id": body["search_id"],
                            "article_id": body["results"][0]["article_id"], "helpful": True})
    assert vote.status_code == 201
