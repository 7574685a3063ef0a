"""The Searcher on the real model and a real snapshot of the tiny KB."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from app.search import Filters, Mode, SearchConfig, Searcher
from indexer import snapshot
from indexer.analyze import Analyzer
from indexer.dense import DenseIndex
from indexer.embed import Encoder
from indexer.errors import ModelMismatch
from indexer.lexical import LexicalIndex
from indexer.parse import parse_article
from indexer.records import Audience, Chunk

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("how do I get my money back", "refunds"),
        ("thermostat wifi error E21", "wifi"),
        ("zwrot pieniedzy", "refunds-pl"),
        ("как вернуть деньги", "refunds-ru"),
        ("رمز عبورم را فراموش کردم", "password-fa"),
        ("رمز عبورم را فراموش كردم", "password-fa"),  # Arabic kaf, as some keyboards type it
    ],
)
def test_the_right_article_comes_first_in_every_language(searcher: Searcher, query: str,
                                                          expected: str) -> None:
    assert searcher.search(query, today=TODAY).hits[0].article.id == expected


def test_one_result_per_article_with_its_best_section(searcher: Searcher) -> None:
    hits = searcher.search("refund steps orders", k=10, today=TODAY).hits
    ids = [h.article.id for h in hits]
    assert len(ids) == len(set(ids))
    assert hits[0].chunk.anchor in {"steps", "how-to-request-a-refund"}


def test_filters_apply_before_the_cut(searcher: Searcher) -> None:
    # An English query ranks the Russian article low; with k=1 a top-k-then-filter
    # search would return nothing.
    hits = searcher.search("refund money", k=1, filters=Filters(lang=("ru",)), today=TODAY).hits
    assert [h.article.id for h in hits] == ["refunds-ru"]


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        (Filters(product=("thermostat",)), {"wifi"}),
        (Filters(tags=("billing", "account")), {"escalation", "password-fa"}),
        (Filters(audience=(Audience.INTERNAL,)), {"escalation"}),
        (Filters(lang=("en",), audience=(Audience.PUBLIC,)), {"refunds", "wifi", "unsafe"}),
        (Filters(product=("no-such-product",)), set()),
    ],
)
def test_every_filter_limits_the_results(searcher: Searcher, filters: Filters,
                                         allowed: set[str]) -> None:
    hits = searcher.search("refund wifi password chargeback", k=10, filters=filters, today=TODAY).hits
    assert {h.article.id for h in hits} == allowed


def test_stale_comes_from_verified_and_the_review_interval(searcher: Searcher) -> None:
    hits = {h.article.id: h for h in searcher.search("refund wifi", k=10, today=TODAY).hits}
    assert hits["wifi"].stale  # verified 2020-01-01, review every 90 days
    assert not hits["refunds"].stale  # verified 2026-10-01, review every 365 days


def test_highlights_point_at_query_words_in_the_snippet(searcher: Searcher) -> None:
    hit = searcher.search("pick a reason for the refund", today=TODAY).hits[0]
    marked = {hit.snippet[s:e].lower() for s, e in hit.highlights}
    assert "reason" in marked
    assert marked <= {"pick", "a", "reason", "for", "the", "refund", "refunds"}


def test_a_typo_still_finds_and_highlights_the_word(searcher: Searcher) -> None:
    hit = searcher.search("thermostat wifi eror", mode=Mode.LEXICAL, today=TODAY).hits[0]
    assert hit.article.id == "wifi"


def test_nonsense_is_no_good_match_but_keeps_candidates(searcher: Searcher) -> None:
    outcome = searcher.search("xqzv blorp frobnicate", today=TODAY)
    assert outcome.no_good_match
    assert outcome.hits


def test_a_clear_question_is_a_good_match(searcher: Searcher) -> None:
    assert not searcher.search("how do I request a refund", today=TODAY).no_good_match


def test_scores_are_between_zero_and_one_and_descend(searcher: Searcher) -> None:
    scores = [h.score for h in searcher.search("refund", k=10, today=TODAY).hits]
    assert scores == sorted(scores, reverse=True)
    assert 0 < scores[-1] <= scores[0] <= 1


def test_query_language_is_guessed_from_the_index(searcher: Searcher) -> None:
    assert searcher.search("zwrot pieniędzy", today=TODAY).query_lang == "pl"
    assert searcher.search("вернуть деньги", today=TODAY).query_lang == "ru"
    assert searcher.search("refund", today=TODAY).query_lang == "en"


def test_a_query_in_no_indexed_language_skips_the_english_model(searcher: Searcher) -> None:
    # Greek: no indexed word, no letter in the script of en/pl/ru/fa. Its embedding by an
    # English-only model would be noise, so only BM25 runs.
    outcome = searcher.search("επιστροφή χρημάτων", today=TODAY)
    assert outcome.query_lang == "und"
    assert outcome.evidence is None or outcome.evidence.similarity is None
    # An indexed English word in front changes nothing: most letters are still Greek.
    outcome = searcher.search("refund: επιστροφή χρημάτων", today=TODAY)
    assert outcome.query_lang == "und"
    assert outcome.evidence is not None and outcome.evidence.similarity is None
    assert outcome.hits[0].article.id == "refunds"  # BM25 still finds the indexed word
    assert searcher.search("2024", today=TODAY).query_lang == "en"  # no letters: the default


def test_translations_group_an_original_with_its_versions(searcher: Searcher) -> None:
    assert searcher.translations("refunds") == {"pl": "refunds-pl", "ru": "refunds-ru"}
    assert searcher.translations("refunds-pl") == {"en": "refunds", "ru": "refunds-ru"}
    assert searcher.translations("wifi") == {}


def test_a_snapshot_from_another_model_is_refused(searcher: Searcher) -> None:
    manifest = {**searcher.snapshot.manifest, "model": {"id": "intfloat/multilingual-e5-small"}}
    other = dataclasses.replace(searcher.snapshot, manifest=manifest)
    with pytest.raises(ModelMismatch, match="built with model 'intfloat/multilingual-e5-small'"):
        Searcher(other, searcher.encoder, searcher.config)


def test_an_articles_chunks_are_found_wherever_the_store_holds_them(tmp_path: Path,
                                                                   encoder: Encoder) -> None:
    articles = [parse_article(f"# {title}\n\ntext\n", default_id=title.lower(), default_lang="en",
                              path=f"{title}.md") for title in ("Alpha", "Beta")]
    chunks = [Chunk("alpha#a:0", "alpha", "a", ("Alpha",), "reset the router", 0),
              Chunk("beta#b:0", "beta", "b", ("Beta",), "refund policy", 0),
              Chunk("alpha#c:0", "alpha", "c", ("Alpha", "Lights"), "blinking lights", 1)]
    version = snapshot.new_version()
    staged = snapshot.staging_dir(tmp_path, version)
    DenseIndex.build(np.eye(3, encoder.dimension, dtype=np.float32)).save(staged)
    LexicalIndex.from_texts([c.embed_text for c in chunks], ["en"] * 3, Analyzer()).save(staged)
    snapshot.write_records(staged, articles, chunks)
    snapshot.write_manifest(staged, {"model": {"id": encoder.model_id,
                                               "passage_prompt": encoder.spec.passage_prompt}})
    snapshot.publish(tmp_path, staged, keep=1)
    searcher = Searcher(snapshot.load_snapshot(tmp_path), encoder, SearchConfig())
    assert searcher.chunks_of("alpha") == [chunks[0], chunks[2]]
    assert searcher.chunks_of("beta") == [chunks[1]]
    assert (searcher.chunk_count("alpha"), searcher.chunk_count("beta")) == (2, 1)
    hit, = searcher.search("blinking lights", k=1, mode=Mode.LEXICAL).hits
    assert (hit.article.id, hit.chunk) == ("alpha", chunks[2])


def test_language_weights_decide_whether_dense_is_fused(searcher: Searcher) -> None:
    query = "money back after delivery"
    lexical = [h.article.id for h in searcher.search(query, k=6, mode=Mode.LEXICAL).hits]
    no_dense = Searcher(searcher.snapshot, searcher.encoder,
                        dataclasses.replace(searcher.config, language_dense_weights={"en": 0.0}))
    hybrid = [h.article.id for h in searcher.search(query, k=6).hits]
    assert [h.article.id for h in no_dense.search(query, k=6).hits] == lexical
    assert hybrid != lexical  # dense retrieval adds articles that share no word with the query


def test_function_words_are_not_highlighted(searcher: Searcher) -> None:
    hits = searcher.search("how do I get a refund within 30 days", k=3, today=TODAY).hits
    marked = {h.snippet[s:e].lower() for h in hits for s, e in h.highlights}
    assert marked & {"30", "days", "refund", "refunds"}
    assert not marked & {"how", "do", "i", "get", "a", "within"} - {"within"}
