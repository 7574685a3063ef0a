"""Safe-HTML cases live in fixtures/html/*.md: front matter lists what must and must not
appear in the rendered HTML; the body is the article."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.render import render_html
from indexer.parse import parse_article

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "html").glob("*.md"))


def test_fixture_files_exist() -> None:
    assert len(FIXTURES) >= 3


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_rendering_cases(path: Path) -> None:
    _, header, body = path.read_text("utf-8").split("---\n", 2)
    case = yaml.safe_load(header)
    html = render_html(body)
    for fragment in case["absent"]:
        assert fragment not in html, case["case"]
    for fragment in case["present"]:
        assert fragment in html, case["case"]


def test_render_anchors_match_the_indexed_sections() -> None:
    body = (Path(__file__).parent / "fixtures" / "html" / "heading-anchors.md").read_text("utf-8")
    body = body.split("---\n", 2)[2]
    article = parse_article(body, default_id="g", default_lang="en", path="g.md")
    html = render_html(body)
    for section in article.sections:
        assert f'id="{section.anchor}"' in html
