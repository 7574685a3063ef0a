"""Article Markdown → HTML that is safe to insert: raw HTML is escaped, bad URLs dropped."""

from __future__ import annotations

from markdown_it.rules_core import StateCore

from indexer.parse import AnchorRegistry, inline_text, markdown_parser


def _heading_ids(state: StateCore) -> None:
    """Give each heading the same anchor id the indexer gave its section."""
    anchors = AnchorRegistry()
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", anchors.claim(inline_text(tokens[index + 1])))


_PARSER = markdown_parser()
_PARSER.core.ruler.push("heading_ids", _heading_ids)


def render_html(markdown: str) -> str:
    """Render article Markdown. markdown-it escapes raw HTML (``html`` off) and refuses
    ``javascript:``, ``vbscript:``, ``file:`` and non-image ``data:`` link targets."""
    return str(_PARSER.render(markdown))
