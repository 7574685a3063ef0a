"""Ticket cleaning, passage splitting and language detection.

Cleaning cases live in fixtures/tickets/<lang>-<case>.txt: YAML front matter (subject,
expected_subject, expected_body), then the raw ticket body as a helpdesk sends it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.ticket import (
    MAX_PASSAGES,
    clean_body,
    clean_subject,
    clean_ticket,
    detect_language,
    split_passages,
)

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "tickets").glob("*.txt"))
LANGUAGES = ("en", "pl", "ru", "fa")


def read_case(path: Path) -> tuple[dict[str, str], str]:
    _, front, body = path.read_text("utf-8").split("---\n", 2)
    return yaml.safe_load(front), body


def test_every_language_has_cleaning_cases() -> None:
    covered = {path.name.split("-")[0] for path in FIXTURES}
    assert covered >= set(LANGUAGES)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_ticket_noise_is_stripped(path: Path) -> None:
    case, body = read_case(path)
    cleaned = clean_ticket(case["subject"], body)
    assert cleaned.subject == case["expected_subject"]
    assert cleaned.body == case["expected_body"]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_cleaned_ticket_language_is_detected(path: Path) -> None:
    case, body = read_case(path)
    cleaned = clean_ticket(case["subject"], body)
    assert detect_language(cleaned.text, LANGUAGES) == path.name.split("-")[0]


@pytest.mark.parametrize(("subject", "expected"), [
    ("Re: Fwd: [#4411] Return", "Return"),
    ("AW: WG: Rechnung", "Rechnung"),
    ("Odp: Pd: zwrot", "zwrot"),
    ("Ответ: Пересл: возврат", "возврат"),
    ("پاسخ: بازپرداخت", "بازپرداخت"),
    ("  Refund   for  order  ", "Refund for order"),
    ("Re: Re: Re:", ""),
])
def test_subject_prefixes_and_ticket_numbers_are_removed(subject: str, expected: str) -> None:
    assert clean_subject(subject) == expected


def test_a_message_that_is_only_noise_leaves_nothing() -> None:
    assert clean_body("Hi,\n\nThanks in advance!\n\nBest regards,\nJohn\n\nSent from my iPhone") == ""


def test_quoted_lines_are_dropped_even_without_a_header() -> None:
    assert clean_body("Still broken.\n> Have you tried restarting it?\n>> Yes") == "Still broken."


def test_a_sign_off_followed_by_more_text_is_not_a_signature() -> None:
    details = [f"Line {n} describes the problem in some more detail." for n in range(8)]
    cleaned = clean_body("\n".join(["The display is black.", "Thanks", *details]))
    assert cleaned.splitlines() == ["The display is black.", "Thanks", *details]


def test_short_paragraphs_pack_into_one_passage() -> None:
    assert split_passages("First line.\n\nSecond line.\n\nThird line.") == (
        "First line. Second line. Third line.",)


def test_long_paragraphs_split_at_sentence_ends_in_any_script() -> None:
    sentence = "ترموستات به وای فای وصل نمی‌شود و خطای E22 نشان می‌دهد؟ "
    passages = split_passages(sentence * 20, size=200)
    assert len(passages) > 1
    assert all(len(p) <= 200 for p in passages)
    assert all(p.endswith("؟") for p in passages)


def test_a_sentence_longer_than_a_passage_is_cut_at_spaces() -> None:
    passages = split_passages("word " * 300, size=100, limit=100)
    assert all(0 < len(p) <= 100 for p in passages)
    assert " ".join(passages).split() == ["word"] * 300


def test_a_long_body_keeps_its_first_and_last_passages() -> None:
    paragraphs = "\n\n".join(f"Paragraph {n}. " + "x" * 450 for n in range(20))
    passages = split_passages(paragraphs)
    assert len(passages) == MAX_PASSAGES
    assert [p.split(".")[0] for p in passages] == [f"Paragraph {n}" for n in (0, 1, 2, 17, 18, 19)]


@pytest.mark.parametrize(("text", "expected"), [
    ("My thermostat does not connect to the Wi-Fi since I changed the router", "en"),
    ("termostat nie laczy sie z wifi od kiedy wymienilem router", "pl"),
    ("Здравствуйте, не могу вернуть деньги за термостат", "ru"),
    ("سلام، رمز عبورم را فراموش کرده‌ام", "fa"),
])
def test_language_is_detected_offline(text: str, expected: str) -> None:
    assert detect_language(text, LANGUAGES) == expected


def test_a_kb_language_wins_over_a_close_neighbour() -> None:
    text = "Здравствуйте, не могу вернуть деньги"
    assert detect_language(text, ()) in {"ru", "uk"}
    assert detect_language(text, ("ru",)) == "ru"


def test_text_without_letters_has_no_language() -> None:
    assert detect_language("12345 !!! 678", LANGUAGES) is None
