"""``GET`` and ``POST /v1/search``, ``GET /v1/facets``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from app.auth import Forbidden, Principal
from app.deps import SearchCall, SearchCallDep, SearcherDep, SearchKeyDep, in_search_thread, search_call
from app.schemas import FacetsOut, ResultOut, SearchIn, SearchOut, from_query, json_response, query_parameters
from app.search import Filters, SearchOutcome
from app.searchlog import LoggedSearch, client_kind
from indexer.records import Audience

router = APIRouter(tags=["search"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "API key required (problem+json)"},
    422: {"description": "Invalid query or parameters (problem+json)"},
    429: {"description": "Rate limited; see Retry-After (problem+json)"},
    503: {"description": "No index loaded yet (problem+json)"},
}


CLIENT_NAME, CLIENT_DESCRIPTION = "X-Deskmate-Client", "sidebar, zendesk, bot… (for analytics)"
ClientHeader = Annotated[str | None, Header(alias=CLIENT_NAME, description=CLIENT_DESCRIPTION)]
CLIENT_HEADER = {"name": CLIENT_NAME, "in": "header", "required": False,
                 "schema": {"type": "string"}, "description": CLIENT_DESCRIPTION}


@router.get("/v1/search", response_model=SearchOut, responses=PROBLEMS,
            openapi_extra={"parameters": [*query_parameters(SearchIn), CLIENT_HEADER]})
async def search_get(request: Request) -> Response:
    """Ranked answers for a query. List filters repeat or take commas: ``lang=en,pl``."""
    # The route with the most calls reads its own parameters (documented by openapi_extra):
    # FastAPI's dependency and query-model solving cost it 0.1–0.3 ms (see from_query).
    call = await search_call(request)
    params = from_query(SearchIn, request.query_params)
    client = request.headers.get(CLIENT_NAME)
    return await in_search_thread(call.state, lambda: run_search(call, params, client))


@router.post("/v1/search", response_model=SearchOut, responses=PROBLEMS)
async def search_post(call: SearchCallDep, body: SearchIn, client: ClientHeader = None) -> Response:
    """Ranked answers for a query sent as JSON."""
    return await in_search_thread(call.state, lambda: run_search(call, body, client))


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


MIN_VOTES_FOR_BOOST = 3


def run_search(call: SearchCall, params: SearchIn, client: str | None) -> Response:
    """Search, count it, log it (in the background) and shape the response."""
    principal, state = call.principal, call.state
    filters = Filters(tuple(params.lang), tuple(params.tags), tuple(params.product),
                      visible_audiences(params.audience, principal))
    votes = state.helpful_rates.votes()
    outcome = call.searcher.search(params.q, k=params.k, filters=filters, priors=priors(votes))
    search_id = uuid.uuid4().hex
    state.metrics.searches.labels("search").inc()
    if outcome.no_good_match:
        state.metrics.no_good_match.labels("search").inc()
    state.search_log.record(LoggedSearch(
        search_id=search_id, query=outcome.query, lang=outcome.query_lang,
        filters={"lang": params.lang, "tags": params.tags, "product": params.product,
                 "audience": [a.value for a in params.audience]},
        hits=outcome.hits, no_good_match=outcome.no_good_match, latency_ms=outcome.took_ms,
        endpoint="search", client=client_kind(client), key_id=principal.key_id))
    return json_response(search_out(outcome, search_id, votes))


def priors(votes: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """Smoothed helpful rates of articles with enough votes to mean something."""
    return {article: (helpful + 1) / (total + 2) for article, (helpful, total) in votes.items()
            if total >= MIN_VOTES_FOR_BOOST}


def search_out(outcome: SearchOutcome, search_id: str,
               votes: Mapping[str, tuple[int, int]] | None = None) -> SearchOut:
    votes = votes or {}
    results = [
        ResultOut(
            article_id=hit.article.id, title=hit.article.title, section=hit.chunk.section_label,
            url=f"/v1/articles/{hit.article.id}#{hit.chunk.anchor}", snippet=hit.snippet,
            highlights=list(hit.highlights), score=hit.score, lang=hit.article.lang,
            tags=list(hit.article.tags), product=hit.article.product,
            audience=hit.article.audience, updated=hit.article.updated, stale=hit.stale,
            helpful_rate=_rate(votes.get(hit.article.id)),
            votes=votes.get(hit.article.id, (0, 0))[1],
        )
        for hit in outcome.hits
    ]
    return SearchOut(search_id=search_id, query=outcome.query, took_ms=round(outcome.took_ms, 2),
                     index_version=outcome.index_version, no_good_match=outcome.no_good_match,
                     results=results)


def _rate(vote: tuple[int, int] | None) -> float | None:
    return round(vote[0] / vote[1], 3) if vote and vote[1] else None
