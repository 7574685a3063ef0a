"""Typed results of the Deskmate API: frozen dataclasses built from its JSON.

Fields the server adds later are ignored, so an older client keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Json = Mapping[str, Any]


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class Result:
    """One ranked answer of a search."""

    article_id: str
    title: str
    section: str
    url: str
    """Path of the article on the Deskmate server, with the section anchor."""
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    """``[start, end)`` offsets of matched words in ``snippet``, in code points."""
    score: float
    lang: str
    tags: tuple[str, ...]
    product: str | None
    audience: str
    updated: date | None
    stale: bool
    helpful_rate: float | None
    votes: int

    @staticmethod
    def fields_from(data: Json) -> dict[str, Any]:
        return {
            "article_id": data["article_id"], "title": data["title"], "section": data["section"],
            "url": data["url"], "snippet": data["snippet"],
            "highlights": tuple((int(s), int(e)) for s, e in data.get("highlights", [])),
            "score": float(data["score"]), "lang": data["lang"], "tags": tuple(data.get("tags", [])),
            "product": data.get("product"), "audience": data.get("audience", "public"),
            "updated": _date(data.get("updated")), "stale": bool(data.get("stale", False)),
            "helpful_rate": data.get("helpful_rate"), "votes": int(data.get("votes", 0)),
        }

    @classmethod
    def from_json(cls, data: Json) -> Result:
        return cls(**cls.fields_from(data))

    @property
    def highlighted(self) -> list[str]:
        """The matched words of the snippet."""
        return [self.snippet[start:end] for start, end in self.highlights]


@dataclass(frozen=True, slots=True)
class SearchResponse:
    search_id: str
    """Send it back with :meth:`feedback` and :meth:`event`."""
    query: str
    took_ms: float
    index_version: str
    no_good_match: bool
    """Evidence is weak: the results are the closest articles, not answers."""
    results: tuple[Result, ...]

    @classmethod
    def from_json(cls, data: Json) -> SearchResponse:
        return cls(search_id=data["search_id"], query=data["query"],
                   took_ms=float(data["took_ms"]), index_version=data["index_version"],
                   no_good_match=bool(data["no_good_match"]),
                   results=tuple(Result.from_json(r) for r in data["results"]))


@dataclass(frozen=True, slots=True)
class PartMatch:
    part: str
    """``ticket`` (subject + body), ``subject`` or ``passage``."""
    index: int
    """Passage number from 1 (0 for the ticket and the subject)."""
    rank: int


@dataclass(frozen=True, slots=True)
class Suggestion(Result):
    """One answer for a ticket: a search result plus the passage and why it matched."""

    passage: str
    """The matched section text, to insert into a reply."""
    internal: bool
    """The passage is from an internal section: agents only, never for the customer."""
    matched_terms: tuple[str, ...]
    matched_parts: tuple[PartMatch, ...]
    languages: tuple[str, ...]
    translations: Mapping[str, str]
    pinned_from: str | None
    """The article that matched, when its translation in the customer's language is returned."""
    agent_article_id: str | None

    @classmethod
    def from_json(cls, data: Json) -> Suggestion:
        why = data.get("why", {})
        return cls(
            **Result.fields_from(data), passage=data["passage"], internal=bool(data["internal"]),
            matched_terms=tuple(why.get("terms", [])),
            matched_parts=tuple(PartMatch(p["part"], int(p["index"]), int(p["rank"]))
                                for p in why.get("parts", [])),
            languages=tuple(data.get("languages", [])),
            translations=dict(data.get("translations", {})),
            pinned_from=data.get("pinned_from"), agent_article_id=data.get("agent_article_id"))


@dataclass(frozen=True, slots=True)
class QueryPart:
    part: str
    index: int
    text: str
    weight: float


