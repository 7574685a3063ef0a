"""Index snapshots on disk: write once into a staging directory, publish atomically, load.

Layout of an index directory::

    CURRENT                   name of the published snapshot (replaced atomically)
    snapshots/<version>/      manifest.json (written last), dense.faiss, bm25/,
                              languages.json, chunks.jsonl, articles.jsonl
    snapshots/.staging-*/     builds in progress or interrupted (never read)
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from indexer.dense import DenseIndex
from indexer.errors import SnapshotError
from indexer.lexical import LexicalIndex
from indexer.records import Article, Audience, Chunk, Section

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
"""Bumped when the files change: 2 added the BM25 lists in impact order."""
POINTER = "CURRENT"
SNAPSHOTS = "snapshots"
STAGING_PREFIX = ".staging-"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A loaded, read-only snapshot."""

    version: str
    path: Path
    manifest: dict[str, Any]
    articles: dict[str, Article]
    chunks: list[Chunk]
    dense: DenseIndex
    lexical: LexicalIndex


def new_version(now: datetime | None = None) -> str:
    """A sortable, unique snapshot name: UTC time plus random suffix."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def staging_dir(index_dir: Path, version: str) -> Path:
    """Create the directory a build writes into before it is published."""
    path = index_dir / SNAPSHOTS / f"{STAGING_PREFIX}{version}"
    path.mkdir(parents=True)
    return path


def write_records(directory: Path, articles: list[Article], chunks: list[Chunk]) -> None:
    """Write the chunk store and article store (JSON lines, no pickle)."""
    write_lines(directory, [article_line(a) for a in articles], [chunk_line(c) for c in chunks])


def write_lines(directory: Path, article_lines: Iterable[str], chunk_lines: Iterable[str]) -> None:
    """Write already serialized records (a long-lived builder keeps them per file)."""
    (directory / "articles.jsonl").write_text("".join(article_lines), encoding="utf-8")
    (directory / "chunks.jsonl").write_text("".join(chunk_lines), encoding="utf-8")


def article_line(article: Article) -> str:
    """One article as a JSON line of the article store."""
    record = {
        "id": article.id, "path": article.path, "title": article.title, "lang": article.lang,
        "tags": list(article.tags), "product": article.product,
        "audience": article.audience.value, "owner": article.owner,
        "updated": article.updated.isoformat() if article.updated else None,
        "verified": article.verified.isoformat() if article.verified else None,
        "review_every_days": article.review_every_days, "translation_of": article.translation_of,
        "internal_sections": list(article.internal_sections), "markdown": article.markdown,
        "sections": [{"anchor": s.anchor, "heading_path": list(s.heading_path),
                      "level": s.level, "text": s.text} for s in article.sections],
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


def chunk_line(chunk: Chunk) -> str:
    """One chunk as a JSON line of the chunk store."""
    record = {"id": chunk.id, "article_id": chunk.article_id, "anchor": chunk.anchor,
              "heading_path": list(chunk.heading_path), "text": chunk.text,
              "position": chunk.position}
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (last, so a snapshot with a manifest is complete)."""
    body = {"format_version": FORMAT_VERSION, **manifest}
    (directory / "manifest.json").write_text(json.dumps(body, ensure_ascii=False, indent=2), "utf-8")


def publish(index_dir: Path, staged: Path, *, keep: int) -> Path:
    """Make a staged snapshot the current one: fsync, rename, swap the pointer.

    Older snapshots beyond the newest ``keep`` are removed; the published one never is.
    """
    version = staged.name.removeprefix(STAGING_PREFIX)
    _fsync_tree(staged)
    final = index_dir / SNAPSHOTS / version
    os.rename(staged, final)
    _fsync_dir(final.parent)
    point_to(index_dir, version)
    prune(index_dir, keep=keep)
    return final


def point_to(index_dir: Path, version: str) -> None:
    """Atomically replace the ``CURRENT`` pointer with ``version``."""
    if not (index_dir / SNAPSHOTS / version / "manifest.json").is_file():
        raise SnapshotError(f"snapshot {version!r} is missing or incomplete in {index_dir}")
    temporary = index_dir / f".{POINTER}.{secrets.token_hex(4)}"
    with temporary.open("w", encoding="utf-8") as out:
        out.write(version + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, index_dir / POINTER)
    _fsync_dir(index_dir)


def current_version(index_dir: Path) -> str | None:
    """Name of the published snapshot, or ``None`` when nothing was published yet."""
    try:
        return (index_dir / POINTER).read_text("utf-8").strip() or None
    except FileNotFoundError:
        return None


def list_versions(index_dir: Path) -> list[str]:
    """Complete snapshots, oldest first."""
    root = index_dir / SNAPSHOTS
    if not root.is_dir():
        return []
    return sorted(
        p.name for p in root.iterdir()
        if not p.name.startswith(".") and (p / "manifest.json").is_file()
    )


def prune(index_dir: Path, *, keep: int) -> None:
    """Remove interrupted builds and all but the newest ``keep`` snapshots."""
    current = current_version(index_dir)
    root = index_dir / SNAPSHOTS
    for leftover in root.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    versions = list_versions(index_dir)
    for version in versions[: max(0, len(versions) - keep)]:
        if version != current:
            shutil.rmtree(root / version, ignore_errors=True)


def load_snapshot(index_dir: Path, version: str | None = None) -> Snapshot:
    """Load the published snapshot (or ``version``) into memory.

    Raises:
        SnapshotError: nothing is published, or the files are missing or unreadable.
    """
    version = version or current_version(index_dir)
    if version is None:
        raise SnapshotError(
            f"no index has been published in {index_dir}; run `deskmate index build`"
        )
    path = index_dir / SNAPSHOTS / version
    try:
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
        articles = [_article_from(json.loads(line)) for line in _lines(path / "articles.jsonl")]
        chunks = [_chunk_from(json.loads(line)) for line in _lines(path / "chunks.jsonl")]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"snapshot {version} in {index_dir} is unreadable: {exc}") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"snapshot {version} has format {manifest.get('format_version')}, this Deskmate "
            f"reads format {FORMAT_VERSION}; rebuild with `deskmate index build`"
        )
    dense, lexical = DenseIndex.load(path), LexicalIndex.load(path)
    if not dense.size == lexical.size == len(chunks):
        raise SnapshotError(
            f"snapshot {version} is inconsistent: {dense.size} vectors, {lexical.size} "
            f"BM25 documents, {len(chunks)} chunks; rebuild it"
        )
    return Snapshot(version, path, manifest, {a.id: a for a in articles}, chunks, dense, lexical)


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def _article_from(record: dict[str, Any]) -> Article:
    sections = tuple(
        Section(s["anchor"], tuple(s["heading_path"]), s["level"], s["text"])
        for s in record.pop("sections")
    )
    dates = {k: date.fromisoformat(record[k]) if record[k] else None for k in ("updated", "verified")}
    typed = {
        "sections": sections,
        "tags": tuple(record["tags"]),
        "internal_sections": tuple(record["internal_sections"]),
        "audience": Audience(record["audience"]),
    }
    return Article(**{**record, **dates, **typed})


def _chunk_from(record: dict[str, Any]) -> Chunk:
    return Chunk(**{**record, "heading_path": tuple(record["heading_path"])})


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(directory))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
