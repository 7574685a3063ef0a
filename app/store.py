"""The relational store (API keys, search logs, feedback, clicks): SQLAlchemy Core.

SQLite in WAL mode in the data directory by default; PostgreSQL when
``DESKMATE_DATABASE_URL`` says so. The schema is created and upgraded by Alembic.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.String(100), nullable=False),
    sa.Column("internal", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

searches = sa.Table(
    "searches", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("query", sa.Text(), nullable=False),
    sa.Column("lang", sa.String(16), nullable=True),
    sa.Column("filters", sa.JSON(), nullable=False),
    sa.Column("results", sa.JSON(), nullable=False),
    sa.Column("top_score", sa.Float(), nullable=True),
    sa.Column("no_good_match", sa.Boolean(), nullable=False),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("endpoint", sa.String(16), nullable=False),
    sa.Column("client", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=True),
)

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("search_id", sa.String(32), sa.ForeignKey("searches.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("article_id", sa.String(300), nullable=False),
    sa.Column("section", sa.String(300), nullable=True),
    sa.Column("helpful", sa.Boolean(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("key_id", sa.String(16), nullable=True),
    sa.UniqueConstraint("search_id", "article_id", name="feedback_one_vote"),
)

events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("search_id", sa.String(32), sa.ForeignKey("searches.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("article_id", sa.String(300), nullable=False),
    sa.Column("rank", sa.Integer(), nullable=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("key_id", sa.String(16), nullable=True),
)

query_vectors = sa.Table(
    "query_vectors", metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("vector", sa.LargeBinary(), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
"""Embeddings of content-gap queries, so that a restart does not re-encode a month of
them; keyed by :func:`indexer.vector_cache.text_key`, so no query text is kept here."""

KEY_PREFIX = "dm"
MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0003"
"""The newest file in ``app/migrations/versions`` (a test checks Alembic agrees)."""
LOOKUP_ROWS = 500
"""Keys per ``IN (...)`` lookup (SQLite allows 32,766 parameters; PostgreSQL more)."""
STREAM_ROWS = 2000
"""Rows fetched at a time by :meth:`Store.stream`."""


class Scope(StrEnum):
    """What a key may do."""

    SEARCH = "search"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (never its secret)."""

    id: str
    name: str
    scopes: frozenset[Scope]
    internal: bool
    """Whether the key may see ``audience: internal`` articles."""
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    """Keys are 256-bit random, so one sha256 suffices (no password stretching needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The public id inside a key ``dm_<id>_<secret>``, or None if it is not one of ours."""
    parts = key.split("_")
    return parts[1] if len(parts) == 3 and parts[0] == KEY_PREFIX else None


