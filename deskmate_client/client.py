"""Sync and async clients of the Deskmate HTTP API (v1), over httpx.

    from deskmate_client import DeskmateClient

    with DeskmateClient("http://127.0.0.1:8000", api_key="dm_…") as deskmate:
        answer = deskmate.suggest(subject=ticket.subject, body=ticket.description)
        for result in answer.results:
            print(result.title, result.passage)

:class:`AsyncDeskmateClient` has the same methods, as coroutines. Every failed call
raises a :class:`~deskmate_client.errors.DeskmateError` subclass built from the
server's problem+json answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from deskmate_client.errors import connection_failed, error_from_response
from deskmate_client.models import (
    Article,
    ArticleWrite,
    Facets,
    IndexInfo,
    Job,
    SearchResponse,
    SuggestResponse,
)

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
CLIENT_NAME = "python"


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One API request and how to read its answer; shared by the sync and async clients."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Sequence[tuple[str, str]] = ()
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _ignore(_: Any) -> None:
    return None


def _article_path(article_id: str) -> str:
    return quote(article_id, safe="/")


def _lists(**values: Sequence[str] | str | None) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for name, value in values.items():
        items = [value] if isinstance(value, str) else list(value or ())
        params += [(name, item) for item in items]
    return params


class _Calls:
    """The API: each method describes a request; the subclasses send it."""

    @staticmethod
    def _search(q: str, k: int, lang: Sequence[str] | str | None, tags: Sequence[str] | str | None,
                product: Sequence[str] | str | None,
                audience: Sequence[str] | str | None) -> _Call[SearchResponse]:
        body = {"q": q, "k": k, **{name: list(values) if not isinstance(values, str) else [values]
                                   for name, values in (("lang", lang), ("tags", tags),
                                                        ("product", product),
                                                        ("audience", audience)) if values}}
        return _Call("POST", "/v1/search", SearchResponse.from_json, json=body)

    @staticmethod
    def _suggest(subject: str, body: str, k: int, customer_lang: str | None, agent_lang: str | None,
                 tags: Sequence[str] | None, product: Sequence[str] | None,
                 exclude_article_ids: Sequence[str] | None) -> _Call[SuggestResponse]:
        payload: dict[str, Any] = {"subject": subject, "body": body, "k": k}
        optional = {"customer_lang": customer_lang, "agent_lang": agent_lang,
                    "tags": list(tags or []), "product": list(product or []),
                    "exclude_article_ids": list(exclude_article_ids or [])}
        payload |= {name: value for name, value in optional.items() if value}
        return _Call("POST", "/v1/suggest", SuggestResponse.from_json, json=payload)

    @staticmethod
    def _feedback(search_id: str, article_id: str, helpful: bool, section: str | None,
                  comment: str | None) -> _Call[None]:
        payload: dict[str, Any] = {"search_id": search_id, "article_id": article_id,
                                   "helpful": helpful}
        payload |= {k: v for k, v in (("section", section), ("comment", comment)) if v is not None}
        return _Call("POST", "/v1/feedback", _ignore, json=payload)

    @staticmethod
    def _event(search_id: str, article_id: str, action: str, rank: int | None) -> _Call[None]:
        payload: dict[str, Any] = {"search_id": search_id, "article_id": article_id,
                                   "action": action}
        if rank is not None:
            payload["rank"] = rank
        return _Call("POST", "/v1/events", _ignore, json=payload)

    @staticmethod
    def _put_article(article_id: str, markdown: str) -> _Call[ArticleWrite]:
        return _Call("PUT", f"/v1/admin/articles/{_article_path(article_id)}", ArticleWrite.from_json,
                     content=markdown.encode("utf-8"),
                     headers={"Content-Type": "text/markdown; charset=utf-8"})


class DeskmateClient(_Calls):
    """Blocking client. Use as a context manager, or call :meth:`close`.

    Args:
        base_url: where Deskmate is served, e.g. ``http://127.0.0.1:8000``.
        api_key: sent as ``X-API-Key``; None for a local service without keys.
        timeout: seconds per request.
        client_name: sent as ``X-Deskmate-Client`` (shows in the admin analytics).
    """

    def __init__(self, base_url: str, api_key: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, client_name: str = CLIENT_NAME,
                 http: httpx.Client | None = None) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout,
                                          headers=_headers(api_key, client_name))

    def __enter__(self) -> DeskmateClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: _Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, params=list(call.params),
                                          json=call.json, content=call.content,
                                          headers=call.headers)
        except httpx.TransportError as exc:
            raise connection_failed(exc, f"{self._http.base_url}{call.path}") from exc
        if response.is_error:
            raise error_from_response(response)
        return call.parse(response.json() if response.content else None)

    def search(self, q: str, *, k: int = 5, lang: Sequence[str] | str | None = None,
               tags: Sequence[str] | str | None = None, product: Sequence[str] | str | None = None,
               audience: Sequence[str] | str | None = None) -> SearchResponse:
        """Ranked answers for a question (``POST /v1/search``)."""
        return self._send(self._search(q, k, lang, tags, product, audience))

    def suggest(self, subject: str = "", body: str = "", *, k: int = 5,
                customer_lang: str | None = None, agent_lang: str | None = None,
                tags: Sequence[str] | None = None, product: Sequence[str] | None = None,
                exclude_article_ids: Sequence[str] | None = None) -> SuggestResponse:
        """Answers for a whole ticket, as received (``POST /v1/suggest``)."""
        return self._send(self._suggest(subject, body, k, customer_lang, agent_lang, tags, product,
                                        exclude_article_ids))

    def article(self, article_id: str) -> Article:
        """One article: metadata, sections, Markdown and safe HTML."""
        return self._send(_Call("GET", f"/v1/articles/{_article_path(article_id)}", Article.from_json))

    def facets(self) -> Facets:
        return self._send(_Call("GET", "/v1/facets", Facets.from_json))

    def feedback(self, search_id: str, article_id: str, helpful: bool, *,
                 section: str | None = None, comment: str | None = None) -> None:
        """Say whether an answer of a search (or suggestion) helped."""
        self._send(self._feedback(search_id, article_id, helpful, section, comment))

    def event(self, search_id: str, article_id: str, action: str, *, rank: int | None = None) -> None:
        """Record that a result was opened, copied or its link copied (``open|copy|link``)."""
        self._send(self._event(search_id, article_id, action, rank))

    def ready(self) -> dict[str, Any]:
        """``GET /readyz``: the loaded index, or :class:`ServerError` (503) when none is."""
        return self._send(_Call("GET", "/readyz", dict))

    # --- admin (an admin key) ---

    def reindex(self) -> Job:
        """Start a full rebuild; :class:`Conflict` names the running job if one is."""
        return self._send(_Call("POST", "/v1/admin/reindex", Job.from_json))

    def job(self, job_id: str) -> Job:
        return self._send(_Call("GET", f"/v1/admin/jobs/{quote(job_id)}", Job.from_json))

    def wait_for_job(self, job_id: str, *, timeout: float = 120.0, interval: float = 0.2) -> Job:
        """Poll a build until it has succeeded or failed.

        Raises:
            TimeoutError: it was still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while not (job := self.job(job_id)).finished:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.state} after {timeout:.0f} s")
            time.sleep(interval)
        return job

    def index_info(self) -> IndexInfo:
        return self._send(_Call("GET", "/v1/admin/index", IndexInfo.from_json))

    def put_article(self, article_id: str, markdown: str) -> ArticleWrite:
        """Upload (create or replace) one article's Markdown file and rebuild incrementally."""
        return self._send(self._put_article(article_id, markdown))

    def delete_article(self, article_id: str) -> ArticleWrite:
        return self._send(_Call("DELETE", f"/v1/admin/articles/{_article_path(article_id)}",
                                ArticleWrite.from_json))

    def analytics(self, **params: str) -> dict[str, Any]:
        """The admin analytics report as JSON (``from``/``to``/``lang`` as in the API)."""
        return self._send(_Call("GET", "/v1/admin/analytics", dict, params=list(params.items())))


