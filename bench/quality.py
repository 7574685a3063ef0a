"""Retrieval quality on the dev set, through the real Searcher.

Prints MRR@10, Recall@1 and Recall@5 for BM25 only, dense only and hybrid, per
language and overall; no-good-match precision/recall; and, with --ablate-stemming,
what Snowball stemming adds per language. --calibrate grid-searches the
no-good-match thresholds.

    python bench/quality.py [--kb kb] [--queries bench/dev_queries.jsonl] [--calibrate]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.search import Evidence, Mode, Searcher, no_good_match  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import sample_searcher  # noqa: E402
from indexer.analyze import Analyzer  # noqa: E402
from indexer.lexical import LexicalIndex  # noqa: E402

K = 10


def load_queries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def reciprocal_rank(ranked: list[str], expected: set[str]) -> float:
    for rank, article_id in enumerate(ranked[:K], start=1):
        if article_id in expected:
            return 1.0 / rank
    return 0.0


def evaluate(searcher: Searcher, queries: list[dict[str, Any]], mode: Mode) -> dict[str, dict[str, float]]:
    per_lang: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for query in queries:
        expected = set(query["expected"])
        if not expected:
            continue
        ranked = [h.article.id for h in searcher.search(query["q"], k=K, mode=mode).hits]
        rr = reciprocal_rank(ranked, expected)
        row = (rr, float(bool(expected & set(ranked[:1]))), float(bool(expected & set(ranked[:5]))))
        per_lang[query["lang"]].append(row)
        per_lang["all"].append(row)
    return {lang: dict(zip(("mrr", "r1", "r5"), np.mean(rows, axis=0).tolist(), strict=True))
            | {"n": len(rows)} for lang, rows in per_lang.items()}


def no_good_match_table(searcher: Searcher,
                        queries: list[dict[str, Any]]) -> list[tuple[bool, bool, Evidence | None]]:
    """(unanswerable?, top hit correct?, evidence of the top hit) per query (hybrid)."""
    rows: list[tuple[bool, bool, Evidence | None]] = []
    for query in queries:
        outcome = searcher.search(query["q"], k=K)
        correct = bool(outcome.hits) and outcome.hits[0].article.id in query["expected"]
        rows.append((not query["expected"], correct, outcome.evidence))
    return rows


def ngm_scores(rows: list[tuple[bool, bool, Evidence | None]], min_sim: float,
               min_cov: float) -> dict[str, float]:
    """Detection of unanswerable queries; false alarms: flagged queries whose top hit is right."""
    tp = fp = fn = alarms = 0
    for unanswerable, correct, evidence in rows:
        flagged = no_good_match(evidence, min_sim, min_cov)
        tp += flagged and unanswerable
        fp += flagged and not unanswerable
        fn += (not flagged) and unanswerable
        alarms += flagged and correct
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    right = sum(1 for _, correct, _ in rows if correct)
    return {"precision": precision, "recall": recall, "f1": f1,
            "false_alarm_rate": alarms / right if right else 0.0}


def calibrate(rows: list[tuple[bool, bool, Evidence | None]]) -> None:
    best = None
    for min_sim in np.arange(0.30, 0.66, 0.02):
        for min_cov in np.arange(0.30, 1.01, 0.04):
            score = ngm_scores(rows, float(min_sim), float(min_cov))
            # F1 first; among equals prefer fewer false alarms on answerable queries.
            key = (round(score["f1"], 4), -score["false_alarm_rate"])
            if best is None or key > best[0]:
                best = (key, float(min_sim), float(min_cov), score)
    assert best is not None
    _, min_sim, min_cov, score = best
    print(f"\nbest no-good-match thresholds: min_similarity={min_sim:.2f} "
          f"min_coverage={min_cov:.2f} -> {fmt(score)}")


def ablate_stemming(searcher: Searcher, queries: list[dict[str, Any]]) -> None:
    print("\nStemming ablation (MRR@10 per language, stemmed vs not):")
    print(f"{'lang':<6}{'bm25 stem':>11}{'bm25 none':>11}{'hybrid stem':>13}{'hybrid none':>13}")
    base_lex = evaluate(searcher, queries, Mode.LEXICAL)
    base_hyb = evaluate(searcher, queries, Mode.HYBRID)
    snapshot = searcher.snapshot
    texts = [c.embed_text for c in snapshot.chunks]
    langs = [snapshot.articles[c.article_id].lang for c in snapshot.chunks]
    for lang in sorted(set(langs)):
        analyzer = Analyzer(unstemmed=frozenset({lang}))
        lexical = LexicalIndex.from_texts(texts, langs, analyzer)
        variant = Searcher(dataclasses.replace(snapshot, lexical=lexical), searcher.encoder,
                           searcher.config, analyzer)
        lex = evaluate(variant, queries, Mode.LEXICAL).get(lang, {"mrr": 0})
        hyb = evaluate(variant, queries, Mode.HYBRID).get(lang, {"mrr": 0})
        print(f"{lang:<6}{base_lex[lang]['mrr']:>11.3f}{lex['mrr']:>11.3f}"
              f"{base_hyb[lang]['mrr']:>13.3f}{hyb['mrr']:>13.3f}")


def fmt(score: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in score.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=ROOT / "kb")
    parser.add_argument("--queries", type=Path, default=ROOT / "bench" / "dev_queries.jsonl")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--ablate-stemming", action="store_true")
    args = parser.parse_args()

    settings = Settings()
    queries = load_queries(args.queries)
    searcher: Searcher = sample_searcher(args.kb)  # type: ignore[assignment]
    encoder = searcher.encoder
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"model: {encoder.model_id}; languages {', '.join(encoder.languages)}; "
          f"rrf_k {settings.rrf_k}; weights dense {settings.dense_weight} / lexical "
          f"{settings.lexical_weight} / uncovered dense {settings.uncovered_dense_weight}")
    answerable = sum(1 for q in queries if q["expected"])
    print(f"queries: {answerable} answerable, {len(queries) - answerable} unanswerable\n")
    results = {mode: evaluate(searcher, queries, mode) for mode in Mode}
    langs = sorted(results[Mode.HYBRID], key=lambda lang: (lang == "all", lang))
    print(f"{'lang':<6}{'n':>4}" + "".join(f"{m.value + ' MRR/R1/R5':>24}" for m in
                                          (Mode.LEXICAL, Mode.DENSE, Mode.HYBRID)))
    for lang in langs:
        cells = "".join(
            f"{results[m][lang]['mrr']:>10.3f}{results[m][lang]['r1']:>7.2f}"
            f"{results[m][lang]['r5']:>7.2f}" for m in (Mode.LEXICAL, Mode.DENSE, Mode.HYBRID))
        print(f"{lang:<6}{results[Mode.HYBRID][lang]['n']:>4}{cells}")
    rows = no_good_match_table(searcher, queries)
    print(f"\nno-good-match (min_similarity {settings.min_similarity}, min_coverage "
          f"{settings.min_coverage}): "
          f"{fmt(ngm_scores(rows, settings.min_similarity, settings.min_coverage))}")
    if args.calibrate:
        calibrate(rows)
    if args.ablate_stemming:
        ablate_stemming(searcher, queries)


if __name__ == "__main__":
    main()
