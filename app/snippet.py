"""Snippets: a window of a chunk around the matched query words, with highlight offsets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.lexical import Word

_SPACE = re.compile(r"\s+")
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Snippet:
    text: str
    highlights: tuple[tuple[int, int], ...]


def collapse_space(text: str) -> str:
    """Runs of whitespace (line breaks included) become one space."""
    return _SPACE.sub(" ", text).strip()


def make_snippet(text: str, words: Sequence[Word], matched: frozenset[str], size: int) -> Snippet:
    """The ``size``-character window of ``text`` holding the most matched words.

    ``words`` are the words of ``text`` (offsets into it); a word is matched when one
    of its terms is in ``matched``. The window starts and ends at word boundaries;
    an ellipsis marks a cut. Highlight offsets point into the returned text.
    """
    hits = [(w.start, w.end) for w in words if matched.intersection(w.terms)]
    start = _best_start(hits, words, size)
    end = _window_end(text, words, start, size)
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    body = text[start:end]
    shift = len(prefix) - start
    highlights = tuple((s + shift, e + shift) for s, e in hits if s >= start and e <= end)
    return Snippet(prefix + body + suffix, highlights)


def _best_start(hits: list[tuple[int, int]], words: Sequence[Word], size: int) -> int:
    if not hits:
        return 0
    best_count, best_first = 0, hits[0][0]
    for first, _ in hits:
        count = sum(1 for s, e in hits if s >= first and e <= first + size)
        if count > best_count:
            best_count, best_first = count, first
    # Give the first match some words of context before it.
    context = size // 5
    earlier = [w.start for w in words if best_first - context <= w.start <= best_first]
    return earlier[0] if earlier else best_first


def _window_end(text: str, words: Sequence[Word], start: int, size: int) -> int:
    limit = start + size
    if limit >= len(text):
        return len(text)
    ends = [w.end for w in words if start < w.end <= limit]
    return ends[-1] if ends else min(limit, len(text))
