"""The ``deskmate index`` command group. Defaults arrive through click's default_map."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from indexer import snapshot
from indexer.build import (
    BuildCache,
    BuildOptions,
    BuildReport,
    Phase,
    article_files,
    build_snapshot,
)
from indexer.dense import EXACT_MAX
from indexer.embed import BACKENDS, TORCH, Encoder, ModelSpec, load_encoder
from indexer.errors import DeskmateError

F = TypeVar("F", bound=Callable[..., Any])

_DIR = click.Path(file_okay=False, path_type=Path)


def index_dir_option(func: F) -> F:
    return click.option("--index", "index_dir", type=_DIR, required=True,
                        help="Index directory (holds CURRENT and snapshots/).")(func)


_BUILD_OPTIONS = [
    click.option("--kb", "kb_dir", type=_DIR, required=True, help="Directory of Markdown articles."),
    click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path),
                 required=True, help="Embedding cache file (SQLite)."),
    click.option("--model", required=True, help="'default', a local model directory or cached name."),
    click.option("--device", default="cpu", show_default=True, help="Torch device for encoding."),
    click.option("--backend", type=click.Choice(BACKENDS), default=TORCH, show_default=True,
                 help="Encoder on the CPU (a non-CPU device always uses torch)."),
    click.option("--model-cache", type=_DIR, default=None,
                 help="Where ONNX exports are kept (default: a temporary directory)."),
    click.option("--threads", type=int, default=0, show_default=True,
                 help="Encoder threads (0: library default)."),
    click.option("--passage-prompt", default="", help="Text put before every chunk."),
    click.option("--query-prompt", default="", help="Text put before every query."),
    click.option("--default-lang", default="en", show_default=True),
    click.option("--max-article-bytes", type=int, default=1 << 20, show_default=True),
    click.option("--chunk-tokens", type=int, default=0, show_default=True,
                 help="Token budget per chunk (0: the model's maximum)."),
    click.option("--overlap-tokens", type=int, default=32, show_default=True),
    click.option("--batch-size", type=int, default=32, show_default=True),
    click.option("--keep", type=int, default=3, show_default=True, help="Snapshots to retain."),
    click.option("--dense-exact-max", type=click.IntRange(min=0), default=EXACT_MAX,
                 show_default=True, help="Chunks up to which dense search is exact (IVF above)."),
    click.option("--processes", type=click.IntRange(min=0), default=0,
                 help="Processes that read articles when many changed (0: one per core)."),
    click.option("--progress/--no-progress", default=True, help="Show progress bars."),
]


def build_options(func: F) -> F:
    """The options every building command takes."""
    for option in reversed(_BUILD_OPTIONS):
        func = option(func)
    return index_dir_option(func)


class Builder:
    """Loads the model once and builds (incrementally after the first time)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.kb_dir: Path = params["kb_dir"]
        self.index_dir: Path = params["index_dir"]
        self.cache_path: Path = params["cache_path"]
        self.progress: bool = params["progress"]
        self.spec = ModelSpec(params["model"], params["device"], params["threads"],
                              params["query_prompt"], params["passage_prompt"],
                              backend=params["backend"], model_cache=params["model_cache"],
                              query_cache=0)
        self.options = BuildOptions(params["default_lang"], params["max_article_bytes"],
                                    params["chunk_tokens"], params["overlap_tokens"],
                                    params["batch_size"], params["keep"],
                                    params["dense_exact_max"],
                                    processes=params["processes"] or os.cpu_count() or 1)
        self.cache = BuildCache()
        self._encoder: Encoder | None = None

    def build(self) -> BuildReport:
        """Build and publish, printing skipped files and a summary.

        Raises:
            click.ClickException: the build failed; nothing was published.
        """
        bar = ProgressBar() if self.progress else None
        try:
            if self._encoder is None:
                self._encoder = load_encoder(self.spec)
            report = build_snapshot(self.kb_dir, self.index_dir, self._encoder, self.cache_path,
                                    self.options, cache=self.cache,
                                    progress=bar or (lambda *_: None))
        except (DeskmateError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        for problem in report.problems:
            click.echo(f"skipped {problem.path}: {problem.reason}", err=True)
        click.echo(
            f"published {report.version}: {report.articles} articles, {report.chunks} chunks "
            f"({report.embedded} embedded, {report.chunks - report.embedded} from cache), "
            f"{len(report.problems)} skipped, {report.seconds:.1f} s")
        return report


class ProgressBar:
    """A tqdm bar per build phase that has work to count (parse, embed)."""

    def __init__(self) -> None:
        self._bars: dict[Phase, tqdm[Any]] = {}

    def __call__(self, phase: Phase, done: int, total: int) -> None:
        if phase not in (Phase.PARSE, Phase.EMBED) or total == 0:
            return
        if phase not in self._bars:
            unit = "file" if phase is Phase.PARSE else "chunk"
            self._bars[phase] = tqdm(total=total, desc=phase.value, unit=unit, leave=False)
        bar = self._bars[phase]
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


@click.group("index")
def index_group() -> None:
    """Build, inspect, watch and roll back index snapshots."""


@index_group.command("build")
@build_options
def build_command(**params: Any) -> None:
    """Build a snapshot of the KB and publish it atomically."""
    Builder(params).build()


@index_group.command("watch")
@build_options
@click.option("--interval", type=float, default=2.0, show_default=True,
              help="Seconds between checks of the KB directory.")
def watch_command(interval: float, **params: Any) -> None:
    """Build now, then rebuild (incrementally) whenever a file under the KB changes."""
    builder = Builder(params)
    seen = kb_fingerprint(builder.kb_dir)
    builder.build()
    click.echo(f"watching {builder.kb_dir} every {interval:g} s; Ctrl-C stops")
    while True:
        time.sleep(interval)
        current = kb_fingerprint(builder.kb_dir)
        if current != seen:
            seen = current
            try:
                builder.build()
            except click.ClickException as exc:
                click.echo(f"build failed, the live index is unchanged: {exc.message}", err=True)


def kb_fingerprint(kb_dir: Path) -> frozenset[tuple[str, int, int]]:
    """Path, modification time and size of every article file."""
    found = set()
    for relative, path in article_files(kb_dir):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.add((relative, stat.st_mtime_ns, stat.st_size))
    return frozenset(found)


@index_group.command("rollback")
@index_dir_option
@click.option("--to", "version", help="Snapshot to make live (default: the one before).")
def rollback_command(index_dir: Path, version: str | None) -> None:
    """Make a retained snapshot live again; running services pick it up within seconds."""
    current = snapshot.current_version(index_dir)
    versions = snapshot.list_versions(index_dir)
    if version is None:
        older = [v for v in versions if current is None or v < current]
        if not older:
            raise click.ClickException(
                f"no snapshot older than {current} is retained in {index_dir}; "
                f"retained: {', '.join(versions) or 'none'}")
        version = older[-1]
    try:
        snapshot.point_to(index_dir, version)
    except DeskmateError as exc:
        raise click.ClickException(f"{exc}; retained: {', '.join(versions)}") from exc
    click.echo(f"live snapshot is now {version} (was {current})")


@index_group.command("status")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def status_command(index_dir: Path, as_json: bool) -> None:
    """Show the published snapshot and the retained ones."""
    version = snapshot.current_version(index_dir)
    if version is None:
        raise click.ClickException(f"no index published in {index_dir}; run `deskmate index build`")
    manifest = json.loads((index_dir / snapshot.SNAPSHOTS / version / "manifest.json").read_text())
    if as_json:
        click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    counts = manifest["counts"]
    click.echo(f"current:   {version}")
    click.echo(f"model:     {manifest['model']['id']} ({manifest['model']['dimension']} dims)")
    click.echo(f"built:     {manifest['created_at']} in {manifest['build_seconds']} s")
    click.echo(f"articles:  {counts['articles']}  chunks: {counts['chunks']}")
    for lang, numbers in counts["languages"].items():
        click.echo(f"  {lang:<6} {numbers['articles']:>5} articles {numbers['chunks']:>6} chunks")
    click.echo(f"errors:    {len(manifest['errors'])}")
    for error in manifest["errors"]:
        click.echo(f"  {error['path']}: {error['reason']}")
    click.echo(f"retained:  {', '.join(snapshot.list_versions(index_dir))}")
