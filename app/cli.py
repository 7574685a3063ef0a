"""The ``deskmate`` command: settings at the root, then serve, search and the index group."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from app.analytics import REPORT_ROWS, build_report, csv_text, period_of, table_names
from app.logs import configure_logging
from app.main import create_app, load_searcher
from app.routes.search import search_out
from app.search import Filters, Mode, SearchOutcome
from app.settings import Settings
from app.store import Scope, Store
from indexer.cli import index_group
from indexer.embed import load_encoder
from indexer.errors import DeskmateError
from indexer.records import Audience

_DIR = click.Path(file_okay=False, path_type=Path)


def _default_map(settings: Settings) -> dict[str, Any]:
    """Settings as click defaults: a flag on the command line still wins."""
    build = {
        "kb_dir": settings.kb_dir, "index_dir": settings.index_path,
        "cache_path": settings.cache_path, "model": settings.model, "device": settings.device,
        "backend": settings.backend, "model_cache": settings.data_dir / "models",
        "threads": settings.build_threads, "passage_prompt": settings.passage_prompt,
        "query_prompt": settings.query_prompt, "default_lang": settings.default_lang,
        "max_article_bytes": settings.max_article_bytes, "chunk_tokens": settings.chunk_tokens,
        "overlap_tokens": settings.overlap_tokens, "batch_size": settings.batch_size,
        "keep": settings.keep_snapshots, "dense_exact_max": settings.dense_exact_max,
    }
    return {
        "index": {"build": build, "watch": build, "status": {"index_dir": settings.index_path},
                  "rollback": {"index_dir": settings.index_path}},
        "serve": {"host": settings.host, "port": settings.port, "index_dir": settings.index_path},
        "search": {"index_dir": settings.index_path},
    }


@click.group()
@click.version_option(package_name="deskmate")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Deskmate: the support team's knowledge base, one query away."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"DESKMATE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"invalid settings: {problems}") from exc
    configure_logging(settings.log_level, json_lines=settings.log_json)
    ctx.obj = settings
    ctx.default_map = _default_map(settings)


main.add_command(index_group)


@main.command()
@click.option("--host", help="Address to listen on.")
@click.option("--port", type=int, help="Port to listen on.")
@click.option("--index", "index_dir", type=_DIR, help="Index directory.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, index_dir: Path) -> None:
    """Run the HTTP service (API, docs at /docs)."""
    import uvicorn

    settings = settings.model_copy(update={"host": host, "port": port, "index_dir": index_dir})
    try:
        app = create_app(settings)
    except DeskmateError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Deskmate on http://{host}:{port}/sidebar  (API docs: http://{host}:{port}/docs)")
    # Our middleware logs every request with its request id; uvicorn's loggers propagate
    # to the handler configure_logging installed.
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


@main.command()
@click.argument("query")
@click.option("-k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--lang", multiple=True, help="Only this language (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag (repeatable).")
@click.option("--product", multiple=True, help="Only this product (repeatable).")
@click.option("--audience", multiple=True, type=click.Choice([a.value for a in Audience]))
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default=Mode.HYBRID.value,
              show_default=True, help="Retrievers to use (debugging).")
@click.option("--index", "index_dir", type=_DIR, help="Index directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON response.")
@click.pass_obj
def search(settings: Settings, query: str, k: int, lang: tuple[str, ...], tags: tuple[str, ...],
           product: tuple[str, ...], audience: tuple[str, ...], mode: str, index_dir: Path,
           as_json: bool) -> None:
    """Search the index from the terminal, exactly as the API does."""
    settings = settings.model_copy(update={"index_dir": index_dir})
    filters = Filters(lang, tags, product, tuple(Audience(a) for a in audience))
    try:
        searcher = load_searcher(settings, load_encoder(settings.model_spec(serving=True)))
        outcome = searcher.search(query, k=k, filters=filters, mode=Mode(mode))
    except DeskmateError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(search_out(outcome, "cli").model_dump(mode="json"),
                              ensure_ascii=False, indent=2))
        return
    _print_outcome(outcome)


@main.group()
def keys() -> None:
    """Create, list and revoke API keys (only a hash of each key is stored)."""


def _store(settings: Settings) -> Store:
    store = Store(settings.store_url)
    store.migrate()
    return store


@keys.command("create")
@click.option("--name", required=True, help="Who or what uses the key (\"zendesk\", \"ops\").")
@click.option("--scope", "scopes", multiple=True, type=click.Choice([s.value for s in Scope]),
              default=[Scope.SEARCH.value], show_default=True, help="Repeatable.")
@click.option("--public", is_flag=True,
              help="Never show internal articles (for customer-facing widgets).")
@click.pass_obj
def keys_create(settings: Settings, name: str, scopes: tuple[str, ...], public: bool) -> None:
    """Create a key and print it once."""
    store = _store(settings)
    key, secret = store.create_key(name=name, scopes=frozenset(Scope(s) for s in scopes),
                                   internal=not public)
    store.close()
    click.echo(f"created key {key.id} '{key.name}': scopes {', '.join(sorted(key.scopes))}; "
               f"internal articles {'hidden' if public else 'visible'}", err=True)
    click.echo("store it now, it is not shown again:", err=True)
    click.echo(secret)


@keys.command("list")
@click.pass_obj
def keys_list(settings: Settings) -> None:
    """List keys (ids and names, never the keys)."""
    store = _store(settings)
    for key in store.list_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.id}  {key.name:<24} {','.join(sorted(key.scopes)):<14} "
                   f"{'internal' if key.internal else 'public':<9} {state}")
    store.close()


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(settings: Settings, key_id: str) -> None:
    """Revoke a key by its id (the part after "dm_")."""
    store = _store(settings)
    revoked = store.revoke_key(key_id=key_id)
    store.close()
    if not revoked:
        raise click.ClickException(f"no active key with id {key_id!r}; see `deskmate keys list`")
    click.echo(f"revoked {key_id}; services stop accepting it within seconds")


@main.command()
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC).")
@click.option("--lang", help="Only searches in this language.")
@click.option("--csv", "csv_table", type=click.Choice(list(table_names())),
              help="Print one table as CSV instead.")
@click.pass_obj
def report(settings: Settings, since: datetime | None, until: datetime | None, lang: str | None,
           csv_table: str | None) -> None:
    """What agents searched for and did not find, what helped, what is stale."""
    store = _store(settings)
    try:
        searcher = load_searcher(settings, load_encoder(settings.model_spec(serving=True)))
        period = period_of(since.date() if since else None, until.date() if until else None,
                           lang)
        result = build_report(store, searcher, period, limit=None if csv_table else REPORT_ROWS,
                              only=csv_table)
    except DeskmateError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    if csv_table:
        click.echo(csv_text(result["tables"][csv_table]), nl=False)
        return
    from app.report import print_report  # rich: the terminal's alone, not the service's

    print_report(result)


def _print_outcome(outcome: SearchOutcome) -> None:
    click.echo(f"{len(outcome.hits)} results · query language {outcome.query_lang} · "
               f"{outcome.took_ms:.1f} ms · index {outcome.index_version}")
    if outcome.no_good_match:
        click.secho("No good match: these are the closest candidates.", fg="yellow")
    for rank, hit in enumerate(outcome.hits, start=1):
        badges = [hit.article.lang, f"{hit.score:.2f}"]
        badges += ["stale"] if hit.stale else []
        badges += ["internal"] if hit.article.audience is Audience.INTERNAL else []
        click.echo(f"\n{rank}. {click.style(hit.article.title, bold=True)}  [{', '.join(badges)}]")
        click.echo(f"   {hit.chunk.section_label}")
        click.echo(f"   {_highlighted(hit.snippet, hit.highlights)}")
        click.echo(f"   /v1/articles/{hit.article.id}#{hit.chunk.anchor}")


def _highlighted(snippet: str, highlights: tuple[tuple[int, int], ...]) -> str:
    parts, last = [], 0
    for start, end in highlights:
        parts += [snippet[last:start], click.style(snippet[start:end], bold=True, underline=True)]
        last = end
    return "".join(parts) + snippet[last:]


if __name__ == "__main__":
    main()
