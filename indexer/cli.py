"""The ``deskmate index`` command group. Defaults arrive through click's default_map."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from indexer import snapshot
from indexer.build import BuildOptions, Phase, build_snapshot
from indexer.embed import ModelSpec, load_encoder
from indexer.errors import DeskmateError

F = TypeVar("F", bound=Callable[..., Any])

_DIR = click.Path(file_okay=False, path_type=Path)


def index_dir_option(func: F) -> F:
    return click.option("--index", "index_dir", type=_DIR, required=True,
                        help="Index directory (holds CURRENT and snapshots/).")(func)


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
    """Build, inspect and publish index snapshots."""


@index_group.command("build")
@click.option("--kb", "kb_dir", type=_DIR, required=True, help="Directory of Markdown articles.")
@index_dir_option
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Embedding cache file (SQLite).")
@click.option("--model", required=True, help="'default', a local model directory or cached name.")
@click.option("--device", default="cpu", show_default=True, help="Torch device for encoding.")
@click.option("--threads", type=int, default=0, show_default=True,
              help="Encoder threads (0: library default).")
@click.option("--passage-prompt", default="", help="Text put before every chunk.")
@click.option("--query-prompt", default="", help="Text put before every query.")
@click.option("--default-lang", default="en", show_default=True)
@click.option("--max-article-bytes", type=int, default=1 << 20, show_default=True)
@click.option("--chunk-tokens", type=int, default=0, show_default=True,
              help="Token budget per chunk (0: the model's maximum).")
@click.option("--overlap-tokens", type=int, default=32, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--keep", type=int, default=3, show_default=True, help="Snapshots to retain.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
def build_command(kb_dir: Path, index_dir: Path, cache_path: Path, model: str, device: str,
                  threads: int, passage_prompt: str, query_prompt: str, default_lang: str,
                  max_article_bytes: int, chunk_tokens: int, overlap_tokens: int,
                  batch_size: int, keep: int, progress: bool) -> None:
    """Build a snapshot of the KB and publish it atomically."""
    spec = ModelSpec(model, device, threads, query_prompt, passage_prompt)
    options = BuildOptions(default_lang, max_article_bytes, chunk_tokens, overlap_tokens,
                           batch_size, keep)
    bar = ProgressBar() if progress else None
    try:
        report = build_snapshot(kb_dir, index_dir, load_encoder(spec), cache_path, options,
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
        f"{len(report.problems)} skipped, {report.seconds:.1f} s"
    )


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
