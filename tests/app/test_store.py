"""The store on real SQLite and real PostgreSQL: the same schema, the same behaviour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from app.store import (
    HEAD_REVISION,
    MIGRATIONS,
    Scope,
    Store,
    alembic_config,
    events,
    feedback,
    searches,
)


def search_row(search_id: str, *, days_ago: float = 0, query: str = "refund",
               no_good_match: bool = False, lang: str = "en",
               results: list[str] | None = None) -> dict[str, Any]:
    return {"id": search_id, "created_at": datetime.now(UTC) - timedelta(days=days_ago),
            "query": query, "lang": lang, "filters": {},
            "results": [{"article_id": a, "rank": n, "score": 1.0}
                        for n, a in enumerate(results or ["refunds"], start=1)],
            "top_score": 1.0, "no_good_match": no_good_match, "latency_ms": 5.0,
            "endpoint": "search", "client": "sidebar", "key_id": None}


def test_feedback_round_trip_and_a_second_vote_replaces_the_first(store: Store) -> None:
    store.add_searches([search_row("s1")])
    store.put_feedback(search_id="s1", article_id="refunds", section="steps", helpful=False,
                       comment="outdated", key_id=None)
    store.put_feedback(search_id="s1", article_id="refunds", section=None, helpful=True,
                       comment=None, key_id="abcd1234")
    store.put_feedback(search_id="s1", article_id="wifi", section=None, helpful=False,
                       comment=None, key_id=None)
    assert store.helpful_votes() == {"refunds": (1, 1), "wifi": (0, 1)}
    now = datetime.now(UTC)
    rows = store.rows(feedback, since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert {(r["article_id"], r["helpful"], r["key_id"]) for r in rows} == {
        ("refunds", True, "abcd1234"), ("wifi", False, None)}
    assert all(r["created_at"].tzinfo is not None for r in rows)


def test_feedback_needs_a_logged_search(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        store.put_feedback(search_id="nope", article_id="x", section=None, helpful=True,
                           comment=None, key_id=None)
    assert store.search_query(search_id="nope") is None


def test_events_are_recorded(store: Store) -> None:
    store.add_searches([search_row("s1")])
    store.add_event(search_id="s1", article_id="refunds", rank=1, action="open", key_id=None)
    store.add_event(search_id="s1", article_id="refunds", rank=1, action="copy", key_id=None)
    now = datetime.now(UTC)
    rows = store.rows(events, since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert sorted(r["action"] for r in rows) == ["copy", "open"]


def test_purge_removes_old_searches_with_their_votes_and_clicks(store: Store) -> None:
    store.add_searches([search_row("old", days_ago=200), search_row("new", days_ago=1)])
    for search_id in ("old", "new"):
        store.put_feedback(search_id=search_id, article_id="refunds", section=None,
                           helpful=True, comment=None, key_id=None)
        store.add_event(search_id=search_id, article_id="refunds", rank=1, action="open",
                        key_id=None)
    assert store.purge(before=datetime.now(UTC) - timedelta(days=180)) == 1
    since, until = datetime.now(UTC) - timedelta(days=400), datetime.now(UTC)
    assert [r["id"] for r in store.rows(searches, since=since, until=until)] == ["new"]
    assert [r["search_id"] for r in store.rows(feedback, since=since, until=until)] == ["new"]
    assert [r["search_id"] for r in store.rows(events, since=since, until=until)] == ["new"]


def test_logged_searches_read_back_as_written_whole_or_in_columns(store: Store) -> None:
    row = search_row("fa", query="بازپرداخت", lang="fa", results=["refunds-fa", 'say "hi"'])
    row["filters"] = {"lang": ["fa"], "tags": ["پول"], "product": []}
    store.add_searches([row])
    since, until = row["created_at"] - timedelta(seconds=1), row["created_at"] + timedelta(seconds=1)
    [whole] = store.rows(searches, since=since, until=until)
    assert whole == row  # JSON columns parsed, created_at aware
    [some] = store.stream(searches, since=since, until=until, columns=("query", "results"))
    assert some == {"query": row["query"], "results": row["results"]}


def test_keys_behave_the_same_on_both_databases(store: Store) -> None:
    key, secret = store.create_key(name="ops", scopes=frozenset({Scope.ADMIN}), internal=True)
    assert store.verify_key(key=secret) == key
    assert store.verify_key(key=secret + "x") is None
    assert store.active_key_count() == 1
    assert store.revoke_key(key_id=key.id)
    assert store.verify_key(key=secret) is None and store.active_key_count() == 0


def test_migrations_are_idempotent(store: Store) -> None:
    store.migrate()
    inspector = sa.inspect(store.engine)
    assert {"api_keys", "searches", "feedback", "events", "alembic_version"} <= set(
        inspector.get_table_names())


def schema(store: Store) -> dict[str, tuple[list[str], list[str]]]:
    """Each table's columns and indexes: what any migration changes."""
    inspector = sa.inspect(store.engine)
    return {table: (sorted(c["name"] for c in inspector.get_columns(table)),
                    sorted(str(i["name"]) for i in inspector.get_indexes(table)))
            for table in inspector.get_table_names()}


def test_the_head_the_store_skips_alembic_at_is_alembics_newest_revision() -> None:
    assert ScriptDirectory(MIGRATIONS).get_current_head() == HEAD_REVISION


def test_a_store_behind_the_newest_revision_is_upgraded(store: Store) -> None:
    newest = schema(store)
    with store.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "-1")
    assert store.revision() != HEAD_REVISION
    assert schema(store) != newest

    store.migrate()
    assert store.revision() == HEAD_REVISION
    assert schema(store) == newest
