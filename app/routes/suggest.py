"""``POST /v1/suggest``: answers for a whole helpdesk ticket."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Response

from app.deps import SearchCall, SearchCallDep, in_search_thread
from app.routes.search import PROBLEMS, ClientHeader, priors, visible_audiences
from app.schemas import (
    PartMatchOut,
    QueryPartOut,
    SuggestIn,
    SuggestOut,
    SuggestResultOut,
    WhyOut,
    json_response,
)
from app.searchlog import LoggedSearch, client_kind
from app.suggest import Access, Suggestion, SuggestOutcome, Ticket, suggest

router = APIRouter(tags=["suggest"])

SUGGEST_PROBLEMS: dict[int | str, dict[str, Any]] = PROBLEMS | {
    413: {"description": "The ticket is over 64 KiB (problem+json)"},
}


@router.post("/v1/suggest", response_model=SuggestOut, responses=SUGGEST_PROBLEMS)
async def suggest_post(call: SearchCallDep, body: SuggestIn, client: ClientHeader = None) -> Response:
    """Articles that answer a ticket, in the customer's language, without those already sent.

    Keys without internal access (``--public``) never receive internal articles or text
    from internal sections; agents get such passages flagged ``internal: true``.
    """
    return await in_search_thread(call.state, lambda: run_suggest(call, body, client))


def run_suggest(call: SearchCall, body: SuggestIn, client: str | None) -> Response:
    """Suggest, count it, log it (in the background) and shape the response."""
    principal, state = call.principal, call.state
    access = Access(visible_audiences([], principal), internal_sections=principal.internal)
    ticket = Ticket(subject=body.subject, body=body.body, customer_lang=body.customer_lang,
                    agent_lang=body.agent_lang, tags=tuple(body.tags), product=tuple(body.product),
                    exclude_article_ids=tuple(body.exclude_article_ids))
    votes = state.helpful_rates.votes()
    outcome = suggest(call.searcher, ticket, k=body.k, access=access, priors=priors(votes))
    search_id = uuid.uuid4().hex
    state.metrics.searches.labels("suggest").inc()
    if outcome.no_good_match:
        state.metrics.no_good_match.labels("suggest").inc()
    state.search_log.record(LoggedSearch(
        search_id=search_id, query=outcome.parts[0].text, lang=outcome.customer_lang,
        filters={"tags": list(body.tags), "product": list(body.product),
                 "exclude_article_ids": list(body.exclude_article_ids)},
        hits=outcome.hits(), no_good_match=outcome.no_good_match, latency_ms=outcome.took_ms,
        endpoint="suggest", client=client_kind(client), key_id=principal.key_id))
    return json_response(suggest_out(outcome, search_id, votes))


def suggest_out(outcome: SuggestOutcome, search_id: str,
                votes: Mapping[str, tuple[int, int]] | None = None) -> SuggestOut:
    parts = [QueryPartOut(part=p.kind.value, index=p.index, text=p.text, weight=p.weight)
             for p in outcome.parts]
    return SuggestOut(
        search_id=search_id, query=outcome.parts[0].text, queries=parts,
        customer_lang=outcome.customer_lang, customer_lang_source=outcome.lang_source.value,
        took_ms=round(outcome.took_ms, 2), index_version=outcome.index_version,
        no_good_match=outcome.no_good_match,
        results=[_result(s, votes or {}) for s in outcome.suggestions])


def _result(s: Suggestion, votes: Mapping[str, tuple[int, int]]) -> SuggestResultOut:
    article, chunk = s.article, s.chunk
    helpful, total = votes.get(article.id, (0, 0))
    return SuggestResultOut(
        article_id=article.id, title=article.title, section=chunk.section_label,
        url=f"/v1/articles/{article.id}#{chunk.anchor}", snippet=s.snippet,
        highlights=list(s.highlights), score=s.score, lang=article.lang, tags=list(article.tags),
        product=article.product, audience=article.audience, updated=article.updated,
        stale=s.stale, helpful_rate=round(helpful / total, 3) if total else None, votes=total,
        passage=s.passage, internal=s.internal,
        why=WhyOut(terms=list(s.matched_terms),
                   parts=[PartMatchOut(part=m.part.kind.value, index=m.part.index, rank=m.rank)
                          for m in s.matched_parts]),
        languages=sorted({article.lang, *s.translations}), translations=s.translations,
        pinned_from=s.pinned_from, agent_article_id=s.agent_article_id,
    )
