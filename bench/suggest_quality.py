"""Ticket suggestions vs plain search on the raw ticket text, on the ticket dev set.

Every method goes through the real Searcher (the one the API uses). Prints MRR@10 and
Recall@1/@5 per language for:

- search, raw ticket (first 1,000 chars): what a plugin gets from ``/v1/search`` by
  pasting subject + body (the API takes at most 1,000 characters);
- search, raw ticket (whole): the same without the API's length limit;
- search, cleaned ticket: e-mail noise removed, subject + body as one query;
- suggest without cleaning: passages + fusion on the raw text (ablation);
- suggest: ``POST /v1/suggest``'s logic (cleaning, weighted subject, passages, RRF,
  language pinning to the detected customer language).

"strict" counts only the expected article (the version in the customer's language where
one exists); "any version" also counts its other language versions.

    python bench/suggest_quality.py [--kb kb] [--tickets bench/dev_tickets.jsonl]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.search import Searcher  # noqa: E402
from app.suggest import SuggestConfig, Ticket, suggest  # noqa: E402
from app.ticket import clean_ticket  # noqa: E402
from bench.common import sample_searcher  # noqa: E402

K = 10
API_MAX_QUERY = 1000
LANGS = ("en", "pl", "ru", "fa", "all")

Method = Callable[[Searcher, dict[str, Any]], list[str]]


def load_tickets(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def raw_text(ticket: dict[str, Any]) -> str:
    return f"{ticket['subject']}\n\n{ticket['body']}"


def search_raw_api(searcher: Searcher, ticket: dict[str, Any]) -> list[str]:
    return [h.article.id for h in searcher.search(raw_text(ticket)[:API_MAX_QUERY], k=K).hits]


def search_raw_whole(searcher: Searcher, ticket: dict[str, Any]) -> list[str]:
    return [h.article.id for h in searcher.search(raw_text(ticket), k=K).hits]


def search_cleaned(searcher: Searcher, ticket: dict[str, Any]) -> list[str]:
    clean = clean_ticket(ticket["subject"], ticket["body"])
    return [h.article.id for h in searcher.search(clean.text[:API_MAX_QUERY], k=K).hits]


def suggest_with(config: SuggestConfig) -> Method:
    def run(searcher: Searcher, ticket: dict[str, Any]) -> list[str]:
        outcome = suggest(searcher, Ticket(ticket["subject"], ticket["body"]), k=K, config=config)
        return [s.article.id for s in outcome.suggestions]
    return run


METHODS: dict[str, Method] = {
    "search, raw ticket (first 1,000 chars)": search_raw_api,
    "search, raw ticket (whole)": search_raw_whole,
    "search, cleaned ticket (one query)": search_cleaned,
    "suggest without cleaning": suggest_with(SuggestConfig(clean=False)),
    "suggest": suggest_with(SuggestConfig()),
}


def reciprocal_rank(ranked: list[str], expected: set[str]) -> float:
    for rank, article_id in enumerate(ranked[:K], start=1):
        if article_id in expected:
            return 1.0 / rank
    return 0.0


def versions(searcher: Searcher, article_ids: list[str]) -> set[str]:
    return {other for a in article_ids for other in [a, *searcher.translations(a).values()]}


def evaluate(searcher: Searcher, tickets: list[dict[str, Any]],
             method: Method) -> dict[str, dict[str, float]]:
    rows: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for ticket in tickets:
        started = time.perf_counter()
        ranked = method(searcher, ticket)
        took = (time.perf_counter() - started) * 1000
        strict = set(ticket["expected"])
        loose = versions(searcher, ticket["expected"])
        row = (reciprocal_rank(ranked, strict), float(bool(strict & set(ranked[:1]))),
               float(bool(strict & set(ranked[:5]))), reciprocal_rank(ranked, loose), took)
        rows[ticket["lang"]].append(row)
        rows["all"].append(row)
    names = ("mrr", "r1", "r5", "mrr_any")
    return {lang: {name: statistics.fmean(r[i] for r in lang_rows) for i, name in enumerate(names)}
            | {"n": len(lang_rows), "ms": statistics.median(r[4] for r in lang_rows)}
            for lang, lang_rows in rows.items()}


def print_table(results: dict[str, dict[str, dict[str, float]]], tickets: list[dict[str, Any]]) -> None:
    counts = {lang: sum(1 for t in tickets if t["lang"] == lang or lang == "all") for lang in LANGS}
    print("MRR@10 strict (per language, n) — and overall R@1 / R@5, MRR@10 any version, median ms")
    header = "".join(f"{lang} ({counts[lang]})".rjust(9) for lang in LANGS)
    print(f"{'method':<42}{header}{'R@1':>7}{'R@5':>7}{'any':>7}{'ms':>8}")
    for name, per_lang in results.items():
        cells = "".join(f"{per_lang.get(lang, {'mrr': 0.0})['mrr']:>9.3f}" for lang in LANGS)
        total = per_lang["all"]
        print(f"{name:<42}{cells}{total['r1']:>7.2f}{total['r5']:>7.2f}{total['mrr_any']:>7.3f}"
              f"{total['ms']:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=ROOT / "kb")
    parser.add_argument("--tickets", type=Path, default=ROOT / "bench" / "dev_tickets.jsonl")
    args = parser.parse_args()

    tickets = load_tickets(args.tickets)
    searcher: Searcher = sample_searcher(args.kb)  # type: ignore[assignment]
    encoder = searcher.encoder
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"model: {encoder.model_id}; {len(searcher.snapshot.articles)} articles, "
          f"{len(searcher.snapshot.chunks)} chunks; tickets: {len(tickets)}; k = {K}\n")
    suggest(searcher, Ticket("warm-up", "load the language identifier once"))
    results = {name: evaluate(searcher, tickets, method) for name, method in METHODS.items()}
    print_table(results, tickets)


if __name__ == "__main__":
    main()
