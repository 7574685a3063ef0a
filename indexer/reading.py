"""Read article files into chunks and index terms: in this process, or, when a build has
many files to read, in several.

Reading is what a build does besides the model: ~1–2 ms of Python per article (YAML,
Markdown, token counts, stemming), which holds the GIL, so threads would not share it.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from indexer.analyze import Analyzer
from indexer.chunk import TokenBudget, chunk_article
from indexer.errors import ArticleError
from indexer.parse import read_article
from indexer.records import Article, Chunk

logger = logging.getLogger(__name__)

PARALLEL_MIN_FILES = 500
"""Fewer files than this are read in this process: below it, starting the workers
(~0.7 s each, mostly imports: a spawned process imports the parent's main module again)
costs about what they would save."""


@dataclass(frozen=True, slots=True)
class Reading:
    """How a build reads each file; sent to the worker processes, so it must pickle."""

    kb_dir: Path
    default_lang: str
    max_bytes: int
    budget: TokenBudget


@dataclass(slots=True)
class ReadFile:
    """One file, read: its article and chunks with each chunk's terms, or why not."""

    article: Article | None = None
    problem: str | None = None
    chunks: list[Chunk] = field(default_factory=list)
    terms: list[list[str]] = field(default_factory=list)


def read_file(reading: Reading, analyzer: Analyzer, path: Path) -> ReadFile:
    """Parse, chunk and analyze one article file; a bad article gives its problem."""
    try:
        article = read_article(path, reading.kb_dir, default_lang=reading.default_lang,
                               max_bytes=reading.max_bytes)
    except ArticleError as exc:
        return ReadFile(problem=str(exc))
    chunks = chunk_article(article, reading.budget)
    return ReadFile(article, None, chunks,
                    [analyzer.terms(c.embed_text, article.lang) for c in chunks])


def read_files(reading: Reading, paths: Sequence[Path], *, processes: int,
               on_done: Callable[[int], None], min_parallel: int = PARALLEL_MIN_FILES,
               ) -> Iterator[ReadFile]:
    """Each of ``paths`` read, in order; in ``processes`` worker processes when there are
    at least ``min_parallel`` and ``reading`` can be sent to them. ``on_done(n)`` is called
    as files are read."""
    sent = _pickled(reading) if processes > 1 and len(paths) >= max(min_parallel, 2) else None
    if sent is not None:
        read = _read_in_workers(sent, paths, processes)
    else:
        analyzer = Analyzer()
        read = (read_file(reading, analyzer, path) for path in paths)
    for done, one in enumerate(read, start=1):
        yield one
        if done % 200 == 0:
            on_done(done)


def _read_in_workers(sent: bytes, paths: Sequence[Path], processes: int) -> Iterator[ReadFile]:
    # spawn, not fork: the parent may hold ONNX Runtime's and the tokenizer's threads.
    context = multiprocessing.get_context("spawn")
    workers = min(processes, len(paths))
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=(sent,))
    try:
        yield from pool.map(_read_in_worker, paths,
                            chunksize=max(1, min(64, len(paths) // (workers * 4))))
    finally:  # a build that failed or was interrupted does not wait for the rest
        pool.shutdown(cancel_futures=True)


def _pickled(reading: Reading) -> bytes | None:
    """``reading`` as the workers get it (pickled once, here), or None if it cannot be."""
    try:
        return pickle.dumps(reading)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        logger.info("reading the articles in this process only: %s", exc)
        return None


_worker: tuple[Reading, Analyzer] | None = None
"""In a worker process: the build's :class:`Reading`, and an analyzer."""


def _start_worker(sent: bytes) -> None:
    global _worker
    _worker = (pickle.loads(sent), Analyzer())


def _read_in_worker(path: Path) -> ReadFile:
    assert _worker is not None, "_start_worker runs first in every worker"
    return read_file(*_worker, path)
