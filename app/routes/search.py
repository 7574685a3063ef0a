"""``GET`` and ``POST /v1/search``."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.deps import SearcherDep
from app.schemas import FacetsOut, ResultOut, SearchIn, SearchOut
from app.search import Filters, Searcher, SearchOutcome

router = APIRouter(tags=["search"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid query or parameters (problem+json)"},
    503: {"description": "No index loaded yet (problem+json)"},
}


@router.get("/v1/search", response_model=SearchOut, responses=PROBLEMS)
def search_get(params: Annotated[SearchIn, Query()], searcher: SearcherDep) -> SearchOut:
    """Ranked answers for a query. List filters repeat or take commas: ``lang=en,pl``."""
    return run_search(searcher, params)


@router.post("/v1/search", response_model=SearchOut, responses=PROBLEMS)
def search_post(body: SearchIn, searcher: SearcherDep) -> SearchOut:
    """Ranked answers for a query sent as JSON."""
    return run_search(searcher, body)


@router.get("/v1/facets", response_model=FacetsOut, responses=PROBLEMS)
def facets(searcher: SearcherDep) -> FacetsOut:
    """Languages, products, tags and audiences present in the index (for filter menus)."""
    values = searcher.facet_values()
    return FacetsOut(lang=values["lang"], product=values["product"], tags=values["tags"],
                     audience=values["audience"], index_version=searcher.snapshot.version)


def run_search(searcher: Searcher, params: SearchIn) -> SearchOut:
    filters = Filters(tuple(params.lang), tuple(params.tags), tuple(params.product),
                      tuple(params.audience))
    outcome = searcher.search(params.q, k=params.k, filters=filters)
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
