"""``GET /v1/articles/{id}``."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from app.deps import SearcherDep, SearchKeyDep
from app.errors import NotFound
from app.render import render_html
from app.schemas import ArticleOut, SectionOut
from indexer.records import Audience

router = APIRouter(tags=["articles"])


@router.get("/v1/articles/{article_id:path}", response_model=ArticleOut,
            responses={404: {"description": "Unknown article (problem+json)"}})
def get_article(principal: SearchKeyDep, article_id: str, searcher: SearcherDep) -> ArticleOut:
    """One article: metadata, Markdown and safe HTML with section anchors."""
    article = searcher.snapshot.articles.get(article_id)
    if article is None or (article.audience is Audience.INTERNAL and not principal.internal):
        raise NotFound(f"no article with id {article_id!r} in index {searcher.snapshot.version}")
    internal = set(article.internal_sections)
    return ArticleOut(
        id=article.id, title=article.title, lang=article.lang, tags=list(article.tags),
        product=article.product, audience=article.audience, owner=article.owner,
        updated=article.updated, verified=article.verified,
        review_every_days=article.review_every_days, stale=article.is_stale(date.today()),
        translation_of=article.translation_of,
        translations=searcher.translations(article.id), url=f"/v1/articles/{article.id}",
        sections=[SectionOut(anchor=s.anchor, heading_path=list(s.heading_path), level=s.level,
                             internal=s.anchor in internal, text=s.text)
                  for s in article.sections],
        markdown=article.markdown, html=render_html(article.markdown),
    )
