"""Analytics for KB owners: what agents searched, what helped, what is missing or stale."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from app.errors import BadRequest
from app.gaps import QueryVectors
from app.search import Searcher
from app.snippet import collapse_space
from app.store import Store, events, feedback, searches
from indexer.records import Article

GAP_SIMILARITY = 0.45
"""Cosine to a topic's centroid above which a query joins it (paraphrases measured
0.53–0.76 with the default model, unrelated questions below 0.2)."""
GAP_TERM_OVERLAP = 0.5
"""Or: share of analyzed terms in common (for languages the model does not cover)."""
REPORT_ROWS = 100
"""Rows per table in a report (the page shows 20; a CSV export has every row). A table of
articles can hold every article of the KB, and each row decodes one (~17 µs, holding the
GIL): at 200k articles the never-used table took 2.1 s and 15 MB of JSON."""
SEARCH_COLUMNS = ("id", "created_at", "query", "lang", "no_good_match", "latency_ms", "results")
"""What a report reads of each logged search: a month of a busy team's log is ~45,000."""


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime
    until: datetime
    lang: str | None = None


@dataclass(slots=True)
class Table:
    """One report table: column names and rows (also exported as CSV)."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    total: int | None = None
    """Rows in the whole table, when ``rows`` holds only the first of them."""

    @property
    def count(self) -> int:
        return len(self.rows) if self.total is None else self.total


@dataclass(slots=True)
class _Topic:
    queries: Counter[str]
    terms: set[str]
    vector: np.ndarray[Any, Any]


DEFAULT_DAYS = 30


def period_of(since: date | None, until: date | None, lang: str | None) -> Period:
    """[since, until] as whole UTC days; default: the last 30 days.

    Raises:
        BadRequest: ``since`` is after ``until``.
    """
    end = until or datetime.now(UTC).date()
    start = since or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadRequest(f"from={start} is after to={end}; swap them")
    return Period(datetime.combine(start, time.min, UTC),
                  datetime.combine(end + timedelta(days=1), time.min, UTC), lang or None)


def normalize_query(text: str) -> str:
    return collapse_space(text).casefold()


@dataclass(slots=True)
class _Searches:
    """What a report needs of a period's logged searches, gathered in one pass over them
    as they stream from the store: a year of a busy team's log is ~540,000 rows, which
    as a list of dicts would take ~1 GB."""

    acted: set[str]
    """Ids of searches followed by a click or a helpful vote."""
    unhelpful: set[str]
    """Ids of searches with an unhelpful vote (their queries are content gaps too)."""
    ids: set[str] | None = None
    """The searches' ids, when kept (to filter votes and clicks by language)."""
    total: int = 0
    weak: int = 0
    succeeded: int = 0
    latencies: list[float] = field(default_factory=list)
    days: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    queries: Counter[str] = field(default_factory=Counter)
    weak_queries: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    shown: Counter[str] = field(default_factory=Counter)

    def add(self, row: dict[str, Any]) -> None:
        weak = bool(row["no_good_match"])
        query = normalize_query(row["query"])
        self.total += 1
        self.weak += weak
        self.succeeded += row["id"] in self.acted
        self.latencies.append(row["latency_ms"])
        day = self.days[row["created_at"].astimezone(UTC).date().isoformat()]
        day[0] += 1
        day[1] += weak
        self.queries[query] += 1
        self.weak_queries[query] += weak
        if weak or row["id"] in self.unhelpful:
            self.missed[query] += 1
        self.shown.update(result["article_id"] for result in row["results"])
        if self.ids is not None:
            self.ids.add(row["id"])


