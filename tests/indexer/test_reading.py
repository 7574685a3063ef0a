"""Reading article files in worker processes gives what reading them here gives, in the
same order; a counter that cannot be sent to workers reads here instead."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from indexer.analyze import Analyzer
from indexer.build import article_files
from indexer.chunk import TokenBudget
from indexer.embed import Encoder
from indexer.reading import Reading, read_file, read_files
from tests.conftest import write_kb

ARTICLES = {
    "en/long.md": "# Long\n\n" + "A sentence about refunds and invoices. " * 60,
    "fa/refund.md": "---\nlang: fa\n---\n# بازپرداخت\n\nبرای بازپرداخت، سفارش را باز کنید.\n",
    "pl/zwrot.md": "---\nlang: pl\n---\n# Zwrot pieniędzy\n\nOtwórz zamówienie.\n",
    "ru/vozvrat.md": "---\nlang: ru\n---\n# Возврат\n\nОткройте заказ. Нажмите «Вернуть».\n",
    "broken.md": "---\ntitle: [unclosed\n---\n# Broken\n",
    "big.md": "# Big\n\n" + "word " * 800,
    **{f"many/a{n:02d}.md": f"# Article {n}\n\n## Steps\n\nStep {n}: open settings.\n"
       for n in range(30)},
}


@dataclass(frozen=True)
class CountingIn:
    """A counter that leaves a file named after each process it counts in."""

    count: object
    folder: Path

    def __call__(self, text: str) -> int:
        (self.folder / str(os.getpid())).touch()
        return self.count(text)  # type: ignore[operator]


def reading(kb: Path, encoder: Encoder, count: object) -> Reading:
    return Reading(kb, "en", 3000, TokenBudget(encoder.max_tokens, 32, count))  # type: ignore[arg-type]


def test_workers_read_what_this_process_reads(tmp_path: Path, encoder: Encoder) -> None:
    kb = write_kb(tmp_path / "kb", ARTICLES)
    paths = [path for _, path in article_files(kb)]
    (tmp_path / "pids").mkdir()
    counter = CountingIn(encoder.token_counter(), tmp_path / "pids")
    here = [read_file(reading(kb, encoder, encoder.token_counter()), Analyzer(), p) for p in paths]

    there = list(read_files(reading(kb, encoder, counter), paths, processes=2,
                            on_done=lambda _: None, min_parallel=1))

    assert there == here
    assert {r.problem.split(" ")[0] for r in here if r.problem} == {"front", "file"}
    assert len(next(r for r in here if r.article and r.article.id == "en/long").chunks) > 1
    pids = {int(p.name) for p in (tmp_path / "pids").iterdir()}
    assert pids and os.getpid() not in pids


def test_a_counter_that_does_not_pickle_reads_here(tmp_path: Path, encoder: Encoder) -> None:
    kb = write_kb(tmp_path / "kb", ARTICLES)
    paths = [path for _, path in article_files(kb)]
    local = reading(kb, encoder, lambda text: encoder.token_counter()(text))
    done: list[int] = []

    read = list(read_files(local, paths, processes=2, on_done=done.append, min_parallel=1))

    assert read == [read_file(local, Analyzer(), p) for p in paths]
    assert done == []  # 36 files: progress is reported every 200
