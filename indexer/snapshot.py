"""Index snapshots on disk: write once into a staging directory, publish atomically, load.

Layout of an index directory::

    CURRENT                   name of the published snapshot (replaced atomically)
    snapshots/<version>/      manifest.json (written last), dense.faiss, bm25/,
                              languages.json, chunks.jsonl, articles.jsonl, records.json
                              (their digests and the article fields the searcher indexes),
                              chunk_articles.npy (each chunk's article, as its row)
    snapshots/.staging-*/     builds in progress or interrupted (never read)

The service reads and decodes a record of the stores when it is first needed (see
`Records`): a search reads about ten of them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt
import orjson

from indexer.analyze import method_cache
from indexer.dense import DenseIndex
from indexer.errors import SnapshotError
from indexer.lexical import LexicalIndex
from indexer.records import Article, Audience, Chunk, Section

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
"""Bumped when the files change: 2 added the BM25 lists in impact order, 3 the record
index (records.json, chunk_articles.npy)."""
POINTER = "CURRENT"
SNAPSHOTS = "snapshots"
STAGING_PREFIX = ".staging-"
ARTICLES, CHUNKS = "articles.jsonl", "chunks.jsonl"
COLUMNS = ("id", "lang", "tags", "product", "audience", "translation_of")
"""Article fields in records.json: what the searcher indexes for every article at load."""
REVIEW_DUE = "review_due"
"""Also in records.json: each article's review date (ISO), for the stale counts of the
admin pages, which would otherwise decode every article (~17 µs each, and the record cache
flushed). Snapshots written before it lack it: it is then computed on first use."""
CACHED_RECORDS = 4096
"""Decoded records kept per store: popular articles come back in many searches."""

T = TypeVar("T")


class Records(Sequence[T], Generic[T]):
    """The records of a JSON-lines store, read from its file and decoded on first use.

    Decoding every record at load held the GIL ~150 ms at 10k chunks (searches in flight
    waited for it) and would take ~15 s at 1M chunks. A record is read with one ``pread``
    (the file stays open, so a pruned snapshot still serves): the store costs no memory
    beyond its line offsets. Mapping the file instead made each first read map ~64 KiB of
    pages around it (+150 MB of RSS in 200 searches at 100k chunks). Decoded records are
    cached (``CACHED_RECORDS``). Open one with `open_records`.
    """

    def __init__(self, fd: int, bounds: npt.NDArray[np.int64],
                 decode: Callable[[dict[str, Any]], T]) -> None:
        self._fd = fd
        weakref.finalize(self, os.close, fd)
        self._bounds = bounds
        self._decode = decode
        self._cached = method_cache(self._record, CACHED_RECORDS)

    def __len__(self) -> int:
        return len(self._bounds) - 1

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._cached(i) for i in range(len(self))[index]]
        if not -len(self) <= index < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        return self._cached(index % len(self))

    def _record(self, index: int) -> T:
        start, end = self._bounds[index:index + 2].tolist()
        return self._decode(orjson.loads(os.pread(self._fd, end - start, start)))


class ArticleStore(Mapping[str, Article]):
    """Articles by id, decoded on first read; ``columns`` holds the indexed fields of all."""

    def __init__(self, records: Records[Article], columns: dict[str, list[Any]]) -> None:
        self.records = records
        self.columns = columns
        self._rows = {article_id: row for row, article_id in enumerate(columns["id"])}

    def __getitem__(self, article_id: str) -> Article:
        return self.records[self._rows[article_id]]

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns["id"])

    def __len__(self) -> int:
        return len(self.records)

    def row(self, article_id: str) -> int:
        """Position of the article in the store (and in ``columns``)."""
        return self._rows[article_id]

    def stale_ids(self, today: date) -> list[str]:
        """Ids of the articles whose review date has passed (:meth:`Article.is_stale`),
        longest overdue first; no record is decoded (unless the snapshot predates the column)."""
        due = self.columns.get(REVIEW_DUE)
        if due is None:
            due = self.columns[REVIEW_DUE] = [_column_value(a.review_due) for a in self.records]
        mark, ids = today.isoformat(), self.columns["id"]
        rows = sorted((row for row, day in enumerate(due) if day is not None and day < mark),
                      key=due.__getitem__)  # ISO dates sort as days do
        return [ids[row] for row in rows]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A loaded, read-only snapshot."""

    version: str
    path: Path
    manifest: dict[str, Any]
    articles: ArticleStore
    chunks: Records[Chunk]
    chunk_articles: npt.NDArray[np.int32]
    """Row in ``articles`` of each chunk's article."""
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


