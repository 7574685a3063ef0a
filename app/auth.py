"""Who is calling: API keys (hashed, scoped), the anonymous policy, and per-caller rate limits."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from dataclasses import dataclass

from app.store import ApiKey, Scope, Store
from indexer.errors import DeskmateError


class Unauthorized(DeskmateError):
    status = 401
    type = "unauthorized"
    title = "API key required"


class Forbidden(DeskmateError):
    status = 403
    type = "forbidden"
    title = "Not allowed for this key"


class RateLimited(DeskmateError):
    status = 429
    type = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StartupRefused(DeskmateError):
    status = 500
    type = "startup-refused"
    title = "Refusing to start"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    key_id: str | None
    """The API key's public id; None for anonymous callers."""
    name: str
    scopes: frozenset[Scope]
    internal: bool
    """May see ``audience: internal`` articles and internal sections."""


LOCAL_ANONYMOUS = Principal(None, "anonymous (loopback, no keys)",
                            frozenset({Scope.SEARCH, Scope.ADMIN}), internal=True)
PUBLIC_ANONYMOUS = Principal(None, "anonymous (DESKMATE_ALLOW_ANONYMOUS)",
                             frozenset({Scope.SEARCH}), internal=False)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_startup(host: str, allow_anonymous: bool | None, store: Store) -> None:
    """Refuse to serve a non-loopback address to anyone at all, unless told to.

    Raises:
        StartupRefused: no keys exist, the host is not loopback and anonymous access
            was not allowed explicitly.
    """
    if is_loopback(host) or allow_anonymous or store.active_key_count():
        return
    raise StartupRefused(
        f"refusing to listen on {host} without API keys: anyone who can reach it could read "
        "the KB and reindex it. Create a key with `deskmate keys create --scope admin --name ops` "
        "(and search keys for agents), or set DESKMATE_ALLOW_ANONYMOUS=true to allow "
        "anonymous search of public articles")


class Authenticator:
    """Turns the presented key (or none) into a :class:`Principal`.

    With no active keys, a loopback service lets anonymous callers do everything (local
    use). Once a key exists, every caller needs one, unless DESKMATE_ALLOW_ANONYMOUS
    is true, which admits anonymous callers to public search only.
    """

    def __init__(self, store: Store, *, host: str, allow_anonymous: bool | None,
                 cache_seconds: float = 2.0) -> None:
        self._store = store
        self._loopback = is_loopback(host)
        self._allow = allow_anonymous
        self._cache_seconds = cache_seconds
        self._keys: dict[str, tuple[float, ApiKey | None]] = {}
        self._active: tuple[float, int] = (-math.inf, 0)
        self._lock = threading.Lock()

    def authenticate(self, presented: str | None) -> Principal:
        """The caller behind ``presented``; may read the store (call it off the event loop).

        Raises:
            Unauthorized: the key is unknown or revoked, or a key is required.
        """
        principal = self.authenticate_cached(presented)
        if principal is not None:
            return principal
        if presented:
            return self._principal(self._refresh_key(presented))
        self._refresh_active_keys()
        return self._anonymous(self._active[1])

    def authenticate_cached(self, presented: str | None) -> Principal | None:
        """Like :meth:`authenticate` from what is cached only (safe on the event loop);
        None when the store has to be read first.

        Raises:
            Unauthorized: as :meth:`authenticate`, when the cache already knows.
        """
        now = time.monotonic()
        if presented:
            with self._lock:
                hit = self._keys.get(presented)
            if hit is None or now - hit[0] > self._cache_seconds:
                return None
            return self._principal(hit[1])
        checked, count = self._active
        if now - checked > self._cache_seconds:
            return None
        return self._anonymous(count)

    @staticmethod
    def _principal(key: ApiKey | None) -> Principal:
        if key is None:
            raise Unauthorized("the API key is unknown or revoked; ask an admin for a new one")
        return Principal(key.id, key.name, key.scopes, key.internal)

    def _anonymous(self, active_keys: int) -> Principal:
        if self._allow is not False and self._loopback and active_keys == 0:
            return LOCAL_ANONYMOUS
        if self._allow:
            return PUBLIC_ANONYMOUS
        raise Unauthorized("this Deskmate requires an API key: send it as "
                           "'Authorization: Bearer <key>' or 'X-API-Key: <key>'")

    def _refresh_active_keys(self) -> None:
        self._active = (time.monotonic(), self._store.active_key_count())

    def _refresh_key(self, presented: str) -> ApiKey | None:
        # Cached briefly so a search costs no database round trip; a revocation
        # takes effect within cache_seconds.
        key = self._store.verify_key(key=presented)
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[presented] = (time.monotonic(), key)
        return key


def require(principal: Principal, scope: Scope) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"the key '{principal.name}' has scopes "
                        f"{', '.join(sorted(principal.scopes))}; this needs the {scope} scope")


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests, bursts up to ``burst``."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, caller: str) -> None:
        if self._rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(caller, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens < 1:
                self._buckets[caller] = (tokens, now)
                wait = math.ceil((1 - tokens) / self._rate)
                raise RateLimited(f"more than {self._rate * 60:.0f} requests a minute for "
                                  f"{caller}; retry in {wait} s", retry_after=wait)
            self._buckets[caller] = (tokens - 1, now)
