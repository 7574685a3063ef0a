"""The query language guess, on vocabularies made by the real analyzer."""

from __future__ import annotations

from app.language import UNDETERMINED, LanguageGuesser
from indexer.analyze import Analyzer

ANALYZER = Analyzer()
ENGLISH = "urgent help the thermostat screen will not turn on, reset the batteries T2 Pro"
RUSSIAN = "термостат экран не включается батарейки"


def guesser(**texts: str) -> LanguageGuesser:
    vocab = {lang: frozenset(ANALYZER.terms(text, lang)) for lang, text in texts.items()}
    return LanguageGuesser(vocab, ANALYZER, "en")


def test_a_query_mostly_in_a_script_no_indexed_language_uses_is_undetermined() -> None:
    english_only = guesser(en=ENGLISH)
    # An English word or product name in front does not make the Russian sentence English:
    # the English-only model would embed it as noise (and slowly: many word pieces).
    assert english_only.guess("urgent: купили термостат в прошлом году, экран не включается") == UNDETERMINED
    assert english_only.guess("T2 Pro: экран не включается") == UNDETERMINED
    assert english_only.guess("help - کی پولم به حسابم برمیگرده؟ asap") == UNDETERMINED


def test_indexed_words_and_letters_still_decide_otherwise() -> None:
    english_only = guesser(en=ENGLISH)
    assert english_only.guess("thermostat screen will not turn on") == "en"
    assert english_only.guess("reset экран") == "en"  # as many Latin letters as Cyrillic ones
    assert english_only.guess("2024") == "en"  # no letters: the default
    both = guesser(en=ENGLISH, ru=RUSSIAN)
    assert both.guess("urgent: термостат экран не включается") == "ru"
    assert both.guess("urgent thermostat") == "en"
