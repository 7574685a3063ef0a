"""Top-k over BM25's posting lists (`indexer.postings`): the threshold rounds and MaxScore,
through `LexicalIndex.top` and MaxScore on its own, against ranking every chunk by its
score."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.lexical import LexicalIndex


@pytest.fixture(scope="module")
def zipf_index() -> LexicalIndex:
    """20k chunks of 10–60 Zipf-distributed terms: long lists of common terms, like real text."""
    rng = np.random.default_rng(7)
    lengths = rng.integers(10, 61, 20_000)
    ids = np.minimum(rng.zipf(1.3, int(lengths.sum())) - 1, 4999).astype(np.int32)
    documents = np.split(ids, np.cumsum(lengths)[:-1])
    return LexicalIndex.from_term_ids(documents, [f"t{i}" for i in range(5000)], ["en"] * 20_000)


def _ranked_by_every_score(index: LexicalIndex, terms: list[str], n: int,
                           mask: np.ndarray | None) -> np.ndarray:
    scores = index.scores(terms, mask)
    matching = np.flatnonzero(scores > 0)
    return matching[np.lexsort((matching, -scores[matching]))][:n]


def test_top_equals_ranking_every_chunk(zipf_index: LexicalIndex) -> None:
    rng = np.random.default_rng(3)
    for case in range(60):
        terms = [f"t{int(t)}" for t in np.minimum(rng.zipf(1.3, rng.integers(1, 6)) - 1, 4999)]
        mask = rng.random(zipf_index.size) < 0.2 if case % 3 == 0 else None
        n = (1, 10, 100)[case % 3]
        got = zipf_index.top(terms, n, mask)
        want = _ranked_by_every_score(zipf_index, terms, n, mask)
        scores = zipf_index.scores(terms, mask)
        assert len(got) == len(want), terms
        assert np.allclose(scores[got], scores[want], rtol=1e-6), terms
        assert mask is None or mask[got].all()


def test_top_reads_only_the_heads_of_long_lists(zipf_index: LexicalIndex, monkeypatch) -> None:
    # A rare and a common term: the threshold algorithm settles the top 100 from the
    # first postings of each list, without scoring every chunk.
    def every_chunk(*_: object) -> None:
        raise AssertionError("scored every chunk")

    want = _ranked_by_every_score(zipf_index, ["t40", "t2"], 100, None)
    monkeypatch.setattr(zipf_index.postings, "totals", every_chunk)
    assert zipf_index.top(["t40", "t2"], 100).tolist() == want.tolist()


def test_max_score_from_any_floor_under_the_nth_best_equals_ranking_every_chunk(
        zipf_index: LexicalIndex, monkeypatch) -> None:
    # MaxScore given a floor under the n-th best score scores only the lists that can
    # reach it and looks the others up; with any such floor the top n is unchanged.
    splits = _record_splits(zipf_index, monkeypatch)
    rng = np.random.default_rng(5)
    for case in range(60):
        terms = [f"t{int(t)}" for t in rng.integers(0, 60, rng.integers(2, 6))]
        mask = rng.random(zipf_index.size) < 0.3 if case % 3 == 0 else None
        n = (1, 10, 100)[case % 3]
        want = _ranked_by_every_score(zipf_index, terms, n, mask)
        scores = zipf_index.scores(terms, mask)
        nth = float(scores[want[-1]])
        columns = zipf_index._columns(terms)
        for floor in (nth, nth * rng.uniform(0.5, 1)):
            got = zipf_index.postings._max_score(columns, n, mask, floor)
            assert np.allclose(scores[got], scores[want], rtol=1e-6), (terms, floor)
            assert mask is None or mask[got].all()
    essential = [len(found) for found, _ in splits]
    assert essential.count(1) > 20 and max(essential) > 1  # both ways of scoring them
    assert sum(len(bounded) for _, bounded in splits) > 100  # lists looked up, not read whole


def test_top_of_flat_common_terms_finishes_with_max_score(monkeypatch) -> None:
    # Six terms in every chunk, at the same count: the weights differ only by length, so
    # no round of the threshold algorithm settles the top 10. The floor a round found
    # leaves the rare term's list as the only one scored in full.
    rng = np.random.default_rng(11)
    documents = [np.array([0, 1, 2, 3, 4, 5] + [6] * int(rng.integers(0, 3)) +
                          [int(t) for t in rng.integers(7, 400, 30)], dtype=np.int32)
                 for _ in range(20_000)]
    index = LexicalIndex.from_term_ids(documents, [f"t{i}" for i in range(400)], ["en"] * 20_000)
    splits = _record_splits(index, monkeypatch)
    terms = ["t0", "t1", "t2", "t3", "t4", "t5", "t6"]
    got = index.top(terms, 10)
    want = _ranked_by_every_score(index, terms, 10, None)
    scores = index.scores(terms, None)
    assert np.allclose(scores[got], scores[want], rtol=1e-6)
    assert splits[-1][0] == index._columns(["t6"])


def _record_splits(index: LexicalIndex, monkeypatch) -> list[tuple[list[int], list]]:
    """What each MaxScore call scores in full (the essential lists) and looks up."""
    splits: list[tuple[list[int], list]] = []
    split = index.postings._split

    def recorded(columns: list[int], floor: float) -> tuple[list[int], list]:
        splits.append(split(columns, floor))
        return splits[-1]

    monkeypatch.setattr(index.postings, "_split", recorded)
    return splits


def test_top_of_unknown_or_masked_out_terms_is_empty(zipf_index: LexicalIndex) -> None:
    assert zipf_index.top(["nowhere"], 10).tolist() == []
    assert zipf_index.top(["t1"], 10, np.zeros(zipf_index.size, dtype=bool)).tolist() == []


def test_impact_order_survives_save_and_load(zipf_index: LexicalIndex, tmp_path) -> None:
    zipf_index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    for terms in (["t3", "t17"], ["t0"], ["t250", "t1", "t9"]):
        assert loaded.top(terms, 50).tolist() == zipf_index.top(terms, 50).tolist()