def build_report(store: Store, searcher: Searcher | None, period: Period,
                 today: date | None = None, limit: int | None = REPORT_ROWS,
                 only: str | None = None, vectors: QueryVectors | None = None,
                 give_way: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Summary numbers and the report tables (all, or ``only`` one): the first ``limit`` rows
    of each table of articles (``Table.total`` counts them all), or every row with None.
    ``vectors`` keeps the content gaps' query embeddings for the next report (by default
    they are kept in ``store`` only). ``give_way`` is called in the long loops (see
    :class:`app.activity.GiveWay`)."""
    vectors = QueryVectors(store=store) if vectors is None else vectors
    votes = store.rows(feedback, since=period.since, until=period.until)
    clicks = store.rows(events, since=period.since, until=period.until)
    found = _Searches(acted={c["search_id"] for c in clicks} | {v["search_id"] for v in votes
                                                               if v["helpful"]},
                      unhelpful={v["search_id"] for v in votes if not v["helpful"]},
                      ids=set() if period.lang else None)
    for row in store.stream(searches, since=period.since, until=period.until,
                            columns=SEARCH_COLUMNS,
                            match={"lang": period.lang} if period.lang else None):
        found.add(row)
        give_way()
    if found.ids is not None:
        votes = [v for v in votes if v["search_id"] in found.ids]
        clicks = [c for c in clicks if c["search_id"] in found.ids]
    articles: Mapping[str, Article] = searcher.snapshot.articles if searcher else {}
    builders: dict[str, Callable[[], Table]] = {
        "per_day": lambda: _per_day(found),
        "top_queries": lambda: _top_queries(found),
        "content_gaps": lambda: _content_gaps(found.missed, searcher, vectors, give_way),
        "articles_by_helpfulness": lambda: _helpfulness(votes, articles, limit, give_way),
        "least_helpful": lambda: _helpfulness(votes, articles, limit, give_way, least=True),
        "articles_by_use": lambda: _use(found.shown, clicks, articles, limit, give_way),
        "never_used": lambda: _never_used(found.shown, clicks, articles, limit, give_way),
        "stale_articles": lambda: _stale(searcher, today or date.today(), limit, give_way),
    }
    tables = {name: build() for name, build in builders.items() if only in (None, name)}
    return {"period": {"from": period.since.isoformat(), "to": period.until.isoformat(),
                       "lang": period.lang},
            "summary": _summary(found, votes, clicks), "tables": tables}


def _summary(found: _Searches, votes: list[dict[str, Any]],
             clicks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "searches": found.total,
        "success_rate": _share(found.succeeded, found.total),
        "no_good_match_rate": _share(found.weak, found.total),
        "helpful_rate": _share(sum(1 for f in votes if f["helpful"]), len(votes)),
        "median_latency_ms": round(statistics.median(found.latencies), 2)
        if found.latencies else None,
        "feedback": len(votes),
        "events": len(clicks),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _per_day(found: _Searches) -> Table:
    table = Table(["day", "searches", "no_good_match", "no_good_match_rate"])
    for day, (count, weak) in sorted(found.days.items()):
        table.rows.append([day, count, weak, _share(weak, count)])
    return table


def _top_queries(found: _Searches, limit: int = 20) -> Table:
    table = Table(["query", "searches", "no_good_match_rate"], total=len(found.queries))
    for query, count in found.queries.most_common(limit):
        table.rows.append([query, count, _share(found.weak_queries[query], count)])
    return table


def _content_gaps(missed: Counter[str], searcher: Searcher | None, vectors: QueryVectors,
                  give_way: Callable[[], None], limit: int = 20) -> Table:
    """No-good-match and unhelpful queries, grouped into topics by meaning."""
    table = Table(["topic", "searches", "examples", "nearest_article", "nearest_title", "owner"])
    if not missed or searcher is None:
        return table
    for topic in sorted(group_queries(missed, searcher, vectors, give_way),
                        key=lambda t: -sum(t.queries.values()))[:limit]:
        examples = [q for q, _ in topic.queries.most_common(3)]
        article = _nearest_article(searcher, topic.vector)
        table.rows.append([examples[0], sum(topic.queries.values()), " | ".join(examples),
                           article.id if article else None, article.title if article else None,
                           article.owner if article else None])
    return table


def group_queries(queries: Counter[str], searcher: Searcher, vectors: QueryVectors | None = None,
                  give_way: Callable[[], None] = lambda: None) -> list[_Topic]:
    """Greedy clustering, most frequent first: a query joins the first topic whose centroid
    is close in meaning, or whose terms it largely shares; otherwise it starts a topic."""
    ordered = [q for q, _ in queries.most_common()]
    embedded = (QueryVectors() if vectors is None else vectors).embed(searcher.encoder, ordered)
    topics: list[_Topic] = []
    for query, vector in zip(ordered, embedded, strict=True):
        give_way()
        terms = {t for w in searcher.analyzer.words(query, searcher.languages) for t in w.terms}
        home = next((t for t in topics if _belongs(t, vector, terms)), None)
        if home is None:
            topics.append(_Topic(Counter({query: queries[query]}), terms, vector.copy()))
            continue
        home.queries[query] += queries[query]
        home.terms |= terms
        merged = home.vector + vector
        home.vector = merged / max(float(np.linalg.norm(merged)), 1e-9)
    return topics


def _belongs(topic: _Topic, vector: np.ndarray[Any, Any], terms: set[str]) -> bool:
    if float(topic.vector @ vector) >= GAP_SIMILARITY:
        return True
    union = topic.terms | terms
    return bool(union) and len(topic.terms & terms) / len(union) >= GAP_TERM_OVERLAP


def _nearest_article(searcher: Searcher, vector: np.ndarray[Any, Any]) -> Any:
    _, ids = searcher.snapshot.dense.search(vector.astype(np.float32), 1, None)
    if not len(ids):
        return None
    snapshot = searcher.snapshot  # the chunk's article by position: no chunk record is read
    return snapshot.articles.records[int(snapshot.chunk_articles[int(ids[0])])]


def _helpfulness(votes: list[dict[str, Any]], articles: Mapping[str, Article],
                 limit: int | None, give_way: Callable[[], None], least: bool = False) -> Table:
    """Voted articles by helpful rate, highest first (lowest with ``least``), then by votes."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for vote in votes:
        tally[vote["article_id"]][0] += int(vote["helpful"])
        tally[vote["article_id"]][1] += 1
    sign = 1 if least else -1
    ranked = sorted(tally.items(), key=lambda item: (sign * item[1][0] / item[1][1], -item[1][1]))
    table = Table(["article_id", "title", "owner", "helpful", "votes", "helpful_rate"],
                  total=len(ranked))
    for article_id, (helpful, total) in ranked[:limit]:
        give_way()  # each row decodes an article: ~17 µs
        article = articles.get(article_id)
        table.rows.append([article_id, article.title if article else None,
                           article.owner if article else None, helpful, total,
                           _share(helpful, total)])
    return table


