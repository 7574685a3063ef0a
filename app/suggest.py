"""Answers for a whole ticket: clean it, search its parts through the one Searcher, fuse per article.

The whole cleaned ticket, its subject and each body passage are searched separately with
:meth:`Searcher.search` (no second search path); their article rankings are fused with
weighted reciprocal-rank fusion, language versions of one article counting as one answer.
Then articles already sent are dropped, each answer is pinned to the customer's language
when a translation exists, and its passage is chosen — never from an internal section for
callers that may not see them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from app.errors import BadRequest
from app.fuse import Ranking, reciprocal_rank_fusion
from app.search import Filters, Searcher, SearchOutcome
from app.snippet import NOT_HIGHLIGHTED, collapse_space, make_snippet
from app.ticket import CleanTicket, clean_ticket, detect_language, split_passages
from indexer.analyze import normalize
from indexer.records import Article, Audience, Chunk, Hit

TICKET_QUERY_CHARS = 1000


class PartKind(StrEnum):
    TICKET = "ticket"
    """Subject and body together, as one query."""
    SUBJECT = "subject"
    PASSAGE = "passage"


_PART_ORDER = {PartKind.TICKET: 0, PartKind.SUBJECT: 1, PartKind.PASSAGE: 2}


class LangSource(StrEnum):
    """Where the customer's language came from."""

    GIVEN = "given"
    DETECTED = "detected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SuggestConfig:
    """How much each part of a ticket counts (benchmarked in bench/suggest_quality.py)."""

    ticket_weight: float = 1.0
    """The cleaned subject and body as one query."""
    subject_weight: float = 1.0
    """The subject alone: it names the problem in few words, and long bodies must not drown it."""
    passage_weight: float = 1.0
    """All passages of the body together (each gets its share): a question in the third
    paragraph still counts."""
    weak_factor: float = 0.5
    """Weight multiplier of a part whose own search found no good match (a story, not a question)."""
    clean: bool = True
    """Strip e-mail noise first (off only for the benchmark's ablation)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a helpdesk plugin sends."""

    subject: str
    body: str
    customer_lang: str | None = None
    agent_lang: str | None = None
    tags: tuple[str, ...] = ()
    product: tuple[str, ...] = ()
    exclude_article_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueryPart:
    """One query made from a ticket."""

    kind: PartKind
    index: int
    """Passage number from 1; 0 for the subject."""
    text: str
    weight: float


@dataclass(frozen=True, slots=True)
class PartMatch:
    """A query part that found the article, and at which rank (from 1)."""

    part: QueryPart
    rank: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One answer for a ticket."""

    article: Article
    chunk: Chunk
    """The passage's chunk; never from an internal section unless the caller may see them."""
    score: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    passage: str
    """The whole chunk as plain text: what an agent copies into the reply."""
    internal: bool
    """The passage comes from an internal section (agents only, not for customers)."""
    stale: bool
    matched_terms: tuple[str, ...]
    """Words of the snippet that matched the ticket."""
    matched_parts: tuple[PartMatch, ...]
    translations: dict[str, str]
    """Other language versions the caller may see: language → article id."""
    pinned_from: str | None
    """The article that matched when a translation in the customer's language replaced it."""
    agent_article_id: str | None
    """The version in the agent's language, when it differs from ``article``."""


@dataclass(frozen=True, slots=True)
class SuggestOutcome:
    ticket: CleanTicket
    parts: tuple[QueryPart, ...]
    customer_lang: str | None
    lang_source: LangSource
    suggestions: list[Suggestion]
    no_good_match: bool
    took_ms: float
    index_version: str

    def hits(self) -> list[Hit]:
        """The suggestions as search hits (for the search log)."""
        return [Hit(s.article, s.chunk, s.score, s.snippet, s.highlights, s.stale)
                for s in self.suggestions]


@dataclass(frozen=True, slots=True)
class Access:
    """What the caller may see."""

    audiences: tuple[Audience, ...] = ()
    """Audience filter (empty: all)."""
    internal_sections: bool = True
    """Whether text from sections listed in ``internal_sections`` may be returned."""

    def sees(self, article: Article) -> bool:
        return not self.audiences or article.audience in self.audiences


@dataclass(slots=True)
class _Group:
    """Language versions of one article and the parts that found any of them."""

    best: list[tuple[float, Hit, PartMatch]] = field(default_factory=list)


