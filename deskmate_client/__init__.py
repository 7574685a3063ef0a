"""Typed Python client of the Deskmate API: search, ticket suggestions, articles, feedback, admin."""

from __future__ import annotations

__version__ = "0.1.0"

from deskmate_client.client import AsyncDeskmateClient, DeskmateClient  # noqa: E402
from deskmate_client.errors import (  # noqa: E402
    Conflict,
    ConnectionFailed,
    DeskmateError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationFailed,
)
from deskmate_client.models import (  # noqa: E402
    Article,
    ArticleWrite,
    Facets,
    IndexInfo,
    Job,
    PartMatch,
    QueryPart,
    Result,
    SearchResponse,
    Section,
    Suggestion,
    SuggestResponse,
)

__all__ = [
    "Article", "ArticleWrite", "AsyncDeskmateClient", "Conflict", "ConnectionFailed",
    "DeskmateClient", "DeskmateError", "Facets", "Forbidden", "IndexInfo", "Job", "NotFound",
    "PartMatch", "PayloadTooLarge", "QueryPart", "RateLimited", "Result", "SearchResponse",
    "Section", "ServerError", "Suggestion", "SuggestResponse", "Unauthorized", "ValidationFailed",
]
