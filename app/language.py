"""Guess the language of a query from the indexed vocabulary and the script it is written in."""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

from indexer.analyze import Analyzer, method_cache


@functools.lru_cache(maxsize=4096)
def script_of(char: str) -> str | None:
    """Unicode script family of a letter ("LATIN", "CYRILLIC", "ARABIC"…), None otherwise."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else None


def dominant_script(terms: Iterable[str], sample: int = 5000) -> str | None:
    """The script most terms of a vocabulary start with."""
    counts: Counter[str] = Counter()
    for index, term in enumerate(terms):
        if index >= sample:
            break
        script = script_of(term[0]) if term else None
        if script:
            counts[script] += 1
    return counts.most_common(1)[0][0] if counts else None


UNDETERMINED = "und"
"""BCP-47 for "undetermined"."""


class LanguageGuesser:
    """Picks the indexed language a query is most likely written in.

    Each language scores one point per query word found in its vocabulary (after
    that language's analysis) plus half a point for the share of the query's
    letters written in the language's script; ties go to the default language.
    A query written mostly in letters of no indexed language's script is ``und``
    (undetermined): no language, so no model claims it. That holds even when a few of
    its words are indexed — an English "urgent:" or a product name before a Russian
    sentence, on a KB with English articles only — because a model for the indexed
    language would embed the rest as noise (and, split into many word pieces, slowly).
    Works for any language in the KB, with nothing to download.
    """

    def __init__(self, vocab_by_lang: Mapping[str, frozenset[str]], analyzer: Analyzer,
                 default: str) -> None:
        self._vocab = vocab_by_lang
        self._analyzer = analyzer
        self._default = default
        self._scripts = {lang: dominant_script(terms) for lang, terms in vocab_by_lang.items()}
        self._indexed_scripts = frozenset(s for s in self._scripts.values() if s)
        # Queries reuse words: each word's languages are looked up once, not per language.
        self._languages_of = method_cache(self._word_languages, 65_536)

    def _word_languages(self, word: str) -> tuple[str, ...]:
        """The languages whose vocabulary holds the word (after that language's analysis)."""
        return tuple(lang for lang, vocab in self._vocab.items()
                     if not vocab.isdisjoint(self._analyzer.word_terms(word, (lang,))))

    def guess(self, query: str) -> str:
        if not self._vocab:
            return self._default
        letters = Counter(s for s in map(script_of, query) if s)
        foreign = sum(n for script, n in letters.items() if script not in self._indexed_scripts)
        if 2 * foreign > letters.total():
            return UNDETERMINED
        found: Counter[str] = Counter()
        for word in self._analyzer.written_words(query):
            found.update(self._languages_of(word))
        scores: dict[str, float] = {}
        for lang in self._vocab:
            script = self._scripts[lang]
            share = (letters[script] if script else 0) / max(1, letters.total())
            scores[lang] = found[lang] + 0.5 * share
        best = max(scores.values())
        tied = sorted(lang for lang, score in scores.items() if score == best)
        return self._default if self._default in tied else tied[0]
