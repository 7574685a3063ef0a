"""Analytics numbers against a hand-computed fixture, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.activity import GiveWay, SearchActivity
from app.analytics import build_report, group_queries, period_of
from app.cli import main
from app.gaps import MissedQueries, QueryVectors
from app.search import Mode, Searcher
from app.store import Store, query_vectors
from indexer.embed import Encoder, Vectors
from tests.app.test_api import assert_problem
from tests.app.test_store import search_row
from tests.conftest import Deployment, LiveServer, copy_deployment, serve_in_thread

TODAY = datetime.now(UTC).date()


def fill(store: Store) -> None:
    rows = [
        search_row("s1", query="refund money", results=["refunds", "refunds-pl"]),
        search_row("s2", query="Refund   MONEY", results=["refunds"]),
        search_row("s3", query="can I pay with bitcoin", no_good_match=True),
        search_row("s4", query="do you accept crypto payments", no_good_match=True),
        search_row("s5", query="showroom in berlin", no_good_match=True),
        search_row("s6", query="zwrot", lang="pl", results=["refunds-pl"]),
        search_row("s0", query="ancient", days_ago=40),
    ]
    for row, latency in zip(rows, (5, 7, 9, 11, 13, 15, 99), strict=True):
        row["latency_ms"] = latency
    store.add_searches(rows)
    store.put_feedback(search_id="s1", article_id="refunds", section=None, helpful=True,
                       comment=None, key_id=None)
    store.put_feedback(search_id="s2", article_id="refunds", section=None, helpful=False,
                       comment="wrong", key_id=None)
    store.put_feedback(search_id="s6", article_id="refunds-pl", section=None, helpful=True,
                       comment=None, key_id=None)
    store.add_event(search_id="s1", article_id="refunds", rank=1, action="open", key_id=None)
    store.add_event(search_id="s6", article_id="refunds-pl", rank=1, action="copy", key_id=None)


def column(table: dict | object, name: str) -> list:
    columns, rows = (table["columns"], table["rows"]) if isinstance(table, dict) else \
        (table.columns, table.rows)  # type: ignore[attr-defined]
    return [row[columns.index(name)] for row in rows]


def test_report_numbers_match_the_hand_computed_fixture(store: Store, searcher: Searcher) -> None:
    fill(store)
    report = build_report(store, searcher, period_of(None, None, None), today=date(2026, 11, 23))
    assert report["summary"] == {
        "searches": 6, "success_rate": round(2 / 6, 4), "no_good_match_rate": 0.5,
        "helpful_rate": round(2 / 3, 4), "median_latency_ms": 10.0, "feedback": 3, "events": 2}
    tables = report["tables"]
    assert tables["per_day"].rows == [[TODAY.isoformat(), 6, 3, 0.5]]
    assert tables["top_queries"].rows[0] == ["refund money", 2, 0.0]
    assert column(tables["articles_by_helpfulness"], "article_id") == ["refunds-pl", "refunds"]
    assert column(tables["articles_by_helpfulness"], "helpful_rate") == [1.0, 0.5]
    assert column(tables["least_helpful"], "article_id") == ["refunds", "refunds-pl"]
    uses = dict(zip(column(tables["articles_by_use"], "article_id"),
                    column(tables["articles_by_use"], "uses"), strict=True))
    assert uses == {"refunds": 1, "refunds-pl": 1}
    assert set(column(tables["never_used"], "article_id")) == {
        "wifi", "escalation", "unsafe", "refunds-ru", "password-fa"}
    assert column(tables["stale_articles"], "article_id") == ["wifi"]
    gaps = tables["content_gaps"]
    assert sorted(column(gaps, "searches"), reverse=True) == [2, 1, 1]
    bitcoin = next(row for row in gaps.rows if "bitcoin" in row[2])
    assert "crypto" in bitcoin[2]
    # A one-query topic's nearest article is that query's best dense hit, title and owner too.
    berlin = next(row for row in gaps.rows if row[0] == "showroom in berlin")
    nearest = searcher.search("showroom in berlin", k=1, mode=Mode.DENSE).hits[0].article
    assert berlin[3:] == [nearest.id, nearest.title, nearest.owner]


def test_tables_of_articles_hold_their_first_rows_and_decode_only_those(
        store: Store, searcher: Searcher) -> None:
    fill(store)
    period, today = period_of(None, None, None), date(2026, 11, 23)
    full = build_report(store, searcher, period, today=today, limit=None)["tables"]
    assert full["never_used"].count == len(full["never_used"].rows) == 5
    cached = searcher.snapshot.articles.records._cached
    for name in ("never_used", "articles_by_helpfulness", "least_helpful", "articles_by_use",
                 "stale_articles"):
        reads = cached.cache_info()
        first = build_report(store, searcher, period, today=today, limit=1, only=name)["tables"]
        assert list(first) == [name]
        read = cached.cache_info()
        assert read.hits + read.misses - reads.hits - reads.misses == len(first[name].rows) == 1
        assert first[name].rows == full[name].rows[:1]
        assert first[name].count == len(full[name].rows)


def test_the_language_filter_limits_every_number(store: Store, searcher: Searcher) -> None:
    fill(store)
    report = build_report(store, searcher, period_of(None, None, "pl"))
    assert report["summary"]["searches"] == 1
    assert report["summary"]["helpful_rate"] == 1.0
    assert report["tables"]["content_gaps"].rows == []


def test_gap_topics_keep_paraphrases_together_and_topics_apart(searcher: Searcher) -> None:
    queries = Counter({
        "can I pay with bitcoin": 3, "do you accept crypto payments": 2,
        "bitcoin payment option": 1, "do you have a showroom in Berlin": 2,
        "where is your store in berlin": 1, "does it work with alexa": 1,
        "alexa integration": 1})
    topics = [set(t.queries) for t in group_queries(queries, searcher)]
    assert {"can I pay with bitcoin", "do you accept crypto payments",
            "bitcoin payment option"} in topics
    assert {"do you have a showroom in Berlin", "where is your store in berlin"} in topics
    assert {"does it work with alexa", "alexa integration"} in topics
    assert len(topics) == 3


def test_analytics_over_http_with_csv_export(live_server: LiveServer) -> None:
    with live_server.client() as http:
        http.get("/v1/search", params={"q": "xqzv blorp frobnicate"})
        report = http.get("/v1/admin/analytics").json()
        assert report["summary"]["searches"] >= 1
        assert {"content_gaps", "stale_articles", "per_day"} <= set(report["tables"])
        assert any("xqzv" in row[0] for row in report["tables"]["content_gaps"]["rows"])
        stale = report["tables"]["stale_articles"]
        assert stale["total"] == len(stale["rows"]) > 0  # wifi, since 2020
        exported = http.get("/v1/admin/analytics", params={"format": "csv",
                                                            "table": "stale_articles"})
        assert len(exported.text.splitlines()) == 1 + stale["total"]
        exported = http.get("/v1/admin/analytics", params={"format": "csv", "table": "top_queries"})
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.text.splitlines()[0] == "query,searches,no_good_match_rate"
        assert_problem(http.get("/v1/admin/analytics", params={"format": "csv"}), 422,
                       "content_gaps")
        assert_problem(http.get("/v1/admin/analytics", params={"from": "2026-05-01",
                                                                "to": "2026-04-01"}), 422)


class CountingEncoder(Encoder):
    """The real model; counts the texts it encodes."""

    def __init__(self, real: Encoder, model_id: str | None = None) -> None:
        super().__init__(real._model, real.spec, model_id or real.model_id, real.languages)
        self.encoded = 0
        self.texts: list[str] = []

    def _encode(self, texts: Sequence[str], prompt: str, *, batch_size: int) -> Vectors:
        vectors = super()._encode(texts, prompt, batch_size=batch_size)
        self.texts.extend(texts)
        self.encoded += len(texts)  # once they are encoded: a test waits for this
        return vectors


def test_gap_queries_are_encoded_once_and_leave_the_search_cache_alone(encoder: Encoder) -> None:
    counting, vectors = CountingEncoder(encoder), QueryVectors(size=3)
    first = vectors.embed(counting, ["refund", "wifi", "refund money"])
    assert counting.encoded == 3 and counting.cached_queries == 0
    again = vectors.embed(counting, ["wifi", "refund"])
    assert counting.encoded == 3 and np.array_equal(again, first[[1, 0]])
    assert float(first[0] @ encoder.embed_queries(["refund"])[0]) > 0.999
    vectors.embed(counting, ["password"])  # a fourth: the least recently used goes
    vectors.embed(counting, ["refund money"])
    assert counting.encoded == 5 and len(vectors) == 3
    other = CountingEncoder(encoder)  # another model: nothing kept applies
    vectors.embed(other, ["wifi"])
    assert other.encoded == 1 and len(vectors) == 1


def test_gap_vectors_kept_in_the_store_serve_the_next_process(store: Store,
                                                             encoder: Encoder) -> None:
    first = CountingEncoder(encoder)
    kept = QueryVectors(store=store).embed(first, ["refund", "wifi"])
    restarted = CountingEncoder(encoder)  # a new process, the same store
    again = QueryVectors(store=store).embed(restarted, ["wifi", "refund", "password"])
    assert (first.encoded, restarted.encoded) == (2, 1)
    assert np.allclose(again[:2], kept[[1, 0]], atol=1e-6)
    with store.engine.connect() as connection:
        keys = {row.key for row in connection.execute(sa.select(query_vectors))}
    assert len(keys) == 3 and not keys & {"refund", "wifi", "password"}  # hashes, not queries
    other = CountingEncoder(encoder, model_id="another-model")
    QueryVectors(store=store).embed(other, ["wifi"])
    assert other.encoded == 1


def test_gap_vectors_in_use_outlive_the_retention_and_unused_ones_do_not(
        store: Store, encoder: Encoder) -> None:
    QueryVectors(store=store).embed(encoder, ["refund", "wifi"])
    long_ago = datetime.now(UTC) - timedelta(days=200)
    with store.engine.begin() as connection:
        connection.execute(sa.update(query_vectors).values(used_at=long_ago))
    QueryVectors(store=store).embed(encoder, ["refund"])  # a report uses one of them
    store.purge(before=datetime.now(UTC) - timedelta(days=180))
    counting = CountingEncoder(encoder)
    QueryVectors(store=store).embed(counting, ["refund", "wifi"])
    assert counting.encoded == 1  # "wifi" was unused for longer than the retention


def test_logged_misses_are_encoded_only_once_no_search_is_running(encoder: Encoder) -> None:
    activity, counting = SearchActivity(), CountingEncoder(encoder)
    missed = MissedQueries(QueryVectors(), counting,
                           lambda: activity.wait_quiet(0.02, timeout=0.1), batch=1)
    running, finish = threading.Event(), threading.Event()
    search = threading.Thread(target=activity.run,
                              args=(lambda: (running.set(), finish.wait(10)),))
    search.start()
    assert running.wait(5)
    missed.start()
    try:
        missed.add(["pay with bitcoin", "showroom in berlin", "pay with bitcoin"])
        time.sleep(0.5)
        assert counting.encoded == 0 and len(missed) == 2  # a search is still running
        finish.set()
        search.join()
        deadline = time.monotonic() + 20
        while counting.encoded < 2:
            assert time.monotonic() < deadline, "the queries were not encoded once quiet"
            time.sleep(0.02)
        assert len(missed) == 0
    finally:
        missed.stop()


def test_a_report_gives_way_only_while_searches_run() -> None:
    activity = SearchActivity()
    give_way = GiveWay(activity, every=0.001, pause=0.0002)

    def report_for(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            give_way()

    report_for(0.05)
    assert give_way.pauses == 0  # no search: nothing to step aside for
    running, finish = threading.Event(), threading.Event()
    search = threading.Thread(target=activity.run,
                              args=(lambda: (running.set(), finish.wait(10)),))
    search.start()
    assert running.wait(5)
    report_for(0.05)
    finish.set()
    search.join()
    assert give_way.pauses >= 10  # about one every 1.2 ms


def test_missed_and_unhelpful_queries_are_encoded_before_a_report_asks(
        deployment: Deployment, encoder: Encoder, tmp_path: Path) -> None:
    counting = CountingEncoder(encoder)
    served = serve_in_thread(copy_deployment(deployment, tmp_path), counting)
    server = next(served)

    def wait_encoded(count: int, what: str) -> None:
        deadline = time.monotonic() + 20
        while counting.encoded < count:
            assert time.monotonic() < deadline, f"the {what} query was not encoded"
            time.sleep(0.05)

    try:
        with server.client() as http:
            http.get("/v1/search", params={"q": "xqzv blorp frobnicate"})  # no good match
            wait_encoded(2, "missed")  # the search's own encode, then the gaps thread's
            found = http.get("/v1/search", params={"q": "how do I get a refund"}).json()
            assert not found["no_good_match"]
            time.sleep(0.5)  # the log is written: a good match is not a gap, nothing encodes
            assert counting.encoded == 3
            http.post("/v1/feedback", json={"search_id": found["search_id"], "helpful": False,
                                            "article_id": found["results"][0]["article_id"]})
            wait_encoded(4, "unhelpful")
            report = http.get("/v1/admin/analytics").json()
        topics = [row[0] for row in report["tables"]["content_gaps"]["rows"]]
        assert any("xqzv" in t for t in topics) and any("refund" in t for t in topics)
        assert counting.encoded == 4, counting.texts  # the report encoded nothing
    finally:
        served.close()


def test_analytics_needs_an_admin_key(secured_server) -> None:
    response = httpx.get(f"{secured_server.url}/v1/admin/analytics",
                         headers={"X-API-Key": secured_server.keys.search})
    assert_problem(response, 403)


def test_report_cli_prints_the_tables(deployment: Deployment, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report"], env={
        "DESKMATE_DATA_DIR": str(deployment.data_dir), "DESKMATE_KB_DIR": str(deployment.kb_dir)})
    assert result.exit_code == 0, result.output
    assert "Content gaps" in result.output and "Stale articles" in result.output
    assert "wifi" in result.output  # stale since 2020
    as_csv = CliRunner().invoke(main, ["report", "--csv", "stale_articles"], env={
        "DESKMATE_DATA_DIR": str(deployment.data_dir), "DESKMATE_KB_DIR": str(deployment.kb_dir)})
    assert as_csv.stdout.splitlines()[0].startswith("article_id,title,owner")


@pytest.mark.parametrize("boost", [0.0, 0.05, 0.1])
def test_helpful_votes_shift_scores_by_at_most_the_boost(searcher: Searcher, boost: float) -> None:
    import dataclasses

    tuned = Searcher(searcher.snapshot, searcher.encoder,
                     dataclasses.replace(searcher.config, feedback_boost=boost))
    plain = tuned.search("refund", k=4).hits
    priors = {plain[0].article.id: 0.0, plain[1].article.id: 1.0}
    shift = {plain[0].article.id: -boost, plain[1].article.id: boost}
    expected = sorted(plain, key=lambda h: (-(h.score + shift.get(h.article.id, 0.0))))
    boosted = tuned.search("refund", k=4, priors=priors).hits
    assert [h.article.id for h in boosted] == [h.article.id for h in expected]
    for hit in boosted:
        original = next(h.score for h in plain if h.article.id == hit.article.id)
        assert hit.score == pytest.approx(min(1.0, max(0.0, original + shift.get(hit.article.id, 0))),
                                          abs=1e-3)
