"""Domain records shared by the indexer stages and the service."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

HEADING_SEPARATOR = " › "


class Audience(StrEnum):
    """Who may read an article."""

    PUBLIC = "public"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Section:
    """A run of article text under one heading."""

    anchor: str
    """Slug of the heading, unique within the article; the deep-link fragment."""
    heading_path: tuple[str, ...]
    """Titles from the article title down to this heading."""
    level: int
    """Heading level 1–6 (1 for text before the first sub-heading)."""
    text: str
    """Plain text of the section body (Markdown syntax removed, paragraphs on lines)."""


@dataclass(frozen=True, slots=True)
class Article:
    """One parsed Markdown article with its front matter."""

    id: str
    """Stable id from front matter, or the path below the KB without ``.md``."""
    path: str
    """Path of the source file relative to the KB directory, with ``/`` separators."""
    title: str
    """Front-matter ``title``, else the first level-1 heading, else the file name."""
    lang: str
    """BCP-47 language tag, lower-cased primary subtag (``en``, ``pt-br``)."""
    tags: tuple[str, ...]
    """Free-form tags used as filters."""
    product: str | None
    """Product the article belongs to, used as a filter."""
    audience: Audience
    """``internal`` articles are for agents only."""
    owner: str | None
    """Who keeps the article correct (an e-mail or team name)."""
    updated: date | None
    """Date of the last content change."""
    verified: date | None
    """Date the content was last verified as correct."""
    review_every_days: int | None
    """Verification interval; the article is stale when it has passed."""
    translation_of: str | None
    """Id of the article this one translates."""
    internal_sections: tuple[str, ...]
    """Anchors of sections that agents see but customers must not."""
    markdown: str
    """The Markdown body without front matter."""
    sections: tuple[Section, ...]
    """Sections in document order."""

    @property
    def review_due(self) -> date | None:
        """The day after which the article is stale (see :meth:`is_stale`); None without a
        review interval or date."""
        checked = self.verified or self.updated
        if self.review_every_days is None or checked is None:
            return None
        return checked + timedelta(days=self.review_every_days)

    def overdue_days(self, today: date) -> int | None:
        """Days past the review date (``verified`` or ``updated`` + the interval), negative
        while still fresh; None when the article has no review interval or date."""
        due = self.review_due
        return None if due is None else (today - due).days

    def is_stale(self, today: date) -> bool:
        """Whether the review interval has passed since ``verified`` (or ``updated``)."""
        overdue = self.overdue_days(today)
        return overdue is not None and overdue > 0


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one section small enough for the embedding model."""

    id: str
    """``<article id>#<anchor>:<n>``, unique in a snapshot."""
    article_id: str
    """Id of the article the chunk belongs to."""
    anchor: str
    """Anchor of the section the chunk comes from."""
    heading_path: tuple[str, ...]
    """Heading path of that section."""
    text: str
    """Plain text of this piece of the section."""
    position: int
    """Order of the chunk within its article, from 0."""

    @property
    def embed_text(self) -> str:
        """What the model encodes: the heading path, then the text."""
        return HEADING_SEPARATOR.join(self.heading_path) + "\n" + self.text

    @property
    def section_label(self) -> str:
        """The heading path below the article title, for display."""
        below = self.heading_path[1:] or self.heading_path
        return HEADING_SEPARATOR.join(below)


def text_sha256(text: str) -> str:
    """Hex sha256 of UTF-8 text; the identity of a chunk's content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ArticleProblem:
    """An article that was skipped, and why."""

    path: str
    """File path relative to the KB directory."""
    reason: str
    """What is wrong and how to fix it."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked answer: the article, its best chunk, and what to show of it."""

    article: Article
    """The article that answers."""
    chunk: Chunk
    """Its best-matching chunk; the deep link points to this chunk's section."""
    score: float
    """Fused score scaled to 0–1 (1: ranked first by every retriever)."""
    snippet: str
    """A passage of the chunk around the matched words."""
    highlights: tuple[tuple[int, int], ...]
    """Start and end offsets (Unicode code points) of matched words in ``snippet``."""
    stale: bool
    """Whether the article's review is overdue."""
