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
    if processes > 1 and len(paths) >= max(min_parallel, 2) and _picklable(reading):
        yield from _read_in_workers(reading, paths, processes, on_done)
        return
    analyzer = Analyzer()
    for done, path in enumerate(paths, start=1):
        yield read_file(reading, analyzer, path)
        if done % 200 == 0:
            on_done(done)


def _read_in_workers(reading: Reading, paths: Sequence[Path], processes: int,
                     on_done: Callable[[int], None]) -> Iterator[ReadFile]:
    # spawn, not fork: the parent may hold ONNX Runtime's and the tokenizer's threads.
    context = multiprocessing.get_context("spawn")
    workers = min(processes, len(paths))
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=(reading,))
    try:
        batch = max(1, min(64, len(paths) // (workers * 4)))
        for done, read in enumerate(pool.map(_read_in_worker, paths, chunksize=batch), start=1):
            yield read
            if done % 200 == 0:
                on_done(done)
    finally:  # a build that failed or was interrupted does not wait for the rest
        pool.shutdown(cancel_futures=True)


def _picklable(reading: Reading) -> bool:
    try:
        pickle.dumps(reading)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        logger.info("reading the articles in this process only: %s", exc)
        return False
    return True


_worker: tuple[Reading, Analyzer] | None = None
"""In a worker process: what :func:`_start_worker` was given, and an analyzer."""


def _start_worker(reading: Reading) -> None:
    global _worker
    _worker = (reading, Analyzer())


def _read_in_worker(path: Path) -> ReadFile:
    assert _worker is not None, "_start_worker runs first in every worker"
    return read_file(*_worker, path)
