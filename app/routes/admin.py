"""Admin API: reindex jobs, the live index, uploading and removing articles."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from app.deps import AdminKeyDep, SearcherDep, ServiceState, StateDep
from app.errors import BadRequest, NotFound
from app.jobs import Job
from app.schemas import ArticleWriteOut, IndexOut, JobOut
from indexer import snapshot
from indexer.errors import ArticleError
from indexer.parse import parse_article, split_front_matter

router = APIRouter(tags=["admin"], prefix="/v1/admin")

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "API key required (problem+json)"},
    403: {"description": "The key lacks the admin scope (problem+json)"},
}


def job_out(job: Job) -> JobOut:
    return JobOut(id=job.id, reason=job.reason, state=job.state.value, phase=job.phase,
                  done=job.done, total=job.total, errors=job.errors, created_at=job.created_at,
                  started_at=job.started_at, finished_at=job.finished_at,
                  duration_seconds=job.duration_seconds, version=job.version,
                  embedded=job.embedded, error=job.error, worker_pid=job.worker_pid,
                  url=f"/v1/admin/jobs/{job.id}")


@router.post("/reindex", status_code=202, response_model=JobOut,
             responses={**PROBLEMS, 409: {"description": "A build is running (problem+json)"}})
def reindex(_: AdminKeyDep, state: StateDep) -> JobOut:
    """Rebuild the index from the KB directory in the background; 409 while one runs."""
    return job_out(state.jobs.submit("reindex", coalesce=False))


@router.get("/jobs/{job_id}", response_model=JobOut, responses=PROBLEMS)
def get_job(_: AdminKeyDep, job_id: str, state: StateDep) -> JobOut:
    """State, phase, progress, skipped files and outcome of a build."""
    job = state.jobs.get(job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}; jobs are kept in memory until the service restarts")
    return job_out(job)


@router.get("/index", response_model=IndexOut, responses=PROBLEMS)
def index_info(_: AdminKeyDep, searcher: SearcherDep, state: StateDep) -> IndexOut:
    """The live snapshot: version, model, counts per language, build errors, stale articles."""
    manifest = searcher.snapshot.manifest
    today = date.today()
    stale = len(searcher.snapshot.articles.stale_ids(today))
    return IndexOut(version=searcher.snapshot.version, created_at=manifest["created_at"],
                    model=manifest["model"], counts=manifest["counts"], errors=manifest["errors"],
                    build_seconds=manifest["build_seconds"], stale_articles=stale,
                    retained=snapshot.list_versions(state.settings.index_path))


@router.put("/articles/{article_id:path}", status_code=202, response_model=ArticleWriteOut,
            responses={**PROBLEMS, 413: {"description": "Over the upload limit"},
                       422: {"description": "Invalid article (problem+json)"}})
async def put_article(_: AdminKeyDep, article_id: str, request: Request,
                      state: StateDep) -> ArticleWriteOut:
    """Create or replace one article (Markdown with front matter; validated before it is
    written), then rebuild incrementally. Edits during a build coalesce into one more build."""
    body = await request.body()
    settings = state.settings
    relative = _article_path(state, article_id, body, settings.default_lang)
    _write_atomically(settings.kb_dir / relative, body)
    job = state.jobs.submit(f"article {article_id} updated", coalesce=True)
    return ArticleWriteOut(article_id=article_id, path=relative, job=job_out(job))


@router.delete("/articles/{article_id:path}", status_code=202, response_model=ArticleWriteOut,
               responses=PROBLEMS)
def delete_article(_: AdminKeyDep, article_id: str, searcher: SearcherDep,
                   state: StateDep) -> ArticleWriteOut:
    """Remove one article's file from the KB, then rebuild incrementally."""
    article = searcher.snapshot.articles.get(article_id)
    path = state.settings.kb_dir / article.path if article else None
    if article is None or path is None or not path.is_file():
        raise NotFound(f"no article with id {article_id!r} in the live index")
    path.unlink()
    job = state.jobs.submit(f"article {article_id} deleted", coalesce=True)
    return ArticleWriteOut(article_id=article_id, path=article.path, job=job_out(job))


def _article_path(state: ServiceState, article_id: str, body: bytes, default_lang: str) -> str:
    """Where the article goes: its current file, else ``<lang>/<id>.md``.

    Raises:
        BadRequest: the body is not a valid article with this id.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the article is not UTF-8 text (byte at offset {exc.start}); "
                         "send it as UTF-8") from exc
    if len(body) > state.settings.max_article_bytes:
        raise BadRequest(f"the article is {len(body):,} bytes, over the "
                         f"{state.settings.max_article_bytes:,}-byte limit")
    live = state.live.searcher
    existing = live.snapshot.articles.get(article_id) if live else None
    relative = existing.path if existing else None
    try:
        article = parse_article(text, default_id=article_id, default_lang=default_lang,
                                path=relative or f"{article_id}.md")
    except ArticleError as exc:
        raise BadRequest(f"invalid article: {exc}") from exc
    if article.id != article_id:
        raise BadRequest(f"the front matter says id {article.id!r} but the URL says "
                         f"{article_id!r}; make them match")
    if relative:
        return relative
    # Without an id in the front matter the id is the path, so the path must be the id.
    return f"{article.lang}/{article_id}.md" if "id" in split_front_matter(text)[0] \
        else f"{article_id}.md"


def _write_atomically(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
