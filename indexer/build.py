"""Build a snapshot from a KB directory and publish it: parse → chunk → embed → index."""

from __future__ import annotations

import fcntl
import logging
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from indexer import snapshot
from indexer.analyze import ANALYZER_VERSION, Analyzer
from indexer.chunk import TokenBudget, chunk_article
from indexer.dense import DenseIndex
from indexer.embed import EmbeddingCache, Encoder, embed_chunks_cached
from indexer.errors import ArticleError, SnapshotError
from indexer.lexical import LexicalIndex
from indexer.parse import read_article
from indexer.records import Article, ArticleProblem, Chunk

logger = logging.getLogger(__name__)


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
    progress: bool = False
    """Show a progress bar while embedding."""


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
    """Chunks newly encoded (the rest came from the embedding cache)."""
    problems: tuple[ArticleProblem, ...]
    """Articles skipped, with the reason."""
    seconds: float
    """Wall time of the build."""


def collect_articles(
    kb_dir: Path, *, default_lang: str, max_bytes: int
) -> tuple[list[Article], list[ArticleProblem]]:
    """Parse every ``*.md`` under ``kb_dir``; bad files become problems, not exceptions."""
    articles: list[Article] = []
    problems: list[ArticleProblem] = []
    owners: dict[str, str] = {}
    for path in sorted(kb_dir.rglob("*.md")):
        relative = path.relative_to(kb_dir).as_posix()
        if any(part.startswith(".") for part in path.relative_to(kb_dir).parts):
            continue
        try:
            article = read_article(path, kb_dir, default_lang=default_lang, max_bytes=max_bytes)
        except ArticleError as exc:
            problems.append(ArticleProblem(relative, str(exc)))
            continue
        if article.id in owners:
            problems.append(ArticleProblem(
                relative, f"duplicate id {article.id!r}, already used by {owners[article.id]}; "
                "give one of them another id"))
            continue
        owners[article.id] = relative
        articles.append(article)
    return articles, problems


def build_snapshot(
    kb_dir: Path, index_dir: Path, encoder: Encoder, cache_path: Path, options: BuildOptions
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
        version = snapshot.new_version()
        staged = snapshot.staging_dir(index_dir, version)
        try:
            report = _build_into(staged, kb_dir, encoder, cache_path, options, started)
            snapshot.publish(index_dir, staged, keep=options.keep)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    logger.info("published snapshot %s: %d articles, %d chunks, %d skipped",
                version, report.articles, report.chunks, len(report.problems))
    return report


def _build_into(
    staged: Path, kb_dir: Path, encoder: Encoder, cache_path: Path, options: BuildOptions,
    started: float,
) -> BuildReport:
    articles, problems = collect_articles(
        kb_dir, default_lang=options.default_lang, max_bytes=options.max_article_bytes)
    for problem in problems:
        logger.warning("skipped %s: %s", problem.path, problem.reason)
    if not articles:
        raise SnapshotError(
            f"no article in {kb_dir} could be indexed ({len(problems)} skipped); "
            "nothing was published")
    budget = TokenBudget(options.chunk_tokens or encoder.max_tokens, options.overlap_tokens,
                         encoder.count_tokens)
    chunks = [chunk for article in articles for chunk in chunk_article(article, budget)]
    if not chunks:
        raise SnapshotError(f"the {len(articles)} articles in {kb_dir} hold no text to index")
    cache = EmbeddingCache(cache_path, encoder.model_id, encoder.spec.passage_prompt)
    try:
        vectors, embedded = embed_chunks_cached(
            encoder, [c.embed_text for c in chunks], cache,
            batch_size=options.batch_size, progress=options.progress)
    finally:
        cache.close()
    lang_of = {a.id: a.lang for a in articles}
    langs = [lang_of[c.article_id] for c in chunks]
    lexical = LexicalIndex.from_texts([c.embed_text for c in chunks], langs, Analyzer())
    DenseIndex.build(vectors).save(staged)
    lexical.save(staged)
    snapshot.write_records(staged, articles, chunks)
    seconds = time.perf_counter() - started
    version = staged.name.removeprefix(snapshot.STAGING_PREFIX)
    snapshot.write_manifest(staged, _manifest(version, encoder, articles, chunks, langs,
                                              problems, seconds, embedded))
    return BuildReport(version, len(articles), len(chunks), embedded, tuple(problems), seconds)


def _manifest(
    version: str, encoder: Encoder, articles: list[Article], chunks: list[Chunk],
    langs: list[str], problems: list[ArticleProblem], seconds: float, embedded: int,
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
        "dense": {"type": "flat-ip", "metric": "cosine"},
        "counts": {
            "articles": len(articles),
            "chunks": len(chunks),
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