@dataclass(frozen=True, slots=True)
class SuggestResponse:
    search_id: str
    query: str
    queries: tuple[QueryPart, ...]
    """What was searched once the ticket's greetings, signatures and quotes were removed."""
    customer_lang: str | None
    customer_lang_source: str
    """``given``, ``detected`` or ``unknown``."""
    took_ms: float
    index_version: str
    no_good_match: bool
    results: tuple[Suggestion, ...]

    @classmethod
    def from_json(cls, data: Json) -> SuggestResponse:
        return cls(
            search_id=data["search_id"], query=data["query"],
            queries=tuple(QueryPart(q["part"], int(q["index"]), q["text"], float(q["weight"]))
                          for q in data.get("queries", [])),
            customer_lang=data.get("customer_lang"),
            customer_lang_source=data.get("customer_lang_source", "unknown"),
            took_ms=float(data["took_ms"]), index_version=data["index_version"],
            no_good_match=bool(data["no_good_match"]),
            results=tuple(Suggestion.from_json(r) for r in data["results"]))


@dataclass(frozen=True, slots=True)
class Section:
    anchor: str
    heading_path: tuple[str, ...]
    level: int
    internal: bool
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str
    lang: str
    tags: tuple[str, ...]
    product: str | None
    audience: str
    owner: str | None
    updated: date | None
    verified: date | None
    stale: bool
    translation_of: str | None
    translations: Mapping[str, str]
    url: str
    sections: tuple[Section, ...]
    markdown: str
    html: str
    """Sanitized HTML rendered by the server."""

    @classmethod
    def from_json(cls, data: Json) -> Article:
        return cls(
            id=data["id"], title=data["title"], lang=data["lang"], tags=tuple(data.get("tags", [])),
            product=data.get("product"), audience=data.get("audience", "public"),
            owner=data.get("owner"), updated=_date(data.get("updated")),
            verified=_date(data.get("verified")), stale=bool(data.get("stale", False)),
            translation_of=data.get("translation_of"),
            translations=dict(data.get("translations", {})), url=data["url"],
            sections=tuple(Section(s["anchor"], tuple(s["heading_path"]), int(s["level"]),
                                   bool(s["internal"]), s["text"]) for s in data["sections"]),
            markdown=data["markdown"], html=data["html"])


@dataclass(frozen=True, slots=True)
class Facets:
    lang: tuple[str, ...]
    product: tuple[str, ...]
    tags: tuple[str, ...]
    audience: tuple[str, ...]
    index_version: str

    @classmethod
    def from_json(cls, data: Json) -> Facets:
        return cls(tuple(data["lang"]), tuple(data["product"]), tuple(data["tags"]),
                   tuple(data["audience"]), data["index_version"])


@dataclass(frozen=True, slots=True)
class Job:
    """A background index build."""

    id: str
    reason: str
    state: str
    """``queued``, ``running``, ``succeeded`` or ``failed``."""
    phase: str | None
    done: int
    total: int
    errors: tuple[Mapping[str, str], ...]
    """Articles the build skipped: ``{"path", "reason"}``."""
    created_at: datetime | None
    finished_at: datetime | None
    version: str | None
    """The snapshot the build published."""
    error: str | None
    url: str

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")

    @classmethod
    def from_json(cls, data: Json) -> Job:
        return cls(id=data["id"], reason=data.get("reason", ""), state=data["state"],
                   phase=data.get("phase"), done=int(data.get("done", 0)),
                   total=int(data.get("total", 0)),
                   errors=tuple(dict(e) for e in data.get("errors", [])),
                   created_at=_datetime(data.get("created_at")),
                   finished_at=_datetime(data.get("finished_at")), version=data.get("version"),
                   error=data.get("error"), url=data.get("url", ""))


@dataclass(frozen=True, slots=True)
class ArticleWrite:
    """An article upload or removal, and the rebuild it started."""

    article_id: str
    path: str
    job: Job

    @classmethod
    def from_json(cls, data: Json) -> ArticleWrite:
        return cls(data["article_id"], data["path"], Job.from_json(data["job"]))


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """The live snapshot."""

    version: str
    created_at: str
    model: Mapping[str, Any]
    counts: Mapping[str, Any]
    errors: tuple[Mapping[str, str], ...]
    build_seconds: float
    stale_articles: int
    retained: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Json) -> IndexInfo:
        return cls(version=data["version"], created_at=data["created_at"],
                   model=dict(data.get("model", {})), counts=dict(data.get("counts", {})),
                   errors=tuple(dict(e) for e in data.get("errors", [])),
                   build_seconds=float(data.get("build_seconds", 0.0)),
                   stale_articles=int(data.get("stale_articles", 0)),
                   retained=tuple(data.get("retained", [])))
