"""Request and response models of the HTTP API (pydantic lives only at this edge)."""

from __future__ import annotations

import functools
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar, get_origin

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from starlette.datastructures import QueryParams
from starlette.responses import Response

from indexer.records import Audience

MAX_QUERY_CHARS = 1000
MAX_K = 50


def json_response(model: BaseModel) -> Response:
    """``model`` as JSON, serialized by pydantic in one step.

    For the hot routes: FastAPI would validate a returned model against
    ``response_model`` once more before serializing it (and, for a plain ``def`` route,
    in another thread-pool hop). The route keeps ``response_model`` for the OpenAPI schema.
    """
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


M = TypeVar("M", bound=BaseModel)


def from_query(model: type[M], query: QueryParams) -> M:
    """``model`` read from a query string as FastAPI reads a query model: a list field
    takes every value of its name, another field the last; an error is the same 422.

    For ``GET /v1/search``: FastAPI solving ``Annotated[SearchIn, Query()]`` costs a search
    ~0.1–0.2 ms (it inspects the field annotations on every request), pydantic ~10 µs.

    Raises:
        RequestValidationError: a value is missing, malformed or not a field of ``model``.
    """
    lists = _list_fields(model)
    values = {name: query.getlist(name) if name in lists else query[name] for name in query}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]) from None


@functools.cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, info in model.model_fields.items()
                     if get_origin(info.annotation) is list)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects for a route that reads ``model`` with :func:`from_query`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required, "schema": field,
             "description": field.get("description", "")}
            for name, field in schema["properties"].items()]


def comma_list(value: object) -> object:
    """Accept ``"a,b"`` and ``["a", "b"]`` alike for list fields."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [p.strip() for v in value for p in str(v).split(",") if p.strip()]
    return value


Query = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=MAX_QUERY_CHARS)]


class SearchIn(BaseModel):
    """``POST /v1/search`` body; ``GET`` takes the same fields as query parameters."""

    model_config = ConfigDict(extra="forbid")

    q: Query = Field(description="What the agent or customer asked, in any language.")
    k: int = Field(5, ge=1, le=MAX_K, description="How many articles to return.")
    lang: list[str] = Field(default_factory=list, description="Only these languages.")
    tags: list[str] = Field(default_factory=list, description="Only articles with any of these tags.")
    product: list[str] = Field(default_factory=list, description="Only these products.")
    audience: list[Audience] = Field(default_factory=list, description="Only these audiences.")

    @field_validator("lang", "tags", "product", "audience", mode="before")
    @classmethod
    def _comma_lists(cls, value: object) -> object:
        return comma_list(value)


class ResultOut(BaseModel):
    article_id: str
    title: str
    section: str = Field(description="Heading path of the matched section below the title.")
    url: str = Field(description="Deep link: the article with the section anchor.")
    snippet: str
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) offsets of matched words in snippet, in Unicode code points.")
    score: float = Field(description="Fused relevance scaled to 0–1.")
    lang: str
    tags: list[str]
    product: str | None
    audience: Audience
    updated: date | None
    stale: bool = Field(description="The article's review is overdue.")
    helpful_rate: float | None = Field(
        None, description="Share of agents' votes on this article that said helpful (null: none).")
    votes: int = Field(0, description="Helpful / not helpful votes the article has received.")


class SearchOut(BaseModel):
    search_id: str
    query: str
    took_ms: float
    index_version: str
    no_good_match: bool = Field(description="Evidence is weak: results are best candidates only.")
    results: list[ResultOut]


class SectionOut(BaseModel):
    anchor: str
    heading_path: list[str]
    level: int
    internal: bool = Field(description="Listed in internal_sections: for agents, not customers.")
    text: str = Field(description="The section as plain text (for copying).")


class ArticleOut(BaseModel):
    id: str
    title: str
    lang: str
    tags: list[str]
    product: str | None
    audience: Audience
    owner: str | None
    updated: date | None
    verified: date | None
    review_every_days: int | None
    stale: bool
    translation_of: str | None
    translations: dict[str, str] = Field(
        description="Other language versions of this article: language → article id.")
    url: str
    sections: list[SectionOut]
    markdown: str
    html: str = Field(description="Rendered Markdown; raw HTML in articles is never passed through.")


class FacetsOut(BaseModel):
    """Values present in the live index, for filter menus."""

    lang: list[str]
    product: list[str]
    tags: list[str]
    audience: list[Audience]
    index_version: str


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    index_version: str
    articles: int
    chunks: int
    model: str


class JobOut(BaseModel):
    """A background build."""

    id: str
    reason: str
    state: str = Field(description="queued, running, succeeded or failed")
    phase: str | None = Field(description="parse, embed, bm25, write or publish")
    done: int
    total: int
    errors: list[dict[str, str]] = Field(description="Articles skipped: path and reason.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    version: str | None = Field(description="Snapshot published by this build.")
    embedded: int | None = Field(description="Chunks newly encoded.")
    error: str | None
    worker_pid: int | None = Field(description="Process id of the build worker that ran it.")
    url: str


class ArticleWriteOut(BaseModel):
    article_id: str
    path: str = Field(description="File written or removed, relative to the KB directory.")
    job: JobOut


class IndexOut(BaseModel):
    version: str
    created_at: str
    model: dict[str, Any]
    counts: dict[str, Any]
    errors: list[dict[str, str]]
    build_seconds: float
    stale_articles: int
    retained: list[str]


class FeedbackIn(BaseModel):
    """An agent's (or plugin's) verdict on one answer of one search."""

    model_config = ConfigDict(extra="forbid")

    search_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    article_id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    section: Annotated[str, StringConstraints(max_length=300)] | None = None
    helpful: bool
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class EventAction(StrEnum):
    OPEN = "open"
    COPY = "copy"
    LINK = "link"


class EventIn(BaseModel):
    """A click on a result: opened, copied or its link copied."""

    model_config = ConfigDict(extra="forbid")

    search_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    article_id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    rank: int | None = Field(None, ge=1, le=1000)
    action: EventAction


class AcceptedOut(BaseModel):
    status: str = "recorded"


# --- POST /v1/suggest (answers for a whole ticket) ---

MAX_TICKET_CHARS = 64 * 1024
MAX_EXCLUDED = 200

LangTag = Annotated[str, StringConstraints(strip_whitespace=True,
                                           pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")]


class SuggestIn(BaseModel):
    """A ticket as a helpdesk plugin sees it. Subject or body must hold some text."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field("", max_length=MAX_TICKET_CHARS, description="The ticket's subject.")
    body: str = Field("", max_length=MAX_TICKET_CHARS, description=(
        "The customer's message as received: quoted replies, greetings and signatures are removed."))
    customer_lang: LangTag | None = Field(
        None, description="The customer's language (BCP-47, e.g. pl or pt-BR); detected when absent.")
    agent_lang: LangTag | None = Field(
        None, description="The agent's language: each result names its version in it, if any.")
    tags: list[str] = Field(default_factory=list, description="Only articles with any of these tags.")
    product: list[str] = Field(default_factory=list, description="Only these products.")
    exclude_article_ids: list[str] = Field(
        default_factory=list, max_length=MAX_EXCLUDED,
        description="Articles already sent in this conversation (their translations are left out too).")
    k: int = Field(5, ge=1, le=MAX_K, description="How many articles to return.")

    @field_validator("tags", "product", mode="before")
    @classmethod
    def _comma_lists(cls, value: object) -> object:
        return comma_list(value)


