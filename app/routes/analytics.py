"""``GET /v1/admin/analytics``: searches, success, gaps, helpfulness, stale articles."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from app.analytics import build_report, csv_text, period_of, table_names
from app.deps import AdminKeyDep, StateDep
from app.errors import BadRequest

router = APIRouter(tags=["admin"])

@router.get("/v1/admin/analytics", responses={
    200: {"content": {"text/csv": {}}, "description": "JSON report, or one table as CSV"},
    422: {"description": "Bad period, format or table (problem+json)"}})
def analytics(
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
    all; ``format=csv&table=never_used`` exports one table with every row."""
    state.search_log.flush()
    period = period_of(since, until, lang)
    if format == "json":
        report = build_report(state.store, state.live.searcher, period)
        tables = {name: {"columns": t.columns, "rows": t.rows, "total": t.count}
                  for name, t in report["tables"].items()}
        return {**report, "tables": tables}
    if table is None or table not in table_names():
        raise BadRequest(f"table={table!r}: format=csv exports one table, one of "
                         f"{', '.join(table_names())}")
    report = build_report(state.store, state.live.searcher, period, limit=None, only=table)
    filename = f"deskmate-{table}.csv"
    return PlainTextResponse(csv_text(report["tables"][table]), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
