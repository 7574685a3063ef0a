"""The Authenticator's cache-only path, which the event loop uses without blocking."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.auth import Authenticator, Unauthorized
from app.store import Scope, Store


class CountingStore(Store):
    """A real SQLite store that counts the reads authentication makes."""

    reads = 0

    def verify_key(self, *, key: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().verify_key(key=key)

    def active_key_count(self) -> int:
        self.reads += 1
        return super().active_key_count()


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    store = CountingStore(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    store.migrate()
    return store


def test_the_cache_answers_only_what_it_has_read(store: CountingStore) -> None:
    _, secret = store.create_key(name="agents", scopes=frozenset({Scope.SEARCH}), internal=True)
    auth = Authenticator(store, host="127.0.0.1", allow_anonymous=None)

    assert auth.authenticate_cached(secret) is None  # not read yet: the caller must wait
    assert auth.authenticate(secret).name == "agents"
    reads = store.reads
    assert auth.authenticate_cached(secret).name == "agents"  # type: ignore[union-attr]
    assert store.reads == reads


def test_cached_refusals_are_raised_at_once(store: CountingStore) -> None:
    store.create_key(name="ops", scopes=frozenset({Scope.ADMIN}), internal=True)
    auth = Authenticator(store, host="127.0.0.1", allow_anonymous=None)

    with pytest.raises(Unauthorized, match="unknown or revoked"):
        auth.authenticate("dm_00000000_forged")
    with pytest.raises(Unauthorized, match="unknown or revoked"):
        auth.authenticate_cached("dm_00000000_forged")
    with pytest.raises(Unauthorized, match="requires an API key"):
        auth.authenticate(None)
    with pytest.raises(Unauthorized, match="requires an API key"):
        auth.authenticate_cached(None)


def test_the_cache_expires(store: CountingStore) -> None:
    auth = Authenticator(store, host="127.0.0.1", allow_anonymous=None, cache_seconds=0)
    assert auth.authenticate(None).internal  # loopback without keys: local use
    assert auth.authenticate_cached(None) is None
