"""Snippets: a window of a chunk around the matched query words, with highlight offsets."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from indexer.analyze import Word

_SPACE = re.compile(r"\s+")
ELLIPSIS = "…"

# Function words are never highlighted (retrieval still uses them: BM25's IDF already
# gives them little weight). One short list per language of the sample KB; any other
# language simply highlights every matched word.
NOT_HIGHLIGHTED = frozenset("""
a an and are as at be but by can could did do does for from get got had has have how i if in
into is it its me my no not of on or our so than that the their them then there this to
too up us was we were what when where which who why will with would you your
a aby albo ale bo być był czy dla do gdy gdzie i ich jak jaki jest jeśli już ma mam mi mnie
mogę może na nad nie o od po pod przez się są ta tak te to tu w we z za że
а без бы был была было в во вы где да для до если есть же за и из или их к как ко когда
ли мне мой можно на над не нет но о об от по под при с со так то у уже что чтобы это я
از اگر این با برای به تا چه چطور چگونه را که کی می هم و یا یک آیا است هست من ما شما
""".split())


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
    return snippet_around(text, words, [i for i, w in enumerate(words)
                                        if not matched.isdisjoint(w.terms)], size)


def term_positions(words: Sequence[Word]) -> dict[str, list[int]]:
    """Term → positions in ``words`` of the words carrying it, ascending."""
    positions: dict[str, list[int]] = {}
    for index, word in enumerate(words):
        for term in word.terms:
            positions.setdefault(term, []).append(index)
    return positions


def matched_positions(positions: Mapping[str, Sequence[int]], matched: Iterable[str]) -> list[int]:
    """Ascending positions of the words carrying any of ``matched`` (see :func:`term_positions`)."""
    return sorted({index for term in matched for index in positions.get(term, ())})


def snippet_around(text: str, words: Sequence[Word], matched: Sequence[int], size: int) -> Snippet:
    """:func:`make_snippet` for the words at the ascending positions ``matched``."""
    hits = [(words[i].start, words[i].end) for i in matched]
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
    # Words never overlap and come in order, so one pass with a second index finds the
    # window holding the most matches.
    best_count, best_first, inside = 0, hits[0][0], 0
    for index, (first, _) in enumerate(hits):
        while inside < len(hits) and hits[inside][1] <= first + size:
            inside += 1
        if inside - index > best_count:
            best_count, best_first = inside - index, first
    # Give the first match some words of context before it.
    earliest = bisect.bisect_left(words, best_first - size // 5, key=lambda w: w.start)
    return words[earliest].start


def _window_end(text: str, words: Sequence[Word], start: int, size: int) -> int:
    limit = start + size
    if limit >= len(text):
        return len(text)
    last = bisect.bisect_right(words, limit, key=lambda w: w.end) - 1
    return words[last].end if last >= 0 and words[last].end > start else min(limit, len(text))
