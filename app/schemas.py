"""Request and response models of the HTTP API (pydantic lives only at this edge)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from indexer.records import Audience

MAX_QUERY_CHARS = 1000
MAX_K = 50

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
        """Accept ``"a,b"`` and ``["a", "b"]`` alike."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [p.strip() for v in value for p in str(v).split(",") if p.strip()]
        return value


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
