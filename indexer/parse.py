"""Parse one Markdown article: YAML front matter, then sections cut at headings."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from indexer.errors import ArticleError
from indexer.records import Article, Audience, Section

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.S | re.M)
_ARTICLE_ID = re.compile(r"^[\w.-]+(?:/[\w.-]+)*$")
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_SLUG_DROP = re.compile(r"[^\w\- ]")
_KNOWN_KEYS = frozenset(
    "id title lang tags product audience owner updated verified review_every_days "
    "translation_of internal_sections".split()
)
# libyaml's loader where PyYAML was built with it: ~10× faster than the pure-Python one,
# which took a quarter of a full build's time outside the model.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def markdown_parser() -> MarkdownIt:
    """The one Markdown dialect Deskmate reads: CommonMark plus tables, raw HTML off."""
    return MarkdownIt("commonmark", {"html": False}).enable("table")


_MARKDOWN = markdown_parser()
"""Shared by every parse: making a parser costs more than parsing a short article, and
parsing changes nothing in it."""


def read_article(path: Path, kb_dir: Path, *, default_lang: str, max_bytes: int) -> Article:
    """Read and parse one article file.

    Raises:
        ArticleError: the file is empty, too big, not UTF-8, or its front matter is bad.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise ArticleError(
            f"file is {size:,} bytes, over the {max_bytes:,}-byte limit; "
            "split the article or raise DESKMATE_MAX_ARTICLE_BYTES"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(
            f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8"
        ) from exc
    default_id = path.relative_to(kb_dir).with_suffix("").as_posix()
    return parse_article(text, default_id=default_id, default_lang=default_lang,
                         path=path.relative_to(kb_dir).as_posix())


def parse_article(text: str, *, default_id: str, default_lang: str, path: str) -> Article:
    """Parse article text (front matter + Markdown) into an :class:`Article`.

    Raises:
        ArticleError: the front matter is malformed or the article has no text.
    """
    meta, body = split_front_matter(text)
    if not body.strip():
        raise ArticleError("article has no text below the front matter; write a body or delete it")
    sections = list(parse_sections(body, fallback_title=str(meta.get("title") or default_id)))
    title = _title(meta, sections, default_id)
    if sections and sections[0].heading_path[0] != title:
        sections = [_retitle(s, title) for s in sections]
    return Article(
        id=_article_id(meta.get("id", default_id)),
        path=path,
        title=title,
        lang=_lang(meta.get("lang", default_lang)),
        tags=_string_list(meta, "tags"),
        product=_optional_str(meta, "product"),
        audience=_audience(meta.get("audience", "public")),
        owner=_optional_str(meta, "owner"),
        updated=_date(meta, "updated"),
        verified=_date(meta, "verified"),
        review_every_days=_positive_int(meta, "review_every_days"),
        translation_of=_optional_str(meta, "translation_of"),
        internal_sections=_string_list(meta, "internal_sections"),
        markdown=body,
        sections=tuple(sections),
    )


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split ``---`` YAML front matter from the body; no front matter gives ``{}``.

    Raises:
        ArticleError: the YAML does not parse or is not a mapping.
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        if text.startswith("---"):
            raise ArticleError("front matter starts with '---' but has no closing '---' line")
        return {}, text
    try:
        meta = yaml.load(match.group(1), Loader=_YAML_LOADER)  # safe: no Python objects
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ArticleError(f"front matter is not valid YAML{line}: {problem}") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ArticleError(
            f"front matter must be a mapping of keys to values, got {type(meta).__name__}"
        )
    unknown = sorted(str(key) for key in meta if key not in _KNOWN_KEYS)
    if unknown:
        raise ArticleError(
            f"unknown front-matter key(s) {', '.join(unknown)}; "
            f"known keys are {', '.join(sorted(_KNOWN_KEYS))}"
        )
    return meta, text[match.end():]


def slugify(heading: str) -> str:
    """Anchor slug of a heading, GitHub style, for any script.

    Lower-cases, drops punctuation and zero-width joiners, turns spaces into
    hyphens; letters of every script are kept (``"Как вернуть"`` → ``"как-вернуть"``).
    """
    text = unicodedata.normalize("NFKC", heading).lower().replace("\u200c", "").replace("\u200d", "")
    text = _SLUG_DROP.sub("", text).strip()
    return re.sub(r"\s+", "-", text)


@dataclass(slots=True)
class _SectionBuilder:
    anchor: str
    heading_path: tuple[str, ...]
    level: int
    lines: list[str] = field(default_factory=list)

    def build(self) -> Section:
        text = "\n".join(line for line in self.lines if line.strip())
        return Section(self.anchor, self.heading_path, self.level, text)


def parse_sections(markdown: str, *, fallback_title: str) -> Iterator[Section]:
    """Cut Markdown into sections at headings; text before any heading is level 1."""
    tokens = _MARKDOWN.parse(markdown)
    anchors = AnchorRegistry()
    stack: list[tuple[int, str]] = []
    current = _SectionBuilder("", (fallback_title,), 1)
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            if current.lines or current.level > 1 or current.anchor:
                yield current.build()
            level = int(token.tag[1])
            heading = inline_text(tokens[index + 1])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            current = _SectionBuilder(anchors.claim(heading), _heading_path(stack), level)
        elif token.type == "inline" and tokens[index - 1].type != "heading_open":
            current.lines.append(inline_text(token))
        elif token.type in ("fence", "code_block"):
            current.lines.append(token.content.rstrip("\n"))
    yield current.build()


def _heading_path(stack: list[tuple[int, str]]) -> tuple[str, ...]:
    top = stack[0][1] if stack[0][0] == 1 else None
    below = tuple(text for level, text in stack if level > 1)
    return ((top,) if top is not None else ("",)) + below


class AnchorRegistry:
    """Hands out unique anchors within one article: ``steps``, ``steps-1``, …"""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def claim(self, heading: str) -> str:
        slug = slugify(heading) or "section"
        count = self._seen.get(slug, 0)
        self._seen[slug] = count + 1
        return slug if count == 0 else f"{slug}-{count}"


def inline_text(token: Token) -> str:
    """Plain text of an inline token: link text kept, URLs and markup dropped."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts).strip()


def _title(meta: dict[str, Any], sections: list[Section], default_id: str) -> str:
    title = meta.get("title")
    if title is not None:
        if not isinstance(title, str) or not title.strip():
            raise ArticleError("front-matter 'title' must be non-empty text")
        return title.strip()
    for section in sections:
        if section.level == 1 and section.heading_path[0]:
            return section.heading_path[0]
    return default_id.rsplit("/", 1)[-1]


def _retitle(section: Section, title: str) -> Section:
    path = (title,) + section.heading_path[1:]
    return Section(section.anchor, path, section.level, section.text)


def _article_id(value: object) -> str:
    if not isinstance(value, str) or not _ARTICLE_ID.match(value) or ".." in value:
        raise ArticleError(
            f"id {value!r} is not usable in a URL; use letters, digits, '-', '_', '.' and '/'"
        )
    return value


def _lang(value: object) -> str:
    if not isinstance(value, str) or not _LANG_TAG.match(value):
        raise ArticleError(f"lang {value!r} is not a BCP-47 language tag such as 'en' or 'pt-BR'")
    return value.lower()


def _audience(value: object) -> Audience:
    try:
        return Audience(str(value))
    except ValueError as exc:
        choices = ", ".join(a.value for a in Audience)
        raise ArticleError(f"audience {value!r} is not one of {choices}") from exc


def _optional_str(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ArticleError(f"front-matter {key!r} must be text, got {type(value).__name__}")
    return str(value).strip() or None


def _string_list(meta: dict[str, Any], key: str) -> tuple[str, ...]:
    value = meta.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ArticleError(f"front-matter {key!r} must be a list of text values like [a, b]")
    return tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))


def _date(meta: dict[str, Any], key: str) -> date | None:
    value = meta.get(key)
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ArticleError(f"front-matter {key!r} is {value!r}, not a date like 2026-10-02") from exc


def _positive_int(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ArticleError(f"front-matter {key!r} must be a whole number of days > 0, got {value!r}")
    return value
