"""Language-aware analysis and the BM25 index (bm25s) built on it."""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt
import regex
import Stemmer

from indexer.errors import SnapshotError

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


class Analyzer:
    """Turns text into index terms for one or more languages; safe across threads.

    ``unstemmed`` lists languages to leave unstemmed (for measuring what stemming adds).
    """

    def __init__(self, unstemmed: frozenset[str] = frozenset()) -> None:
        self._local = threading.local()
        self._unstemmed = unstemmed

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
            Word(m.start(), m.end(), self.word_terms(m.group(), langs))
            for m in _WORD.finditer(text)
        ]

    def terms(self, text: str, lang: str) -> list[str]:
        """The index terms of a document in one language, repeats kept."""
        return [term for word in self.words(text, (lang,)) for term in word.terms]


class LexicalIndex:
    """BM25 over chunk terms, plus the vocabulary of each indexed language."""

    FILES = ("bm25", "languages.json")

    def __init__(self, bm25: bm25s.BM25, vocab_by_lang: dict[str, frozenset[str]]) -> None:
        self._bm25 = bm25
        self._vocab: dict[str, int] = bm25.vocab_dict
        self.vocab_by_lang = vocab_by_lang
        self.size = int(bm25.scores["num_docs"])
        self._indptr = bm25.scores["indptr"]
        self._doc_ids = bm25.scores["indices"]
        self._deletes: dict[str, list[str]] | None = None
        self._deletes_lock = threading.Lock()

    @classmethod
    def build(cls, documents: Sequence[list[str]], langs: Sequence[str]) -> LexicalIndex:
        """Index documents given as term lists, each in the language at the same position."""
        bm25 = bm25s.BM25(method="lucene")
        bm25.index([list(doc) for doc in documents], show_progress=False)
        vocab: dict[str, set[str]] = {}
        for doc, lang in zip(documents, langs, strict=True):
            vocab.setdefault(lang, set()).update(doc)
        return cls(bm25, {lang: frozenset(terms) for lang, terms in vocab.items()})

    @classmethod
    def from_texts(cls, texts: Sequence[str], langs: Sequence[str],
                   analyzer: Analyzer) -> LexicalIndex:
        """Analyze each text in its language, then index."""
        return cls.build([analyzer.terms(t, lang) for t, lang in zip(texts, langs, strict=True)],
                         langs)

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory / "bm25"), show_progress=False)
        data = {lang: sorted(terms) for lang, terms in self.vocab_by_lang.items()}
        (directory / "languages.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        try:
            bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False, mmap=False)
            data = json.loads((directory / "languages.json").read_text("utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise SnapshotError(f"cannot read the BM25 index in {directory}: {exc}") from exc
        return cls(bm25, {lang: frozenset(terms) for lang, terms in data.items()})

    def known(self, terms: Iterable[str]) -> list[str]:
        """The terms that occur somewhere in the index."""
        return [term for term in terms if term in self._vocab]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term (0 when unknown), as Lucene BM25 defines it."""
        column = self._vocab.get(term)
        if column is None:
            return 0.0
        df = int(self._indptr[column + 1] - self._indptr[column])
        return float(np.log(1 + (self.size - df + 0.5) / (df + 0.5)))

    @property
    def max_idf(self) -> float:
        """The IDF of a term found in a single document."""
        return float(np.log(1 + (self.size - 0.5) / 1.5))

    def postings(self, term: str) -> npt.NDArray[np.int32]:
        """Positions of the documents that contain ``term``."""
        column = self._vocab.get(term)
        if column is None:
            return np.zeros(0, dtype=np.int32)
        return np.asarray(self._doc_ids[self._indptr[column]:self._indptr[column + 1]])

    def corrections(self, term: str) -> list[str]:
        """Indexed terms one edit away from an unknown term (typo tolerance).

        Symmetric-delete lookup: two terms match when deleting at most one character
        from each makes them equal (insertions, deletions, substitutions,
        transpositions). Terms under 5 characters, and first letters, are never
        corrected: both made more wrong corrections than right ones on the dev set.
        """
        if len(term) < 5:
            return []
        deletes = self._delete_table()
        found: dict[str, None] = {}
        for variant in (term, *_deletions(term)):
            for candidate in deletes.get(variant, ()):
                found[candidate] = None
        found.pop(term, None)
        return [candidate for candidate in found if candidate[0] == term[0]]

    def _delete_table(self) -> dict[str, list[str]]:
        with self._deletes_lock:
            if self._deletes is None:
                table: dict[str, list[str]] = {}
                for term in self._vocab:
                    if len(term) >= 4 and not term.isdigit():  # 5-letter typos reach these
                        for variant in (term, *_deletions(term)):
                            table.setdefault(variant, []).append(term)
                self._deletes = table
            return self._deletes

    def scores(self, terms: list[str], mask: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk; chunks outside ``mask`` score 0."""
        known = self.known(dict.fromkeys(terms))
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        weights = None if mask is None else mask.astype(np.float32)
        return np.asarray(self._bm25.get_scores(known, weight_mask=weights), dtype=np.float32)


def _deletions(term: str) -> set[str]:
    return {term[:i] + term[i + 1:] for i in range(len(term))}
