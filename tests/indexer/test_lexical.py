from __future__ import annotations

import random
import zlib
from pathlib import Path

import numpy as np
import pytest

from indexer import typos
from indexer.analyze import Analyzer
from indexer.errors import SnapshotError
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


def test_typo_corrections_are_the_terms_sharing_a_deletion() -> None:
    rng = random.Random(3)
    vocab = sorted({"".join(rng.choice("abcdeąćęł") for _ in range(rng.randint(2, 9)))
                    for _ in range(3000)} | {"2026010"})
    index = LexicalIndex.build([vocab], ["pl"])

    def variants(term: str) -> set[str]:
        return {term} | {term[:i] + term[i + 1:] for i in range(len(term))}

    corrected = 0
    for base in rng.sample(vocab, 300):
        position = rng.randrange(len(base) + 1)
        typo = base[:position] + rng.choice("abcąx") + base[position + 1:]  # edit or insert
        expected = {t for t in vocab if len(typo) >= 5 and len(t) >= 4 and not t.isdigit()
                    and t[0] == typo[0] and t != typo and variants(t) & variants(typo)}
        assert set(index.corrections(typo)) == expected, typo
        corrected += bool(expected)
    assert corrected > 100  # most typos have a correction: the comparison is not vacuous
    assert index.corrections("2026011") == []  # numbers are not corrected


def test_a_hash_shared_by_terms_two_edits_apart_is_no_correction() -> None:
    assert zlib.crc32(b"piegqapr") == zlib.crc32(b"pzlvgj")  # the table's keys are CRC-32
    index = LexicalIndex.build([["pzlvgj"], ["pzlvgja"]], ["en", "en"])
    assert index.corrections("piegqapr") == []
    assert set(index.corrections("pzlvgjb")) == {"pzlvgj", "pzlvgja"}


def test_the_typo_table_is_saved_and_one_saved_without_it_is_built(index: LexicalIndex,
                                                                     tmp_path: Path) -> None:
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.corrections_ready  # read from the files: nothing to build at load
    for name in typos.FILES:
        (tmp_path / "bm25" / name).unlink()
    older = LexicalIndex.load(tmp_path)
    assert not older.corrections_ready
    for typo in ("pasword", "refnud", "rfund", "efund", "pswd", "pieniedzy", "vozvrat"):
        assert loaded.corrections(typo) == older.corrections(typo) == index.corrections(typo)
    assert older.corrections_ready


def test_a_typo_table_naming_unknown_terms_is_refused_at_load(index: LexicalIndex,
                                                               tmp_path: Path) -> None:
    index.save(tmp_path)
    columns = tmp_path / "bm25" / typos.FILES[1]
    np.save(columns, np.load(columns) + 1000)
    with pytest.raises(SnapshotError, match="typo table names terms"):
        LexicalIndex.load(tmp_path)


def test_idf_and_containment(index: LexicalIndex) -> None:
    assert index.idf("password") > 0
    assert index.idf("unknown") == 0
    assert index.contains("password", np.array([0, 1]))  # a run of positions
    assert index.contains("password", np.array([1, 3]))
    assert not index.contains("password", np.array([2, 3]))
    assert not index.contains("password", np.array([0, 2, 3]))
    assert not index.contains("unknown", np.array([0, 1]))
    assert not index.contains("password", np.array([], dtype=np.int64))


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
