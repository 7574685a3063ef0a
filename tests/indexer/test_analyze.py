from __future__ import annotations

from indexer.analyze import Analyzer, fold_latin, normalize, stemmer_language

analyzer = Analyzer()


def terms(text: str, lang: str) -> set[str]:
    return set(analyzer.terms(text, lang))


def test_english_words_are_stemmed_and_case_folded() -> None:
    assert terms("Refunds REFUNDED", "en") == {"refund"}


def test_polish_with_and_without_diacritics_meet() -> None:
    assert terms("zwrot pieniędzy", "pl") == terms("zwrot pieniedzy", "pl")
    assert terms("Łódź", "pl") == terms("lodz", "pl")


def test_polish_inflections_share_a_stem() -> None:
    assert terms("zwrotu", "pl") == terms("zwrot", "pl")


def test_russian_inflections_and_yo_are_folded() -> None:
    assert terms("возврата", "ru") == terms("возврат", "ru")
    assert terms("ещё", "ru") == terms("еще", "ru")


def test_persian_arabic_letter_variants_are_folded() -> None:
    # Arabic yeh and kaf, as some keyboards type them, become Persian ی and ک.
    assert terms("كد تاييد", "fa") == terms("کد تایید", "fa")


def test_persian_diacritics_and_tatweel_are_dropped() -> None:
    assert normalize("كِتـــاب") == normalize("کتاب")


def test_persian_zwnj_spellings_meet() -> None:
    with_zwnj = terms("می‌خواهم", "fa")
    joined = terms("میخواهم", "fa")
    spaced = terms("می خواهم", "fa")
    assert with_zwnj & joined
    assert with_zwnj & spaced


def test_hyphenated_words_match_their_joined_form() -> None:
    assert terms("Wi-Fi", "en") & terms("wifi", "en")
    assert terms("e-mail", "en") & terms("email", "en")


def test_digits_in_any_script_become_ascii() -> None:
    assert normalize("۷") == "7"
    assert normalize("٣") == "3"


def test_single_character_and_number_tokens_are_kept() -> None:
    assert terms("E 2 x", "en") == {"e", "2", "x"}


def test_word_offsets_point_into_the_original_text() -> None:
    text = "Как вернуть деньги? پیوند بازنشانی"
    words = analyzer.words(text, ("ru", "fa"))
    assert [text[w.start:w.end] for w in words] == ["Как", "вернуть", "деньги", "پیوند", "بازنشانی"]


def test_languages_without_a_stemmer_are_split_but_not_stemmed() -> None:
    assert stemmer_language("ja") is None
    assert stemmer_language("pt-BR") == "portuguese"
    assert terms("Kontakty Kontakt", "xx") == {"kontakty", "kontakt"}


def test_fold_latin_keeps_other_scripts() -> None:
    assert fold_latin("żółć") == "zolc"
    assert fold_latin("йод") == "йод"


