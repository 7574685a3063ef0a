from __future__ import annotations

import pytest

from app.fuse import Ranking, best_possible, reciprocal_rank_fusion


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([Ranking([1, 2, 3], 1.0), Ranking([3, 1], 2.0)], k=10)
    assert fused[1] == pytest.approx(1 / 11 + 2 / 12)
    assert fused[2] == pytest.approx(1 / 12)
    assert fused[3] == pytest.approx(1 / 13 + 2 / 11)


def test_agreement_beats_a_single_first_place() -> None:
    fused = reciprocal_rank_fusion([Ranking([7, 8], 1.0), Ranking([9, 8], 1.0)], k=10)
    assert max(fused, key=fused.__getitem__) == 8


def test_zero_weight_rankings_are_ignored() -> None:
    assert reciprocal_rank_fusion([Ranking([1], 0.0), Ranking([2], 1.0)], k=5) == {2: 1 / 6}


def test_best_possible_scales_a_first_place_everywhere_to_one() -> None:
    rankings = [Ranking([4, 5], 1.5), Ranking([4], 1.0)]
    assert reciprocal_rank_fusion(rankings, k=10)[4] / best_possible(rankings, k=10) == 1.0