class AsyncDeskmateClient(_Calls):
    """The same API as :class:`DeskmateClient`, for asyncio (``async with``)."""

    def __init__(self, base_url: str, api_key: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, client_name: str = CLIENT_NAME,
                 http: httpx.AsyncClient | None = None) -> None:
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout,
                                               headers=_headers(api_key, client_name))

    async def __aenter__(self) -> AsyncDeskmateClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: _Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, params=list(call.params),
                                                json=call.json, content=call.content,
                                                headers=call.headers)
        except httpx.TransportError as exc:
            raise connection_failed(exc, f"{self._http.base_url}{call.path}") from exc
        if response.is_error:
            raise error_from_response(response)
        return call.parse(response.json() if response.content else None)

    async def search(self, q: str, *, k: int = 5, lang: Sequence[str] | str | None = None,
                     tags: Sequence[str] | str | None = None,
                     product: Sequence[str] | str | None = None,
                     audience: Sequence[str] | str | None = None) -> SearchResponse:
        return await self._send(self._search(q, k, lang, tags, product, audience))

    async def suggest(self, subject: str = "", body: str = "", *, k: int = 5,
                      customer_lang: str | None = None, agent_lang: str | None = None,
                      tags: Sequence[str] | None = None, product: Sequence[str] | None = None,
                      exclude_article_ids: Sequence[str] | None = None) -> SuggestResponse:
        return await self._send(self._suggest(subject, body, k, customer_lang, agent_lang, tags,
                                              product, exclude_article_ids))

    async def article(self, article_id: str) -> Article:
        return await self._send(_Call("GET", f"/v1/articles/{_article_path(article_id)}",
                                      Article.from_json))

    async def facets(self) -> Facets:
        return await self._send(_Call("GET", "/v1/facets", Facets.from_json))

    async def feedback(self, search_id: str, article_id: str, helpful: bool, *,
                       section: str | None = None, comment: str | None = None) -> None:
        await self._send(self._feedback(search_id, article_id, helpful, section, comment))

    async def event(self, search_id: str, article_id: str, action: str, *,
                    rank: int | None = None) -> None:
        await self._send(self._event(search_id, article_id, action, rank))

    async def ready(self) -> dict[str, Any]:
        return await self._send(_Call("GET", "/readyz", dict))

    async def reindex(self) -> Job:
        return await self._send(_Call("POST", "/v1/admin/reindex", Job.from_json))

    async def job(self, job_id: str) -> Job:
        return await self._send(_Call("GET", f"/v1/admin/jobs/{quote(job_id)}", Job.from_json))

    async def wait_for_job(self, job_id: str, *, timeout: float = 120.0,
                           interval: float = 0.2) -> Job:
        deadline = time.monotonic() + timeout
        while not (job := await self.job(job_id)).finished:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.state} after {timeout:.0f} s")
            await asyncio.sleep(interval)
        return job

    async def index_info(self) -> IndexInfo:
        return await self._send(_Call("GET", "/v1/admin/index", IndexInfo.from_json))

    async def put_article(self, article_id: str, markdown: str) -> ArticleWrite:
        return await self._send(self._put_article(article_id, markdown))

    async def delete_article(self, article_id: str) -> ArticleWrite:
        return await self._send(_Call("DELETE", f"/v1/admin/articles/{_article_path(article_id)}",
                                      ArticleWrite.from_json))

    async def analytics(self, **params: str) -> dict[str, Any]:
        return await self._send(_Call("GET", "/v1/admin/analytics", dict,
                                      params=list(params.items())))


def _headers(api_key: str | None, client_name: str) -> dict[str, str]:
    headers = {"Accept": "application/json", "X-Deskmate-Client": client_name,
               "User-Agent": f"deskmate-client/{_version()}"}
    if api_key:
        headers["X-API-Key"] = api_key
    return headers


def _version() -> str:
    from deskmate_client import __version__

    return __version__