def alembic_config(connection: sa.Connection) -> AlembicConfig:
    """Alembic's settings for this package's migrations, run on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


class Store:
    """All SQL lives here; callers pass keyword arguments and get dataclasses back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision.

        A store already there is left alone without Alembic, whose import alone is 0.15 s
        of the service's start.
        """
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command

        with self.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")

    def revision(self) -> str | None:
        """The schema's Alembic revision; None before the first migration."""
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def close(self) -> None:
        self.engine.dispose()

    # --- API keys -------------------------------------------------------------------

    def create_key(self, *, name: str, scopes: frozenset[Scope], internal: bool) -> tuple[ApiKey, str]:
        """Create a key; returns it and its secret, which is shown once and never stored."""
        key_id = secrets.token_hex(4)
        secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32).replace('_', '-')}"
        row = {"id": key_id, "name": name, "key_hash": hash_key(secret),
               "scopes": ",".join(sorted(scopes)), "internal": internal,
               "created_at": datetime.now(UTC), "revoked_at": None}
        with self.engine.begin() as connection:
            connection.execute(api_keys.insert().values(**row))
        return _api_key(row), secret

    def revoke_key(self, *, key_id: str) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC)))
        return bool(result.rowcount)

    def list_keys(self) -> list[ApiKey]:
        with self.engine.connect() as connection:
            rows = connection.execute(api_keys.select().order_by(api_keys.c.created_at))
            return [_api_key(row._mapping) for row in rows]

    def verify_key(self, *, key: str) -> ApiKey | None:
        """The active key matching ``key``, compared in constant time; None otherwise."""
        key_id = key_id_of(key)
        if key_id is None:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(api_keys.select().where(api_keys.c.id == key_id)).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_hash, hash_key(key)):
            return None
        return _api_key(row._mapping)

    def active_key_count(self) -> int:
        with self.engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(api_keys).where(
                api_keys.c.revoked_at.is_(None))
            return int(connection.execute(query).scalar_one())


    # --- search log, feedback, events ---------------------------------------------------

    def add_searches(self, rows: list[dict[str, Any]]) -> None:
        """Insert logged searches (the background writer batches them)."""
        if rows:
            with self.engine.begin() as connection:
                connection.execute(searches.insert(), rows)

    def search_query(self, *, search_id: str) -> str | None:
        """The logged (masked) query text of a search, or None if it is not logged."""
        with self.engine.connect() as connection:
            query = sa.select(searches.c.query).where(searches.c.id == search_id)
            return connection.execute(query).scalar()

    def put_feedback(self, *, search_id: str, article_id: str, section: str | None,
                     helpful: bool, comment: str | None, key_id: str | None) -> None:
        """Record a vote; a second vote on the same search and article replaces the first.

        Delete-then-insert in one transaction works the same on SQLite and PostgreSQL;
        the unique constraint turns a concurrent duplicate into an error, not two votes.
        """
        row = {"search_id": search_id, "article_id": article_id, "section": section,
               "helpful": helpful, "comment": comment, "created_at": datetime.now(UTC),
               "key_id": key_id}
        with self.engine.begin() as connection:
            connection.execute(feedback.delete().where(feedback.c.search_id == search_id,
                                                       feedback.c.article_id == article_id))
            connection.execute(feedback.insert().values(**row))

    def add_event(self, *, search_id: str, article_id: str, rank: int | None, action: str,
                  key_id: str | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(events.insert().values(
                search_id=search_id, article_id=article_id, rank=rank, action=action,
                created_at=datetime.now(UTC), key_id=key_id))

    def rows(self, table: sa.Table, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Rows of ``searches``, ``feedback`` or ``events`` created in [since, until)."""
        return list(self.stream(table, since=since, until=until))

    def stream(self, table: sa.Table, *, since: datetime, until: datetime,
               columns: Sequence[str] | None = None,
               match: Mapping[str, object] | None = None) -> Iterator[dict[str, Any]]:
        """The rows of :meth:`rows` one by one, read in batches (a server-side cursor on
        PostgreSQL): every column or only ``columns``, and only rows whose columns equal
        ``match``.

        JSON columns come as text and are parsed here (orjson): SQLAlchemy's JSON type took
        0.36 s of a 0.6 s read of a month's 45,000 searches, all of it holding the GIL.
        """
        names = [c.name for c in table.c] if columns is None else list(columns)
        parsed = [n for n in names if isinstance(table.c[n].type, sa.JSON)]
        chosen = [sa.cast(table.c[n], sa.Text) if n in parsed else table.c[n] for n in names]
        query = sa.select(*chosen).where(table.c.created_at >= since, table.c.created_at < until,
                                         *(table.c[n] == v for n, v in (match or {}).items()))
        with self.engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=STREAM_ROWS)
            for values in result.execute(query):
                row = dict(zip(names, values, strict=True))
                if "created_at" in row:
                    row["created_at"] = _utc(row["created_at"])
                for name in parsed:
                    row[name] = orjson.loads(row[name])
                yield row

    def helpful_votes(self) -> dict[str, tuple[int, int]]:
        """Per article: (helpful votes, all votes), over the retained history."""
        with self.engine.connect() as connection:
            query = sa.select(feedback.c.article_id,
                              sa.func.sum(sa.case((feedback.c.helpful, 1), else_=0)),
                              sa.func.count()).group_by(feedback.c.article_id)
            return {row[0]: (int(row[1]), int(row[2])) for row in connection.execute(query)}

    # --- content-gap query vectors ----------------------------------------------------

    def query_vectors(self, *, model: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored vectors among ``keys``; those found count as used today."""
        found: dict[str, bytes] = {}
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            for start in range(0, len(keys), LOOKUP_ROWS):
                batch = list(keys[start:start + LOOKUP_ROWS])
                chosen = (query_vectors.c.model == model) & query_vectors.c.key.in_(batch)
                query = sa.select(query_vectors.c.key, query_vectors.c.vector).where(chosen)
                found.update((key, bytes(vector)) for key, vector in connection.execute(query))
                connection.execute(query_vectors.update().values(used_at=now).where(
                    chosen, query_vectors.c.used_at < now - timedelta(days=1)))
        return found

    def put_query_vectors(self, *, model: str, vectors: Mapping[str, bytes]) -> None:
        """Store vectors; a key already there (another process encoded it too) is kept."""
        if not vectors:
            return
        now = datetime.now(UTC)
        rows = [{"model": model, "key": key, "vector": vector, "used_at": now}
                for key, vector in vectors.items()]
        # The engine's own dialect, loaded when it was made; importing both at the top cost
        # a SQLite store's service start PostgreSQL's 70 ms.
        dialect = importlib.import_module(f"sqlalchemy.dialects.{self.engine.dialect.name}")
        with self.engine.begin() as connection:
            connection.execute(dialect.insert(query_vectors).on_conflict_do_nothing(), rows)

    def purge(self, *, before: datetime) -> int:
        """Delete searches (with their feedback and events) older than ``before``, and the
        query vectors last used before it."""
        with self.engine.begin() as connection:
            connection.execute(query_vectors.delete().where(query_vectors.c.used_at < before))
            old = sa.select(searches.c.id).where(searches.c.created_at < before)
            connection.execute(feedback.delete().where(feedback.c.search_id.in_(old)))
            connection.execute(events.delete().where(events.c.search_id.in_(old)))
            result = connection.execute(searches.delete().where(searches.c.created_at < before))
        return int(result.rowcount)


def _api_key(row: Any) -> ApiKey:
    return ApiKey(id=row["id"], name=row["name"],
                  scopes=frozenset(Scope(s) for s in row["scopes"].split(",") if s),
                  internal=bool(row["internal"]), created_at=_utc(row["created_at"]),
                  revoked_at=_utc(row["revoked_at"]) if row["revoked_at"] else None)


def _utc(stamp: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything stored here is UTC."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout and foreign keys. JSON columns are written
    with orjson: the search log's writer holds the GIL while it makes its rows, and each
    millisecond of it is one that a search may wait (json.dumps took 40 % of a batch)."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, json_serializer=_json_text)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                              json_serializer=_json_text)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