def suggest(searcher: Searcher, ticket: Ticket, *, k: int = 5, access: Access = Access(),
            config: SuggestConfig = SuggestConfig(), today: date | None = None,
            priors: Mapping[str, float] | None = None) -> SuggestOutcome:
    """Rank articles answering ``ticket``; ``priors`` go to every search (helpful rates).

    Raises:
        BadRequest: nothing is left of the ticket once its e-mail noise is removed.
    """
    started = time.perf_counter()
    clean = clean_ticket(ticket.subject, ticket.body) if config.clean else _raw(ticket)
    parts = query_parts(clean, config)
    if not parts:
        raise BadRequest("the ticket has no text left once greetings, signatures and quoted "
                         "replies are removed; send the customer's message in subject or body")
    lang, source = customer_language(ticket.customer_lang, clean, searcher.languages)
    filters = Filters(tags=ticket.tags, product=ticket.product, audience=access.audiences)
    excluded = {_root(searcher.snapshot.articles[a]) for a in ticket.exclude_article_ids
                if a in searcher.snapshot.articles}
    depth = 3 * k + 4 * len(excluded) + 5
    outcomes = [searcher.search(p.text, k=depth, filters=filters, today=today, priors=priors)
                for p in parts]
    parts = tuple(_weakened(p, o, config) for p, o in zip(parts, outcomes, strict=True))
    groups, fused = _fuse(searcher, parts, outcomes, excluded)
    scale = sum(p.weight / (searcher.config.rrf_k + 1) for p, o in zip(parts, outcomes, strict=True)
                if o.hits) or 1.0
    picker = _Picker(searcher, parts, access, lang, ticket.agent_lang, today or date.today())
    suggestions: list[Suggestion] = []
    for root in sorted(fused, key=lambda r: (-fused[r], r)):
        found = picker.pick(groups[root], round(min(fused[root] / scale, 1.0), 4))
        if found is not None:
            suggestions.append(found)
        if len(suggestions) == k:
            break
    return SuggestOutcome(
        ticket=clean, parts=parts, customer_lang=lang, lang_source=source,
        suggestions=suggestions,
        no_good_match=not suggestions or all(o.no_good_match for o in outcomes),
        took_ms=(time.perf_counter() - started) * 1000, index_version=searcher.snapshot.version)


def _raw(ticket: Ticket) -> CleanTicket:
    body = ticket.body.strip()
    return CleanTicket(" ".join(ticket.subject.split()), body, split_passages(body))


def query_parts(clean: CleanTicket, config: SuggestConfig = SuggestConfig()) -> tuple[QueryPart, ...]:
    """The whole ticket, the subject and each passage of the body, as weighted queries."""
    parts = []
    whole = clean.text[:TICKET_QUERY_CHARS]
    if config.ticket_weight > 0 and whole:
        parts.append(QueryPart(PartKind.TICKET, 0, whole, config.ticket_weight))
    if config.subject_weight > 0 and clean.subject:
        parts.append(QueryPart(PartKind.SUBJECT, 0, clean.subject, config.subject_weight))
    if config.passage_weight > 0 and clean.passages:
        # Many passages share the weight: a long story must not outvote the subject.
        weight = round(config.passage_weight / math.sqrt(len(clean.passages)), 4)
        parts += [QueryPart(PartKind.PASSAGE, n, text, weight)
                  for n, text in enumerate(clean.passages, start=1)]
    return _merged(parts)


def _merged(parts: list[QueryPart]) -> tuple[QueryPart, ...]:
    """One search per distinct text (a subject-only ticket is its subject): weights add up."""
    by_text: dict[str, QueryPart] = {}
    for part in parts:
        first = by_text.get(part.text)
        by_text[part.text] = part if first is None else QueryPart(
            first.kind, first.index, first.text, first.weight + part.weight)
    return tuple(by_text.values())


def _weakened(part: QueryPart, outcome: SearchOutcome, config: SuggestConfig) -> QueryPart:
    if not outcome.no_good_match:
        return part
    return QueryPart(part.kind, part.index, part.text, part.weight * config.weak_factor)


def customer_language(given: str | None, clean: CleanTicket,
                      indexed: Sequence[str]) -> tuple[str | None, LangSource]:
    """The customer's language: as given, else detected from the ticket's text."""
    if given:
        return given.lower(), LangSource.GIVEN
    detected = detect_language(clean.text, indexed)
    return (detected, LangSource.DETECTED) if detected else (None, LangSource.UNKNOWN)


def _root(article: Article) -> str:
    """The id every language version of an article shares: the original's."""
    return article.translation_of or article.id


def _fuse(searcher: Searcher, parts: Sequence[QueryPart], outcomes: Sequence[SearchOutcome],
          excluded: set[str]) -> tuple[dict[str, _Group], dict[str, float]]:
    """Per part, the ranking of article groups (by their best version); fused over parts."""
    groups: dict[str, _Group] = {}
    numbers: dict[str, int] = {}
    rankings: list[Ranking] = []
    for part, outcome in zip(parts, outcomes, strict=True):
        order: list[int] = []
        for hit in outcome.hits:
            root = _root(hit.article)
            if root in excluded or numbers.get(root, -1) in order:
                continue
            number = numbers.setdefault(root, len(numbers))
            order.append(number)
            match = PartMatch(part, len(order))
            groups.setdefault(root, _Group()).best.append((part.weight / len(order), hit, match))
        rankings.append(Ranking(order, part.weight))
    fused = reciprocal_rank_fusion(rankings, searcher.config.rrf_k)
    by_number = {number: root for root, number in numbers.items()}
    return groups, {by_number[n]: score for n, score in fused.items()}


