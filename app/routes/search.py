"""``GET`` and ``POST /v1/search``, ``GET /v1/facets``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.auth import Forbidden, Principal
from app.deps import SearcherDep, SearchKeyDep, StateDep
from app.schemas import FacetsOut, ResultOut, SearchIn, SearchOut
from app.search import Filters, Searcher, SearchOutcome
from indexer.records import Audience

router = APIRouter(tags=["search"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "API key required (problem+json)"},
    422: {"description": "Invalid query or parameters (problem+json)"},
    429: {"description": "Rate limited; see Retry-After (problem+json)"},
    503: {"description": "No index loaded yet (problem+json)"},
}


@router.get("/v1/search", response_model=SearchOut, responses=PROBLEMS)
def search_get(principal: SearchKeyDep, params: Annotated[SearchIn, Query()],
               searcher: SearcherDep, state: StateDep) -> SearchOut:
    """Ranked answers for a query. List filters repeat or take commas: ``lang=en,pl``."""
    return run_search(searcher, params, principal, state.metrics, "search")


@router.post("/v1/search", response_model=SearchOut, responses=PROBLEMS)
def search_post(principal: SearchKeyDep, body: SearchIn, searcher: SearcherDep,
                state: StateDep) -> SearchOut:
    """Ranked answers for a query sent as JSON."""
    return run_search(searcher, body, principal, state.metrics, "search")


@router.get("/v1/facets", response_model=FacetsOut, responses=PROBLEMS)
def facets(principal: SearchKeyDep, searcher: SearcherDep) -> FacetsOut:
    """Languages, products, tags and audiences present in the index (for filter menus)."""
    values = searcher.facet_values()
    audiences = values["audience"] if principal.internal else [Audience.PUBLIC.value]
    return FacetsOut(lang=values["lang"], product=values["product"], tags=values["tags"],
                     audience=[Audience(a) for a in audiences],
                     index_version=searcher.snapshot.version)


def visible_audiences(requested: list[Audience], principal: Principal) -> tuple[Audience, ...]:
    """The audience filter a caller may use: keys without internal access see public only.

    Raises:
        Forbidden: the caller asked only for internal articles it may not see.
    """
    if principal.internal:
        return tuple(requested)
    if requested and Audience.PUBLIC not in requested:
        raise Forbidden(f"the key '{principal.name}' may not search internal articles")
    return (Audience.PUBLIC,)


def run_search(searcher: Searcher, params: SearchIn, principal: Principal, metrics: Any,
               endpoint: str) -> SearchOut:
    filters = Filters(tuple(params.lang), tuple(params.tags), tuple(params.product),
                      visible_audiences(params.audience, principal))
    outcome = searcher.search(params.q, k=params.k, filters=filters)
    metrics.searches.labels(endpoint).inc()
    if outcome.no_good_match:
        metrics.no_good_match.labels(endpoint).inc()
    return search_out(outcome, uuid.uuid4().hex)


def search_out(outcome: SearchOutcome, search_id: str) -> SearchOut:
    results = [
        ResultOut(
            article_id=hit.article.id, title=hit.article.title, section=hit.chunk.section_label,
            url=f"/v1/articles/{hit.article.id}#{hit.chunk.anchor}", snippet=hit.snippet,
            highlights=list(hit.highlights), score=hit.score, lang=hit.article.lang,
            tags=list(hit.article.tags), product=hit.article.product,
            audience=hit.article.audience, updated=hit.article.updated, stale=hit.stale,
        )
        for hit in outcome.hits
    ]
    return SearchOut(search_id=search_id, query=outcome.query, took_ms=round(outcome.took_ms, 2),
                     index_version=outcome.index_version, no_good_match=outcome.no_good_match,
                     results=results)
