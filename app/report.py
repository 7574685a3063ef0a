"""`deskmate report`: the analytics report as rich tables in the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from app.analytics import Table

TITLES = {
    "content_gaps": "Content gaps: what agents could not find",
    "stale_articles": "Stale articles (review overdue)",
    "articles_by_helpfulness": "Articles by helpful rate",
    "least_helpful": "Least helpful articles",
    "articles_by_use": "Articles by use",
    "top_queries": "Top queries",
    "never_used": "Never used",
    "per_day": "Searches per day",
}


def _percent(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    summary = report["summary"]
    period = report["period"]
    console.print(f"[bold]Deskmate report[/bold] {period['from'][:10]} – {period['to'][:10]}"
                  + (f" (lang {period['lang']})" if period["lang"] else ""))
    console.print(
        f"searches {summary['searches']} · success {_percent(summary['success_rate'])} · "
        f"no good match {_percent(summary['no_good_match_rate'])} · helpful "
        f"{_percent(summary['helpful_rate'])} · median latency "
        f"{summary['median_latency_ms'] if summary['median_latency_ms'] is not None else '–'} ms")
    for name, title in TITLES.items():
        console.print(_rich(name, title, report["tables"][name]))


def _rich(name: str, title: str, table: Table, limit: int = 15) -> RichTable:
    shown = min(limit, len(table.rows))
    caption = (f"{shown} of {table.count}; `deskmate report --csv {name}` prints them all"
               if table.count > shown else None)
    out = RichTable(title=title, title_justify="left", show_lines=False, caption=caption,
                    caption_justify="left")
    for column in table.columns:
        out.add_column(column.replace("_", " "), overflow="fold")
    for row in table.rows[:limit]:
        out.add_row(*("–" if cell is None else str(cell) for cell in row))
    if not table.rows:
        out.add_row(*(["nothing yet"] + [""] * (len(table.columns) - 1)))
    return out