class _Picker:
    """Chooses the version and the passage of each fused answer."""

    def __init__(self, searcher: Searcher, parts: Sequence[QueryPart], access: Access,
                 lang: str | None, agent_lang: str | None, today: date) -> None:
        self.searcher = searcher
        self.access = access
        self.lang = lang
        self.agent_lang = agent_lang.lower() if agent_lang else None
        self.today = today
        languages = searcher.languages
        self.terms = frozenset(
            term for part in parts for word in searcher.analyzer.words(part.text, languages)
            if normalize(part.text[word.start:word.end]) not in NOT_HIGHLIGHTED
            for term in word.terms)

    def pick(self, group: _Group, score: float) -> Suggestion | None:
        group.best.sort(key=lambda item: -item[0])
        matched = group.best[0][1].article
        versions = self._versions(matched)
        chosen = self.searcher.snapshot.articles[self._choose(matched, versions)]
        passage = self._passage(chosen, group)
        if passage is None:
            return None
        chunk, snippet, highlights = passage
        agent = _version_in(versions, self.agent_lang) if self.agent_lang else None
        return Suggestion(
            article=chosen, chunk=chunk, score=score, snippet=snippet, highlights=highlights,
            passage=collapse_space(chunk.text), internal=chunk.anchor in chosen.internal_sections,
            stale=chosen.is_stale(self.today),
            matched_terms=_matched_words(snippet, highlights),
            matched_parts=tuple(sorted((m for _, _, m in group.best),
                                       key=lambda m: (_PART_ORDER[m.part.kind], m.part.index))),
            translations={lang: i for lang, i in versions.items() if i != chosen.id},
            pinned_from=matched.id if chosen.id != matched.id else None,
            agent_article_id=agent if agent != chosen.id else None,
        )

    def _choose(self, matched: Article, versions: dict[str, str]) -> str:
        """The customer's language; else the agent's; else the original; else what matched."""
        for lang in (self.lang, self.agent_lang):
            if lang and (version := _version_in(versions, lang)) is not None:
                return version
        original = _root(matched)
        return original if original in versions.values() else matched.id

    def _versions(self, article: Article) -> dict[str, str]:
        """Every language version of ``article`` the caller may see, itself included."""
        articles = self.searcher.snapshot.articles
        versions = {lang: i for lang, i in self.searcher.translations(article.id).items()
                    if self.access.sees(articles[i])}
        return versions | {article.lang: article.id}

    def _passage(self, article: Article,
                 group: _Group) -> tuple[Chunk, str, tuple[tuple[int, int], ...]] | None:
        """The best hit's chunk of ``article`` the caller may see, else its best visible chunk."""
        hits = [hit for _, hit, _ in group.best if hit.article.id == article.id]
        for hit in hits:
            if self._allowed(article, hit.chunk):
                return hit.chunk, hit.snippet, hit.highlights
        allowed = [c for c in self.searcher.chunks_of(article.id) if self._allowed(article, c)]
        if not allowed:
            return None
        # Most ticket words first; then (a translation in another script shares none) the
        # chunk at the same relative place as the one that matched in the other version.
        where = _relative_place(self.searcher, group.best[0][1].chunk)
        scored = [(self._overlap(article, c), -abs(_relative_place(self.searcher, c) - where), c)
                  for c in allowed]
        best_overlap, _, best = max(scored, key=lambda item: item[:2])
        if best_overlap == 0 and hits:
            return None  # it matched only in text this caller may not see
        text = collapse_space(best.text)
        words = self.searcher.analyzer.words(text, (article.lang,))
        snippet = make_snippet(text, words, self.terms, self.searcher.config.snippet_chars)
        return best, snippet.text, snippet.highlights

    def _allowed(self, article: Article, chunk: Chunk) -> bool:
        return self.access.internal_sections or chunk.anchor not in article.internal_sections

    def _overlap(self, article: Article, chunk: Chunk) -> int:
        words = self.searcher.analyzer.words(chunk.text, (article.lang,))
        return len({t for w in words for t in w.terms if t in self.terms})


def _relative_place(searcher: Searcher, chunk: Chunk) -> float:
    """Where a chunk sits in its article, from 0 (first) to 1 (last)."""
    return chunk.position / max(1, searcher.chunk_count(chunk.article_id) - 1)


def _version_in(versions: dict[str, str], lang: str) -> str | None:
    """The version in ``lang``: the exact tag, else the same primary language (pt-br ~ pt)."""
    if lang in versions:
        return versions[lang]
    primary = lang.split("-")[0]
    return next((i for code, i in sorted(versions.items()) if code.split("-")[0] == primary), None)


def _matched_words(snippet: str, highlights: Iterable[tuple[int, int]]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for start, end in highlights:
        word = snippet[start:end]
        seen.setdefault(normalize(word), word)
    return tuple(seen.values())