class PartMatchOut(BaseModel):
    part: str = Field(description="subject or passage")
    index: int = Field(description="Passage number from 1 (0 for the subject).")
    rank: int = Field(description="Rank of this article in that part's own search, from 1.")


class WhyOut(BaseModel):
    """Why a result matched the ticket."""

    terms: list[str] = Field(description="Words of the snippet that matched the ticket.")
    parts: list[PartMatchOut] = Field(description="Which parts of the ticket found the article.")


class SuggestResultOut(ResultOut):
    passage: str = Field(description="The matched passage as plain text, to insert into a reply.")
    internal: bool = Field(description=(
        "The passage comes from an internal section: for agents, not to be sent to customers. "
        "Keys without internal access never receive such passages."))
    why: WhyOut
    languages: list[str] = Field(description="Languages this article exists in.")
    translations: dict[str, str] = Field(
        description="Other language versions of this article: language → article id.")
    pinned_from: str | None = Field(description=(
        "The article that matched, when its translation in the customer's language is returned."))
    agent_article_id: str | None = Field(
        description="The version in agent_lang, when it is not the returned one.")


class QueryPartOut(BaseModel):
    part: str = Field(description="subject or passage")
    index: int
    text: str = Field(description="What was searched: the part after cleaning.")
    weight: float


class SuggestOut(BaseModel):
    search_id: str
    query: str = Field(description="The cleaned ticket (subject, then body) as it was searched.")
    queries: list[QueryPartOut]
    customer_lang: str | None
    customer_lang_source: str = Field(description="given, detected or unknown")
    took_ms: float
    index_version: str
    no_good_match: bool = Field(description="Evidence is weak: results are best candidates only.")
    results: list[SuggestResultOut]