def _use(shown: Counter[str], clicks: list[dict[str, Any]], articles: Mapping[str, Article],
         limit: int | None, give_way: Callable[[], None]) -> Table:
    actions: dict[str, Counter[str]] = defaultdict(Counter)
    for click in clicks:
        actions[click["article_id"]][click["action"]] += 1
    used = sorted(set(shown) | set(actions), key=lambda a: (-sum(actions[a].values()), -shown[a]))
    table = Table(["article_id", "title", "uses", "opened", "copied", "linked", "shown"],
                  total=len(used))
    for article_id in used[:limit]:
        give_way()
        article = articles.get(article_id)
        acts = actions[article_id]
        table.rows.append([article_id, article.title if article else None, sum(acts.values()),
                           acts["open"], acts["copy"], acts["link"], shown[article_id]])
    return table


def _never_used(shown: Counter[str], clicks: list[dict[str, Any]],
                articles: Mapping[str, Article], limit: int | None,
                give_way: Callable[[], None]) -> Table:
    touched = set(shown) | {c["article_id"] for c in clicks}
    unused = sorted(set(articles) - touched)  # ids only: just the rows kept are decoded
    table = Table(["article_id", "title", "lang", "owner"], total=len(unused))
    for article_id in unused[:limit]:
        give_way()
        article = articles[article_id]
        table.rows.append([article_id, article.title, article.lang, article.owner])
    return table


def _stale(searcher: Searcher | None, today: date, limit: int | None,
           give_way: Callable[[], None]) -> Table:
    """Articles past their review date, longest overdue first; only the rows kept are read."""
    articles = searcher.snapshot.articles if searcher else None
    stale = articles.stale_ids(today) if articles else []
    table = Table(["article_id", "title", "owner", "verified", "review_every_days",
                   "overdue_days"], total=len(stale))
    if not articles:
        return table
    for article_id in stale[:limit]:
        give_way()
        article = articles[article_id]
        checked = article.verified or article.updated
        table.rows.append([article.id, article.title, article.owner,
                           checked.isoformat() if checked else None,
                           article.review_every_days, article.overdue_days(today)])
    return table


def csv_text(table: Table, give_way: Callable[[], None] = lambda: None) -> str:
    """The table as CSV (RFC 4180), header first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for start in range(0, len(table.rows), 500):
        writer.writerows(table.rows[start:start + 500])
        give_way()
    return out.getvalue()


def table_names() -> Iterable[str]:
    return ("per_day", "top_queries", "content_gaps", "articles_by_helpfulness",
            "least_helpful", "articles_by_use", "never_used", "stale_articles")
