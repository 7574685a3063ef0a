"""Chunking cases live in fixtures/chunk/*.md: front matter holds the budget and the
expected chunks, the body is the article. Tokens are counted as whitespace words here
so the cases are readable; the real build counts with the model's tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from indexer.chunk import TokenBudget, chunk_article
from indexer.parse import parse_article

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "chunk").glob("*.md"))


def count_words(text: str) -> int:
    return len(text.split())


def load_case(path: Path) -> tuple[dict, str]:
    _, header, body = path.read_text("utf-8").split("---\n", 2)
    return yaml.safe_load(header), body


def test_fixture_files_exist() -> None:
    assert len(FIXTURES) >= 5


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_chunking_cases(path: Path) -> None:
    case, body = load_case(path)
    article = parse_article(body, default_id=path.stem, default_lang="en", path=path.name)
    budget = TokenBudget(case["max_tokens"], case["overlap_tokens"], count_words)
    chunks = chunk_article(article, budget)
    got = [{"path": list(c.heading_path), "text": c.text} for c in chunks]
    assert got == case["expected"], case["case"]


def test_chunks_fit_the_budget_including_the_heading_path() -> None:
    text = "# Title words here\n\n## Section\n\n" + " ".join(
        f"Sentence number {i} has six words." for i in range(40))
    article = parse_article(text, default_id="a", default_lang="en", path="a.md")
    for chunk in chunk_article(article, TokenBudget(30, 6, count_words)):
        assert count_words(chunk.embed_text) <= 30


def test_chunk_ids_are_unique_and_ordered() -> None:
    text = "# A\n\nx.\n\n## B\n\ny.\n\n## B\n\nz.\n"
    chunks = chunk_article(parse_article(text, default_id="art", default_lang="en", path="a.md"),
                           TokenBudget(20, 0, count_words))
    assert [c.id for c in chunks] == ["art#a:0", "art#b:1", "art#b-1:2"]
    assert [c.position for c in chunks] == [0, 1, 2]


def test_budget_rejects_overlap_of_half_or_more() -> None:
    with pytest.raises(ValueError, match="below half"):
        TokenBudget(40, 20, count_words)
