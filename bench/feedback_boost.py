"""Does the helpful-vote boost hurt ranking? MRR@10 with and without it on the dev set.

Simulated agents vote on half of the dev queries (three agents each: helpful on the
expected article when it is in the top 3, not helpful on a wrong first answer); the
other half is scored with DESKMATE_FEEDBACK_BOOST at 0 and at a few small values.

    python bench/feedback_boost.py
"""

from __future__ import annotations

import dataclasses
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.main import search_config  # noqa: E402
from app.routes.search import priors  # noqa: E402
from app.search import Searcher  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import sample_searcher  # noqa: E402
from bench.quality import K, load_queries, reciprocal_rank  # noqa: E402

AGENTS = 3


def votes_from(searcher: Searcher, queries: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for query in queries:
        ranked = [h.article.id for h in searcher.search(query["q"], k=3).hits]
        expected = set(query["expected"])
        for article in ranked:
            if article in expected:
                tally[article][0] += AGENTS
                tally[article][1] += AGENTS
        if ranked and ranked[0] not in expected:
            tally[ranked[0]][1] += AGENTS
    return {article: (h, t) for article, (h, t) in tally.items()}


def mrr(searcher: Searcher, queries: list[dict[str, Any]], article_priors: dict[str, float]) -> float:
    total = 0.0
    for query in queries:
        ranked = [h.article.id for h in searcher.search(query["q"], k=K, priors=article_priors).hits]
        total += reciprocal_rank(ranked, set(query["expected"]))
    return total / len(queries)


def main() -> None:
    settings = Settings()
    answerable = [q for q in load_queries(ROOT / "bench" / "dev_queries.jsonl") if q["expected"]]
    train, test = answerable[::2], answerable[1::2]
    base: Searcher = sample_searcher(ROOT / "kb")  # type: ignore[assignment]
    snapshot, encoder = base.snapshot, base.encoder
    article_priors = priors(votes_from(base, train))
    print(f"{len(train)} voted queries → priors for {len(article_priors)} articles; "
          f"{len(test)} held-out queries")
    print(f"{'boost':>6} {'held-out MRR@10':>16} {'voted MRR@10':>13}")
    for boost in (0.0, 0.02, 0.05, 0.1):
        searcher = Searcher(snapshot, encoder,
                            dataclasses.replace(search_config(settings), feedback_boost=boost))
        print(f"{boost:>6} {mrr(searcher, test, article_priors):>16.3f} "
              f"{mrr(searcher, train, article_priors):>13.3f}")


if __name__ == "__main__":
    main()