def write_records(directory: Path, articles: Sequence[Article], chunks: Sequence[Chunk],
                  lines: tuple[Sequence[str], Sequence[str]] | None = None) -> None:
    """Write the article and chunk stores (JSON lines, no pickle) and their index.

    ``lines`` are the records already serialized, in the same order (a long-lived builder
    keeps them per file).
    """
    article_lines, chunk_lines = lines or ([article_line(a) for a in articles],
                                           [chunk_line(c) for c in chunks])
    digests = {}
    for name, part in ((ARTICLES, article_lines), (CHUNKS, chunk_lines)):
        data = "".join(part).encode("utf-8")
        (directory / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    rows = {article.id: row for row, article in enumerate(articles)}
    np.save(directory / "chunk_articles.npy",
            np.array([rows[c.article_id] for c in chunks], dtype=np.int32))
    columns = {name: [_column_value(getattr(a, name)) for a in articles]
               for name in (*COLUMNS, REVIEW_DUE)}
    index = {"sha256": digests, "articles": columns}
    (directory / "records.json").write_text(json.dumps(index, ensure_ascii=False), "utf-8")


def _column_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return list(value) if isinstance(value, tuple) else value


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
        if manifest.get("format_version") != FORMAT_VERSION:
            raise SnapshotError(
                f"snapshot {version} has format {manifest.get('format_version')}, this "
                f"Deskmate reads format {FORMAT_VERSION}; rebuild with `deskmate index build`")
        articles, chunks, chunk_articles = _load_records(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"snapshot {version} in {index_dir} is unreadable: {exc}") from exc
    dense, lexical = DenseIndex.load(path), LexicalIndex.load(path)
    if not dense.size == lexical.size == len(chunks) == len(chunk_articles):
        raise SnapshotError(
            f"snapshot {version} is inconsistent: {dense.size} vectors, {lexical.size} "
            f"BM25 documents, {len(chunks)} chunks; rebuild it"
        )
    return Snapshot(version, path, manifest, articles, chunks, chunk_articles, dense, lexical)


def _load_records(path: Path) -> tuple[ArticleStore, Records[Chunk], npt.NDArray[np.int32]]:
    """The stores, checked whole here, since their records are decoded only when read.

    Raises:
        ValueError: a store does not match its digest or the index.
    """
    index = json.loads((path / "records.json").read_text("utf-8"))
    articles = open_records(path / ARTICLES, index["sha256"][ARTICLES], _article_from)
    columns = index["articles"]
    chunk_articles = np.load(path / "chunk_articles.npy")
    present = (*COLUMNS, REVIEW_DUE) if REVIEW_DUE in columns else COLUMNS
    if any(len(columns[name]) != len(articles) for name in present) or (
            len(chunk_articles) and not 0 <= chunk_articles.min() <= chunk_articles.max()
            < len(articles)):
        raise ValueError("records.json or chunk_articles.npy does not match articles.jsonl")
    return (ArticleStore(articles, columns),
            open_records(path / CHUNKS, index["sha256"][CHUNKS], _chunk_from),
            chunk_articles.astype(np.int32, copy=False))


def open_records(path: Path, sha256: str, decode: Callable[[dict[str, Any]], T]) -> Records[T]:
    """Open a JSON-lines store after one pass over its file (outside the GIL, mostly) that
    checks its digest and finds where each line ends.

    Raises:
        ValueError: the file does not match ``sha256``.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        digest, ends, size = hashlib.sha256(), [], 0
        while block := os.read(fd, 1 << 20):
            digest.update(block)
            # JSON escapes a newline inside a string; UTF-8 has the byte nowhere else.
            ends.append(np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A) + size)
            size += len(block)
        if digest.hexdigest() != sha256:
            raise ValueError(f"{path.name} does not match its digest in records.json")
    except BaseException:
        os.close(fd)
        raise
    return Records(fd, np.concatenate([[0], *(e + 1 for e in ends)]).astype(np.int64), decode)


def _article_from(record: dict[str, Any]) -> Article:
    # Positional and without dict merges: a search decodes the articles it shows.
    updated, verified = record["updated"], record["verified"]
    return Article(
        record["id"], record["path"], record["title"], record["lang"], tuple(record["tags"]),
        record["product"], Audience(record["audience"]), record["owner"],
        date.fromisoformat(updated) if updated else None,
        date.fromisoformat(verified) if verified else None,
        record["review_every_days"], record["translation_of"],
        tuple(record["internal_sections"]), record["markdown"],
        tuple([Section(s["anchor"], tuple(s["heading_path"]), s["level"], s["text"])
               for s in record["sections"]]),
    )


def _chunk_from(record: dict[str, Any]) -> Chunk:
    return Chunk(record["id"], record["article_id"], record["anchor"],
                 tuple(record["heading_path"]), record["text"], record["position"])


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
