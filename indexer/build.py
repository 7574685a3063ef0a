"""Build a snapshot from a KB directory and publish it: parse → chunk → embed → index.

A :class:`BuildCache` kept by a long-lived process (the service's build worker)
makes rebuilds incremental: unchanged files are not re-read, re-chunked,
re-analyzed or re-embedded; only the indexes are rebuilt from the cached pieces.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer import snapshot
from indexer.analyze import ANALYZER_VERSION
from indexer.chunk import TokenBudget
from indexer.dense import EXACT_MAX, Centroids, DenseIndex
from indexer.embed import Encoder, Vectors
from indexer.errors import SnapshotError
from indexer.lexical import LexicalIndex, term_ids
from indexer.reading import ReadFile, Reading, read_files
from indexer.records import Article, ArticleProblem, Chunk
from indexer.vector_cache import EmbeddingCache, embed_chunks_cached

logger = logging.getLogger(__name__)


class Phase(StrEnum):
    """Steps of a build, in order, as reported to progress callbacks."""

    PARSE = "parse"
    EMBED = "embed"
    BM25 = "bm25"
    WRITE = "write"
    PUBLISH = "publish"


Progress = Callable[[Phase, int, int], None]
"""Called with the phase and how much of it is done out of a total."""


def no_progress(phase: Phase, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """Knobs of one build; every value comes from the caller (no environment is read)."""

    default_lang: str = "en"
    """Language of articles whose front matter has no ``lang``."""
    max_article_bytes: int = 1 << 20
    """Articles bigger than this are skipped and reported."""
    chunk_tokens: int = 0
    """Token budget per chunk; 0 means the model's maximum sequence length."""
    overlap_tokens: int = 32
    """Tokens repeated between consecutive chunks of one long section."""
    batch_size: int = 32
    """Chunks per encoder batch."""
    keep: int = 3
    """Published snapshots to retain (the current one always stays)."""
    dense_exact_max: int = EXACT_MAX
    """Chunks up to which dense search is exact; above it an IVF index is built."""
    processes: int = 1
    """Processes that read articles when many files changed (a first build); 1: this one.
    The service's build worker keeps 1, leaving the other cores to searches."""


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did."""

    version: str
    """Name of the published snapshot."""
    articles: int
    """Articles indexed."""
    chunks: int
    """Chunks indexed."""
    embedded: int
    """Chunks newly encoded (the rest came from the caches)."""
    problems: tuple[ArticleProblem, ...]
    """Articles skipped, with the reason."""
    seconds: float
    """Wall time of the build."""


@dataclass(slots=True)
class _FileEntry:
    """Everything a build derives from one file, reusable while the file is unchanged."""

    signature: tuple[int, int]
    article: Article | None = None
    problem: str | None = None
    chunks: list[Chunk] = field(default_factory=list)
    term_ids: list[npt.NDArray[np.int32]] = field(default_factory=list)
    vectors: Vectors | None = None
    lines: tuple[str, list[str]] = ("", [])
    """The article's and its chunks' records, serialized."""


@dataclass(slots=True)
class BuildCache:
    """Per-file results of earlier builds in this process, valid for one configuration."""

    files: dict[str, _FileEntry] = field(default_factory=dict)
    vocab: dict[str, int] = field(default_factory=dict)
    """Every term seen, with its id (ids only grow; unused terms are dropped per index)."""
    centroids: Centroids | None = None
    """The last IVF training, which later builds add to while it fits their vectors (after
    a new configuration every chunk is new, so the next build trains again)."""
    configuration: tuple[Any, ...] = ()


def build_snapshot(
    kb_dir: Path, index_dir: Path, encoder: Encoder, cache_path: Path, options: BuildOptions,
    *, cache: BuildCache | None = None, progress: Progress = no_progress,
) -> BuildReport:
    """Build a snapshot of ``kb_dir`` and publish it in ``index_dir``.

    A failure at any step leaves the published snapshot untouched.

    Raises:
        SnapshotError: no article could be indexed, or writing/publishing failed.
    """
    if not kb_dir.is_dir():
        raise SnapshotError(f"KB directory {kb_dir} does not exist; pass --kb or set DESKMATE_KB_DIR")
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_dir):
        staged = snapshot.staging_dir(index_dir, snapshot.new_version())
        try:
            report = _Build(kb_dir, encoder, cache_path, options, cache or BuildCache(),
                            progress).run(staged, started)
            progress(Phase.PUBLISH, 0, 1)
            snapshot.publish(index_dir, staged, keep=options.keep)
            progress(Phase.PUBLISH, 1, 1)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    logger.info("published snapshot %s: %d articles, %d chunks, %d embedded, %d skipped",
                report.version, report.articles, report.chunks, report.embedded,
                len(report.problems))
    return report


class _Build:
    def __init__(self, kb_dir: Path, encoder: Encoder, cache_path: Path, options: BuildOptions,
                 cache: BuildCache, progress: Progress) -> None:
        self.kb_dir, self.encoder, self.cache_path = kb_dir, encoder, cache_path
        self.options, self.progress = options, progress
        # A counter without the model in it: reading processes get a copy.
        self.budget = TokenBudget(options.chunk_tokens or encoder.max_tokens,
                                  options.overlap_tokens, encoder.token_counter())
        configuration = (encoder.model_id, encoder.spec.passage_prompt, self.budget.max_tokens,
                         self.budget.overlap_tokens, ANALYZER_VERSION, options.default_lang,
                         options.max_article_bytes)
        if cache.configuration != configuration:
            cache.files.clear()
            cache.vocab.clear()
            cache.configuration = configuration
        self.cache = cache

    def run(self, staged: Path, started: float) -> BuildReport:
        entries, problems = self._collect()
        if not entries:
            raise SnapshotError(
                f"no article in {self.kb_dir} could be indexed ({len(problems)} skipped); "
                "nothing was published")
        articles = [e.article for e in entries if e.article is not None]
        chunks = [c for e in entries for c in e.chunks]
        if not chunks:
            raise SnapshotError(f"the {len(articles)} articles in {self.kb_dir} hold no text to index")
        new = sum(len(e.chunks) for e in entries if e.vectors is None)  # not in the last build
        embedded = self._embed(entries)
        self.progress(Phase.BM25, 0, 1)
        langs = [e.article.lang for e in entries if e.article for _ in e.chunks]
        vocab = list(self.cache.vocab)
        lexical = LexicalIndex.from_term_ids([t for e in entries for t in e.term_ids], vocab, langs)
        self.progress(Phase.BM25, 1, 1)
        self.progress(Phase.WRITE, 0, 1)
        vectors = np.concatenate([e.vectors for e in entries if e.vectors is not None])
        dense = DenseIndex.build(vectors, exact_max=self.options.dense_exact_max,
                                 centroids=self.cache.centroids, new=new)
        self.cache.centroids = dense.centroids
        dense.save(staged)
        lexical.save(staged)
        snapshot.write_records(staged, articles, chunks,
                               ([e.lines[0] for e in entries if e.article is not None],
                                [line for e in entries for line in e.lines[1]]))
        seconds = time.perf_counter() - started
        version = staged.name.removeprefix(snapshot.STAGING_PREFIX)
        snapshot.write_manifest(staged, _manifest(version, self.encoder, articles, langs,
                                                  len(chunks), problems, seconds, embedded,
                                                  dense.describe()))
        self.progress(Phase.WRITE, 1, 1)
        return BuildReport(version, len(articles), len(chunks), embedded, tuple(problems), seconds)

    def _collect(self) -> tuple[list[_FileEntry], list[ArticleProblem]]:
        """Entries of the indexable articles in path order, and the skipped files."""
        paths = article_files(self.kb_dir)
        fresh = self._read_changed(paths)
        entries: list[_FileEntry] = []
        problems: list[ArticleProblem] = []
        owners: dict[str, str] = {}
        for relative, _ in paths:
            entry = fresh[relative]
            if entry.article is None:
                problems.append(ArticleProblem(relative, entry.problem or "unreadable"))
            elif entry.article.id in owners:
                problems.append(ArticleProblem(
                    relative, f"duplicate id {entry.article.id!r}, already used by "
                    f"{owners[entry.article.id]}; give one of them another id"))
            else:
                owners[entry.article.id] = relative
                entries.append(entry)
        self.cache.files = fresh  # files deleted from the KB leave the cache too
        for problem in problems:
            logger.warning("skipped %s: %s", problem.path, problem.reason)
        return entries, problems

    def _read_changed(self, paths: list[tuple[str, Path]]) -> dict[str, _FileEntry]:
        """Every file's entry: the cached one while the file is unchanged, else read now
        (term ids are given in path order, so the vocabulary does not depend on who read)."""
        entries: dict[str, _FileEntry] = {}
        changed: list[tuple[str, Path, tuple[int, int]]] = []
        for relative, path in paths:
            stat = path.stat()
            signature = (stat.st_mtime_ns, stat.st_size)
            cached = self.cache.files.get(relative)
            if cached is not None and cached.signature == signature:
                entries[relative] = cached
            else:
                changed.append((relative, path, signature))
        cached_count = len(entries)
        reading = Reading(self.kb_dir, self.options.default_lang, self.options.max_article_bytes,
                          self.budget)
        read = read_files(reading, [path for _, path, _ in changed],
                          processes=self.options.processes,
                          on_done=lambda done: self.progress(Phase.PARSE, cached_count + done,
                                                             len(paths)))
        for (relative, _, signature), one in zip(changed, read, strict=True):
            entries[relative] = self._entry(signature, one)
        self.progress(Phase.PARSE, len(paths), len(paths))
        return entries

    def _entry(self, signature: tuple[int, int], read: ReadFile) -> _FileEntry:
        entry = _FileEntry(signature, read.article, read.problem, read.chunks)
        if read.article is not None:
            entry.term_ids = [term_ids(terms, self.cache.vocab) for terms in read.terms]
            entry.lines = (snapshot.article_line(read.article),
                           [snapshot.chunk_line(c) for c in read.chunks])
        return entry

    def _embed(self, entries: list[_FileEntry]) -> int:
        """Fill in missing vectors from the embedding cache or the model; count encodes."""
        pending = [e for e in entries if e.vectors is None]
        texts = [c.embed_text for e in pending for c in e.chunks]
        self.progress(Phase.EMBED, 0, len(texts))
        if not texts:
            return 0
        cache = EmbeddingCache(self.cache_path, self.encoder.model_id,
                               self.encoder.spec.passage_prompt)
        try:
            vectors, embedded = embed_chunks_cached(
                self.encoder, texts, cache, batch_size=self.options.batch_size,
                on_batch=lambda done: self.progress(Phase.EMBED, done, len(texts)))
        finally:
            cache.close()
        start = 0
        for entry in pending:
            entry.vectors = vectors[start:start + len(entry.chunks)]
            start += len(entry.chunks)
        self.progress(Phase.EMBED, len(texts), len(texts))
        return embedded


def article_files(kb_dir: Path) -> list[tuple[str, Path]]:
    """``(relative posix path, path)`` of every ``*.md`` under ``kb_dir``, sorted; files and
    folders whose name starts with a dot (drafts, editors' temporary files) are left out."""
    found: list[tuple[str, Path]] = []
    root = str(kb_dir)
    for directory, folders, files in os.walk(kb_dir):
        folders[:] = [f for f in folders if not f.startswith(".")]
        prefix = os.path.relpath(directory, root)
        for name in files:
            if name.endswith(".md") and not name.startswith("."):
                relative = name if prefix == "." else f"{prefix}/{name}".replace(os.sep, "/")
                found.append((relative, Path(directory, name)))
    found.sort()
    return found


def _manifest(
    version: str, encoder: Encoder, articles: list[Article], langs: list[str], chunks: int,
    problems: list[ArticleProblem], seconds: float, embedded: int,
    dense: dict[str, Any] | None = None,
) -> dict[str, Any]:
    article_langs = Counter(a.lang for a in articles)
    chunk_langs = Counter(langs)
    return {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "model": {
            "id": encoder.model_id,
            "dimension": encoder.dimension,
            "max_tokens": encoder.max_tokens,
            "query_prompt": encoder.spec.query_prompt,
            "passage_prompt": encoder.spec.passage_prompt,
            "languages": list(encoder.languages),
        },
        "analyzer_version": ANALYZER_VERSION,
        "dense": dense or {"type": "flat-ip", "metric": "cosine"},
        "counts": {
            "articles": len(articles),
            "chunks": chunks,
            "embedded": embedded,
            "languages": {
                lang: {"articles": article_langs[lang], "chunks": chunk_langs[lang]}
                for lang in sorted(article_langs)
            },
        },
        "errors": [{"path": p.path, "reason": p.reason} for p in problems],
    }


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """One build per index directory at a time (across processes)."""
    with (index_dir / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SnapshotError(
                f"another build is running on {index_dir}; wait for it to finish") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
