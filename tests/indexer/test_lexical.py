from __future__ import annotations

import numpy as np
import pytest

from indexer.analyze import Analyzer
from indexer.lexical import LexicalIndex

analyzer = Analyzer()


@pytest.fixture
def index() -> LexicalIndex:
    texts = ["refund within thirty days", "password reset link", "zwrot pieniędzy", "возврат денег"]
    return LexicalIndex.from_texts(texts, ["en", "en", "pl", "ru"], analyzer)


def test_scores_rank_the_matching_document_first(index: LexicalIndex) -> None:
    scores = index.scores(analyzer.terms("reset my password", "en"), None)
    assert int(scores.argmax()) == 1


def test_scores_respect_the_mask(index: LexicalIndex) -> None:
    mask = np.array([True, False, True, True])
    scores = index.scores(analyzer.terms("password", "en"), mask)
    assert scores[1] == 0


def test_vocabulary_is_kept_per_language(index: LexicalIndex) -> None:
    assert "zwrot" in index.vocab_by_lang["pl"]
    assert "zwrot" not in index.vocab_by_lang["en"]


def test_typos_are_corrected_to_indexed_terms(index: LexicalIndex) -> None:
    assert "password" in index.corrections("pasword")
    assert "refund" in index.corrections("refnud")  # transposition
    assert "refund" in index.corrections("rfund")  # deletion
    assert index.corrections("efund") == []  # a missing or wrong first letter is not corrected
    assert index.corrections("pswd") == []  # too short to correct safely


def test_idf_and_postings(index: LexicalIndex) -> None:
    assert index.idf("password") > 0
    assert index.idf("unknown") == 0
    assert index.postings("password").tolist() == [1]


def test_scores_follow_lucene_bm25(index: LexicalIndex) -> None:
    # One occurrence in a 4-term document; lengths 4, 3, 2, 2 (average 2.75); N=4, df=1.
    idf = np.log(1 + (4 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 1 / (1 + 1.5 * (1 - 0.75 + 0.75 * 4 / 2.75))
    assert index.scores(["refund"], None)[0] == pytest.approx(expected, rel=1e-6)


def test_save_and_load_round_trip(index: LexicalIndex, tmp_path) -> None:
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    terms = analyzer.terms("password refund zwrot", "en")
    assert loaded.scores(terms, None).tolist() == index.scores(terms, None).tolist()
    assert loaded.vocab_by_lang == index.vocab_by_lang
