"""``POST /v1/feedback`` and ``POST /v1/events``: what agents thought and did with answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.analytics import normalize_query
from app.deps import SearchKeyDep, StateDep
from app.errors import NotFound
from app.schemas import AcceptedOut, EventIn, FeedbackIn

router = APIRouter(tags=["feedback"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "API key required (problem+json)"},
    404: {"description": "Unknown search_id (problem+json)"},
    422: {"description": "Invalid body (problem+json)"},
}


def _logged_query(state: StateDep, search_id: str) -> str:
    """The search's logged query; a search that is not logged is a 404."""
    query = state.search_log.logged_query(search_id)
    if query is None:
        raise NotFound(f"no search {search_id!r} is logged; send the search_id of a search "
                       "answered by this service (searches older than the retention are purged)")
    return query


@router.post("/v1/feedback", status_code=201, response_model=AcceptedOut, responses=PROBLEMS)
def post_feedback(principal: SearchKeyDep, body: FeedbackIn, state: StateDep) -> AcceptedOut:
    """Helpful or not, for one answer of one search; a second vote replaces the first.
    Written before the 201 is sent: an acknowledged vote survives a crash."""
    query = _logged_query(state, body.search_id)
    state.store.put_feedback(search_id=body.search_id, article_id=body.article_id,
                             section=body.section, helpful=body.helpful, comment=body.comment,
                             key_id=principal.key_id)
    state.helpful_rates.invalidate()
    if not body.helpful:  # its query is a content gap now: encode it before a report asks
        state.missed.add([normalize_query(query)])
    return AcceptedOut()


@router.post("/v1/events", status_code=201, response_model=AcceptedOut, responses=PROBLEMS)
def post_event(principal: SearchKeyDep, body: EventIn, state: StateDep) -> AcceptedOut:
    """A result was opened, copied, or its link copied (from the sidebar or a plugin)."""
    _logged_query(state, body.search_id)
    state.store.add_event(search_id=body.search_id, article_id=body.article_id, rank=body.rank,
                          action=body.action.value, key_id=principal.key_id)
    return AcceptedOut()
