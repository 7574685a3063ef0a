"""Reciprocal-rank fusion of several rankings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ranking:
    """Ids in rank order (best first) and the weight of this ranking in the fusion."""

    ids: Sequence[int]
    weight: float


def reciprocal_rank_fusion(rankings: Iterable[Ranking], k: float) -> dict[int, float]:
    """Fused score per id: the sum over rankings of ``weight / (k + rank)``, rank from 1."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        if ranking.weight <= 0:
            continue
        for rank, item in enumerate(ranking.ids, start=1):
            fused[item] = fused.get(item, 0.0) + ranking.weight / (k + rank)
    return fused


def best_possible(rankings: Iterable[Ranking], k: float) -> float:
    """The fused score of an id ranked first everywhere; scales scores to 0–1."""
    return sum(r.weight / (k + 1) for r in rankings if r.weight > 0 and len(r.ids))
