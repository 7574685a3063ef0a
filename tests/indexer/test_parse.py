from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from indexer.errors import ArticleError
from indexer.parse import parse_article, read_article, slugify
from indexer.records import Audience


def parse(text: str, default_id: str = "en/sample"):
    return parse_article(text, default_id=default_id, default_lang="en", path=default_id + ".md")


def test_front_matter_fields_are_typed() -> None:
    article = parse("""---
id: refund-missing-parcel
title: Parcel marked delivered but not received
lang: pt-BR
tags: [delivery, refunds]
product: store
audience: internal
owner: support-ops@example.com
updated: 2026-10-02
review_every_days: 90
verified: 2026-10-02
translation_of: refund-missing-parcel-en
internal_sections: [escalation]
---
# Parcel marked delivered but not received

Text.
""")
    assert article.id == "refund-missing-parcel"
    assert article.lang == "pt-br"
    assert article.tags == ("delivery", "refunds")
    assert article.audience is Audience.INTERNAL
    assert article.verified == date(2026, 10, 2)
    assert article.review_every_days == 90
    assert article.translation_of == "refund-missing-parcel-en"
    assert article.internal_sections == ("escalation",)


def test_defaults_without_front_matter() -> None:
    article = parse("# Reset your password\n\nClick the link.\n", default_id="en/reset")
    assert article.id == "en/reset"
    assert article.title == "Reset your password"
    assert article.lang == "en"
    assert article.audience is Audience.PUBLIC
    assert article.markdown.startswith("# Reset your password")


def test_heading_path_keeps_parent_headings() -> None:
    article = parse("""# Install the thermostat

Intro.

## Wiring

Turn off power.

### OpenTherm boilers

Use OT1 and OT2.

## In the app

Scan the code.
""")
    paths = [s.heading_path for s in article.sections]
    assert paths == [
        ("Install the thermostat",),
        ("Install the thermostat", "Wiring"),
        ("Install the thermostat", "Wiring", "OpenTherm boilers"),
        ("Install the thermostat", "In the app"),
    ]
    assert [s.anchor for s in article.sections] == [
        "install-the-thermostat", "wiring", "opentherm-boilers", "in-the-app"]
    assert article.sections[2].text == "Use OT1 and OT2."


def test_front_matter_title_heads_the_path_when_there_is_no_h1() -> None:
    article = parse("---\ntitle: Gift cards\n---\n## Balance\n\nCheck it in the app.\n")
    assert article.sections[-1].heading_path == ("Gift cards", "Balance")


def test_anchors_are_unique_and_keep_every_script() -> None:
    article = parse("# T\n\n## Steps\n\na\n\n## Steps\n\nb\n\n## Как вернуть деньги\n\nc\n\n"
                    "## وای‌فای وصل نمی‌شود\n\nd\n")
    anchors = [s.anchor for s in article.sections[1:]]
    assert anchors == ["steps", "steps-1", "как-вернуть-деньги", "وایفای-وصل-نمیشود"]


def test_slugify_drops_punctuation() -> None:
    assert slugify("Error E21: network not found!") == "error-e21-network-not-found"
    assert slugify("  Zwrot — krok po kroku ") == "zwrot-krok-po-kroku"


def test_inline_markup_becomes_plain_text() -> None:
    article = parse("# T\n\nOpen **Settings › Account** and see [the guide](other-article) or `E42`.\n")
    assert article.sections[0].text == "Open Settings › Account and see the guide or E42."


def test_raw_html_is_kept_as_text_not_markup() -> None:
    article = parse("# T\n\n<script>alert(1)</script> hello\n")
    assert "<script>" in article.sections[0].text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntitle: [unclosed\n---\n# T\n\nx\n", "not valid YAML at line"),
        ("---\n- a\n- b\n---\n# T\n\nx\n", "must be a mapping"),
        ("---\ntitle: T\n", "no closing '---'"),
        ("---\ntitel: T\n---\n# T\n\nx\n", "unknown front-matter key(s) titel"),
        ("---\nupdated: last week\n---\n# T\n\nx\n", "not a date like 2026-10-02"),
        ("---\nid: has space\n---\n# T\n\nx\n", "not usable in a URL"),
        ("---\naudience: everyone\n---\n# T\n\nx\n", "not one of public, internal"),
        ("---\nreview_every_days: -3\n---\n# T\n\nx\n", "whole number of days"),
        ("---\nlang: english please\n---\n# T\n\nx\n", "not a BCP-47 language tag"),
        ("---\ntitle: T\n---\n   \n", "no text below the front matter"),
        ("", "no text"),
    ],
)
def test_malformed_articles_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(ArticleError, match=None) as info:
        parse(text)
    assert reason in str(info.value)


def test_read_article_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("# Café\n\nPrix: 5 €\n".encode("cp1252"))
    with pytest.raises(ArticleError, match="not UTF-8 text"):
        read_article(path, tmp_path, default_lang="en", max_bytes=1000)


def test_read_article_rejects_oversized_files(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_text("# Big\n\n" + "word " * 300, encoding="utf-8")
    with pytest.raises(ArticleError, match="over the 1,000-byte limit"):
        read_article(path, tmp_path, default_lang="en", max_bytes=1000)


def test_read_article_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff---\ntitle: BOM\n---\n# BOM\n\nok\n".encode())
    assert read_article(path, tmp_path, default_lang="en", max_bytes=1000).title == "BOM"


def test_stale_uses_verified_plus_interval() -> None:
    article = parse("---\nverified: 2026-01-01\nreview_every_days: 30\n---\n# T\n\nx\n")
    assert not article.is_stale(date(2026, 1, 31))
    assert article.is_stale(date(2026, 2, 1))


def test_stale_falls_back_to_updated_and_needs_an_interval() -> None:
    with_updated = parse("---\nupdated: 2026-01-01\nreview_every_days: 10\n---\n# T\n\nx\n")
    no_interval = parse("---\nverified: 2000-01-01\n---\n# T\n\nx\n")
    assert with_updated.is_stale(date(2026, 1, 12))
    assert not no_interval.is_stale(date(2026, 1, 12))
