from __future__ import annotations

import pytest

from app.snippet import (
    ELLIPSIS,
    collapse_space,
    make_snippet,
    matched_positions,
    snippet_around,
    term_positions,
)
from indexer.analyze import Analyzer

analyzer = Analyzer()


def snippet_for(text: str, query: str, lang: str, size: int = 80):
    words = analyzer.words(text, (lang,))
    matched = frozenset(t for w in analyzer.words(query, (lang,)) for t in w.terms)
    return make_snippet(text, words, matched, size)


def highlighted(snippet) -> list[str]:
    return [snippet.text[start:end] for start, end in snippet.highlights]


def test_highlights_mark_the_matched_words() -> None:
    result = snippet_for("Refunds are issued within 10 days of the return.", "refund return", "en")
    assert highlighted(result) == ["Refunds", "return"]


def test_window_moves_to_the_matches_and_marks_cuts() -> None:
    text = " ".join(["filler"] * 40) + " the refund arrives in five days " + " ".join(["tail"] * 40)
    result = snippet_for(text, "refund", "en", size=60)
    assert result.text.startswith(ELLIPSIS) and result.text.endswith(ELLIPSIS)
    assert highlighted(result) == ["refund"]
    assert len(result.text) <= 62


def test_offsets_are_code_points_in_cyrillic_and_persian() -> None:
    ru = snippet_for("Вернуть деньги можно в течение 30 дней.", "деньги", "ru")
    fa = snippet_for("پیوند بازنشانی به ایمیل شما می‌آید.", "ایمیل", "fa")
    assert highlighted(ru) == ["деньги"]
    assert highlighted(fa) == ["ایمیل"]


def test_offsets_survive_characters_outside_the_bmp() -> None:
    result = snippet_for("📦 Parcel 📦 delivered to the locker", "locker", "en")
    assert highlighted(result) == ["locker"]


def test_no_match_starts_at_the_beginning() -> None:
    result = snippet_for("Plain text without the word.", "zebra", "en")
    assert result.text == "Plain text without the word." and result.highlights == ()


def test_collapse_space_flattens_line_breaks() -> None:
    assert collapse_space(" a\n\n b\t c ") == "a b c"


@pytest.mark.parametrize(("text", "query", "lang"), [
    ("Refunds: a refund is paid back to the card. Ask billing about refunds over 100 EUR. " * 4,
     "refund card billing", "en"),
    ("Zwrot pieniędzy trwa do 5 dni. Zwroty na kartę zlecamy w panelu.", "zwrot karta", "pl"),
    ("برای بازنشانی رمز عبور روی «فراموشی رمز» بزنید.", "رمز عبور", "fa"),
    ("Nothing here matches.", "refund", "en"),
])
def test_the_searchers_indexed_matching_gives_the_same_snippet(text: str, query: str,
                                                                lang: str) -> None:
    words = analyzer.words(text, (lang,))
    matched = frozenset(t for w in analyzer.words(query, (lang,)) for t in w.terms)

    indexed = snippet_around(text, words, matched_positions(term_positions(words), matched), 60)

    assert indexed == make_snippet(text, words, matched, 60)
