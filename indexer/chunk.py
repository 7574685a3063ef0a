"""Cut article sections into chunks that fit the embedding model's token budget."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from indexer.records import HEADING_SEPARATOR, Article, Chunk, Section

# A sentence ends at . ! ? … (Latin, Cyrillic), ؟ (Arabic script) or 。！？ (CJK),
# optionally followed by closing quotes or brackets, then whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?…؟。！？])[\"'»”)\]]*\s+")


@dataclass(frozen=True, slots=True)
class TokenBudget:
    """How big a chunk may be, in the embedding model's tokens."""

    max_tokens: int
    """Upper bound for heading path plus text."""
    overlap_tokens: int
    """Tokens of trailing text repeated at the start of the next chunk of a section."""
    count: Callable[[str], int]
    """Counts tokens in text, as the model's tokenizer does."""

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens={self.max_tokens} is too small; use at least 16")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ValueError(
                f"overlap_tokens={self.overlap_tokens} must be ≥ 0 and below half of "
                f"max_tokens={self.max_tokens}"
            )


def chunk_article(article: Article, budget: TokenBudget) -> list[Chunk]:
    """Chunks of every non-empty section, in document order."""
    chunks: list[Chunk] = []
    for section in article.sections:
        for piece in split_section(section, budget):
            chunk_id = f"{article.id}#{section.anchor}:{len(chunks)}"
            chunks.append(
                Chunk(chunk_id, article.id, section.anchor, section.heading_path, piece, len(chunks))
            )
    return chunks


def split_section(section: Section, budget: TokenBudget) -> list[str]:
    """The section text as pieces that fit the budget, with overlap between pieces."""
    if not section.text.strip():
        return []
    heading_cost = budget.count(HEADING_SEPARATOR.join(section.heading_path)) + 1
    available = max(budget.max_tokens - heading_cost, budget.max_tokens // 2)
    units = list(_units(section.text, available, budget.count))
    return list(_pack(units, available, budget.overlap_tokens))


def _pack(units: list[tuple[str, int]], available: int, overlap: int) -> Iterator[str]:
    current: list[tuple[str, int]] = []
    used = 0
    for unit, cost in units:
        if current and used + cost > available:
            yield _join(current)
            current = _tail(current, overlap)
            used = sum(c for _, c in current)
            while current and used + cost > available:
                used -= current.pop(0)[1]
        current.append((unit, cost))
        used += cost
    if current:
        yield _join(current)


def _tail(units: list[tuple[str, int]], overlap: int) -> list[tuple[str, int]]:
    kept: list[tuple[str, int]] = []
    total = 0
    for unit, cost in reversed(units):
        if total + cost > overlap:
            break
        kept.insert(0, (unit, cost))
        total += cost
    return kept


def _join(units: list[tuple[str, int]]) -> str:
    text = ""
    for unit, _ in units:
        if not text:
            text = unit
        elif unit.startswith("\n"):
            text += unit
        else:
            text += " " + unit
    return text.strip()


def _units(text: str, available: int,
           count: Callable[[str], int]) -> Iterator[tuple[str, int]]:
    """Sentences (a line break kept in front of a new line), long ones cut at words; each
    with its token count (a count is most of chunking's time, so each text is counted once).
    """
    for line_number, line in enumerate(text.split("\n")):
        for sentence_number, sentence in enumerate(_SENTENCE_END.split(line.strip())):
            if not sentence:
                continue
            prefix = "\n" if line_number and not sentence_number else ""
            unit = prefix + sentence
            cost = count(unit)
            if cost <= available:
                yield unit, cost
                continue
            for index, words in enumerate(_word_windows(sentence, available, count)):
                unit = (prefix if index == 0 else "") + words
                yield unit, count(unit)


def _word_windows(sentence: str, available: int, count: Callable[[str], int]) -> Iterator[str]:
    window: list[str] = []
    used = 0
    for word in sentence.split():
        cost = count(word)
        if window and used + cost > available:
            yield " ".join(window)
            window, used = [], 0
        if cost > available:
            # One "word" over budget (a URL, a hash): cut it by characters.
            step = max(1, len(word) * available // cost)
            for start in range(0, len(word), step):
                yield word[start:start + step]
            continue
        window.append(word)
        used += cost
    if window:
        yield " ".join(window)
