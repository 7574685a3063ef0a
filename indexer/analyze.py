"""Language-aware text analysis: words, normalization, stemming, for any script."""

from __future__ import annotations

import functools
import threading
import unicodedata
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import regex
import Stemmer

# A word: letters, marks and digits, possibly joined by a ZWNJ (Persian), a hyphen
# or an apostrophe between letters ("می‌توانید", "Wi-Fi", "don't").
_WORD = regex.compile(
    r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:[\u200c\-'’][\p{L}\p{N}][\p{L}\p{M}\p{N}]*)*"
)
_JOINERS = regex.compile(r"[\u200c\-'’]")

# Arabic-script spellings folded to the Persian ones, tatweel dropped, digits to ASCII.
_ARABIC_SCRIPT_MAP = str.maketrans(
    {
        "\u064a": "\u06cc",  # ي → ی
        "\u0649": "\u06cc",  # ى → ی
        "\u0643": "\u06a9",  # ك → ک
        "\u0629": "\u0647",  # ة → ه
        "\u0623": "\u0627",  # أ → ا
        "\u0625": "\u0627",  # إ → ا
        "\u0671": "\u0627",  # ٱ → ا
        "\u0624": "\u0648",  # ؤ → و
        "\u0640": None,  # tatweel
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
        "ё": "е",
    }
)
_LATIN_EXTRA = str.maketrans({"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d"})

# ISO 639-1 codes of the Snowball stemmers PyStemmer 3 ships.
_SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "st": "sesotho", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}
ANALYZER_VERSION = 2
"""Bumped whenever analysis changes, so an index is never queried with other rules."""


@dataclass(frozen=True, slots=True)
class Word:
    """A word as written in the text, with its offsets and index terms."""

    start: int
    end: int
    terms: tuple[str, ...]


@functools.lru_cache(maxsize=65_536)
def normalize(token: str) -> str:
    """Case-fold and fold spelling variants that users type interchangeably."""
    text = unicodedata.normalize("NFKC", token).casefold().translate(_ARABIC_SCRIPT_MAP)
    return "".join(c for c in text if not _is_arabic_mark(c))


def _is_arabic_mark(char: str) -> bool:
    return "\u064b" <= char <= "\u065f" or char == "\u0670"


def fold_latin(term: str) -> str:
    """Drop diacritics from Latin letters ("pieniędzy" → "pieniedzy"); other scripts kept."""
    if term.isascii():
        return term
    out: list[str] = []
    for char in term.translate(_LATIN_EXTRA):
        if "LATIN" in unicodedata.name(char, ""):
            out.append(unicodedata.normalize("NFD", char)[0])
        else:
            out.append(char)
    return "".join(out)


def stemmer_language(lang: str) -> str | None:
    """The Snowball algorithm for a BCP-47 tag, or ``None`` when there is none."""
    name = _SNOWBALL.get(lang.split("-")[0].lower())
    return name if name in _available_algorithms() else None


_ALGORITHMS: frozenset[str] | None = None


def _available_algorithms() -> frozenset[str]:
    global _ALGORITHMS
    if _ALGORITHMS is None:
        _ALGORITHMS = frozenset(Stemmer.algorithms())
    return _ALGORITHMS


R = TypeVar("R")


def method_cache(method: Callable[..., R], maxsize: int) -> Callable[..., R]:
    """``functools.lru_cache(maxsize)(method)`` for a bound method, bound weakly.

    Kept on its object, a cache of ``self.method`` holds the object in a reference cycle,
    which only the cyclic GC frees; the service freezes that GC after each snapshot load
    (``app.live``), so a Searcher still serving a search during a reload would keep its
    whole snapshot in memory until the next load. Bound weakly, reference counting frees
    the object as soon as its last user drops it. Only a cache miss pays for the weak
    reference.
    """
    owner, name = weakref.WeakMethod(method), method.__qualname__

    def call(*args: object) -> R:
        bound = owner()
        if bound is None:  # cannot happen through the owner, which holds the cache
            raise ReferenceError(f"the cache of {name} outlived its object")
        return bound(*args)

    return functools.lru_cache(maxsize=maxsize)(call)


class Analyzer:
    """Turns text into index terms for one or more languages; safe across threads.

    ``unstemmed`` lists languages to leave unstemmed (for measuring what stemming adds).
    """

    def __init__(self, unstemmed: frozenset[str] = frozenset(), *,
                 cache_size: int = 65_536) -> None:
        self._local = threading.local()
        self._unstemmed = unstemmed
        # Words repeat (in queries, and across a KB's chunks): normalizing and stemming a
        # word costs ~15 µs, a cache hit under 1 µs.
        self._cached_terms = method_cache(self._word_terms, cache_size)

    def _stem(self, lang: str, word: str) -> str:
        algorithm = None if lang in self._unstemmed else stemmer_language(lang)
        if algorithm is None:
            return word
        stemmers: dict[str, Stemmer.Stemmer] = self._local.__dict__.setdefault("stemmers", {})
        stemmer = stemmers.get(algorithm)
        if stemmer is None:
            stemmer = stemmers[algorithm] = Stemmer.Stemmer(algorithm)
        return str(stemmer.stemWord(word))

    def word_terms(self, raw: str, langs: Iterable[str]) -> tuple[str, ...]:
        """Terms of one written word: the stem of the whole word, of it without
        joiners (ZWNJ, hyphen, apostrophe) and of each joined part.

        Latin diacritics are folded before stemming, so "pieniędzy" and "pieniedzy"
        (typed without Polish letters) get the same stem.
        """
        return self._cached_terms(raw, tuple(langs))

    def _word_terms(self, raw: str, langs: tuple[str, ...]) -> tuple[str, ...]:
        word = fold_latin(normalize(raw))
        variants = [word]
        if _JOINERS.search(word):
            variants.append(_JOINERS.sub("", word))
            variants.extend(part for part in _JOINERS.split(word) if part)
        return tuple(sorted({self._stem(lang, v) for lang in langs for v in variants}))

    def words(self, text: str, langs: Iterable[str]) -> list[Word]:
        """Every word of ``text`` with its character offsets and terms."""
        langs = tuple(langs)
        return [
            Word(m.start(), m.end(), self._cached_terms(m.group(), langs))
            for m in _WORD.finditer(text)
        ]

    @staticmethod
    def written_words(text: str) -> list[str]:
        """The words of ``text`` as written (what :meth:`word_terms` takes)."""
        return _WORD.findall(text)

    def terms(self, text: str, lang: str) -> list[str]:
        """The index terms of a document in one language, repeats kept."""
        langs = (lang,)  # as words() does, without the offsets a build does not keep
        return [term for raw in self.written_words(text) for term in self._cached_terms(raw, langs)]
