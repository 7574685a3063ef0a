"""``GET /v1/admin/analytics``: searches, success, gaps, helpfulness, stale articles."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic_core import to_json

from app.activity import GiveWay
from app.analytics import REPORT_ROWS, build_report, csv_text, period_of, table_names
from app.deps import AdminKeyDep, StateDep
from app.errors import BadRequest

router = APIRouter(tags=["admin"])

@router.get("/v1/admin/analytics", responses={
    200: {"content": {"text/csv": {}}, "description": "JSON report, or one table as CSV"},
    422: {"description": "Bad period, format or table (problem+json)"}})
async def analytics(
    _: AdminKeyDep, state: StateDep,
    since: Annotated[date | None, Query(alias="from", description="First day (UTC)")] = None,
    until: Annotated[date | None, Query(alias="to", description="Last day (UTC)")] = None,
    lang: Annotated[str | None, Query(description="Only searches in this language")] = None,
    format: Literal["json", "csv"] = "json",
    table: Annotated[str | None, Query(description="With format=csv: which table")] = None,
) -> Any:
    """Searches, success and no-good-match rates, top queries, content gaps grouped by
    topic with the nearest article's owner, articles by helpfulness and use, never-used
    and stale articles. Each JSON table holds its first 100 rows, and ``total`` counts them
    all; ``format=csv&table=never_used`` exports one table with every row.

    Reports are built one at a time, in a thread of their own, which steps aside every
    millisecond while searches run."""
    period = period_of(since, until, lang)
    if format == "csv" and (table is None or table not in table_names()):
        raise BadRequest(f"table={table!r}: format=csv exports one table, one of "
                         f"{', '.join(table_names())}")
    one = table if format == "csv" else None  # a CSV export builds its one table, in full

    def build() -> Response:  # the body too is made here, not on the event loop
        state.search_log.flush()
        give_way = GiveWay(state.activity)
        report = build_report(state.store, state.live.searcher, period,
                              vectors=state.gap_vectors, limit=None if one else REPORT_ROWS,
                              only=one, give_way=give_way)
        if one is None:
            tables = {name: {"columns": t.columns, "rows": t.rows, "total": t.count}
                      for name, t in report["tables"].items()}
            return Response(to_json({**report, "tables": tables}), media_type="application/json")
        return PlainTextResponse(csv_text(report["tables"][one], give_way), media_type="text/csv",
                                 headers={"Content-Disposition":
                                          f'attachment; filename="deskmate-{one}.csv"'})

    return await asyncio.get_running_loop().run_in_executor(state.report_pool, build)
