"""The Searcher: the one search path for the API, the CLI, the sidebar and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from app.fuse import Ranking, best_possible, reciprocal_rank_fusion
from app.language import LanguageGuesser
from app.snippet import NOT_HIGHLIGHTED, collapse_space, matched_positions, snippet_around, term_positions
from indexer.analyze import Analyzer, Word, method_cache, normalize
from indexer.embed import Encoder
from indexer.errors import ModelMismatch
from indexer.records import Audience, Chunk, Hit
from indexer.snapshot import Snapshot


class Mode(StrEnum):
    """Which retrievers a search uses; only benchmarks and debugging pick one."""

    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"


@dataclass(frozen=True, slots=True)
class Filters:
    """Values allowed per field (any of them); fields combine with AND. Empty: no filter."""

    lang: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    product: tuple[str, ...] = ()
    audience: tuple[Audience, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """Ranking knobs (from Settings)."""

    candidates: int = 100
    rrf_k: float = 10.0
    dense_weight: float = 1.5
    lexical_weight: float = 1.0
    uncovered_dense_weight: float = 0.0
    language_dense_weights: Mapping[str, float] = field(default_factory=dict)
    min_similarity: float = 0.58
    min_coverage: float = 0.38
    snippet_chars: int = 240
    default_lang: str = "en"
    feedback_boost: float = 0.0


@dataclass(frozen=True, slots=True)
class Evidence:
    """How strongly the top result is supported, for the no-good-match rule."""

    similarity: float | None
    """Best cosine of the top article's chunks; None when dense retrieval did not run."""
    coverage: float
    """IDF-weighted share of query words found in the top result's best chunk."""


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    query: str
    query_lang: str
    hits: list[Hit]
    no_good_match: bool
    evidence: Evidence | None
    took_ms: float
    index_version: str


@dataclass(slots=True)
class _Query:
    text: str
    lang: str
    words: list[Word]
    terms: list[str] = field(default_factory=list)


class Searcher:
    """Hybrid search over one immutable snapshot; safe to share between threads."""

    def __init__(self, snapshot: Snapshot, encoder: Encoder, config: SearchConfig,
                 analyzer: Analyzer | None = None) -> None:
        check_model(snapshot, encoder)
        self.snapshot = snapshot
        self.encoder = encoder
        self.config = config
        self.analyzer = analyzer or Analyzer()
        # Articles and chunks by position; a record is decoded when a search first reads it.
        self._articles = snapshot.articles.records
        self._article_ids: list[str] = snapshot.articles.columns["id"]
        # Chunk position → article position, as an array (to index masks) and a list (one
        # lookup at a time, where a numpy scalar costs ten times as much).
        self._chunk_article = snapshot.chunk_articles
        self._article_of: list[int] = self._chunk_article.tolist()
        # Each article's chunks: chunk positions sorted by article, and where each run starts.
        self._by_article = np.argsort(self._chunk_article, kind="stable")
        self._article_starts: list[int] = np.searchsorted(
            self._chunk_article[self._by_article], np.arange(len(self._articles) + 1)).tolist()
        self._facets = _facet_index(snapshot.articles.columns)
        self._languages = tuple(sorted(snapshot.lexical.vocab_by_lang))
        self._translations = _translation_groups(snapshot.articles.columns)
        # Words of recently shown chunks (for snippets): popular articles come back in many
        # searches, and analyzing a chunk costs more than the rest of building its hit.
        self._chunk_words = method_cache(self._analyze_chunk, 4096)
        # Filters repeat (a public key always filters by audience): a mask costs a pass
        # over every chunk, so the recent ones are kept.
        self._mask = method_cache(self._filter_mask, 256)
        self._guesser = LanguageGuesser(snapshot.lexical.vocab_by_lang, self.analyzer,
                                        config.default_lang)

    def prepare(self) -> None:
        """Build now what the first searches would otherwise build (the service calls
        this before a snapshot goes live)."""
        self.snapshot.lexical.prepare_corrections()

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    def search(self, query: str, *, k: int = 5, filters: Filters = Filters(),
               mode: Mode = Mode.HYBRID, today: date | None = None,
               priors: Mapping[str, float] | None = None) -> SearchOutcome:
        """Rank articles for ``query``; filters apply before the ranking is cut.

        ``priors`` (article id → helpful rate 0–1) nudge near-ties when the configured
        ``feedback_boost`` is above 0: at most ± boost on the 0–1 score scale.
        """
        started = time.perf_counter()
        lang = self._guesser.guess(query)
        mask = self._mask(filters)
        dense_weight = self._dense_weight(lang, mode)
        if dense_weight > 0 and (mask is None or mask.any()):
            # The model embeds the query on this thread while another parses it and runs BM25.
            vector, (parsed, lexical) = self.encoder.embed_query_beside(
                query, lambda: self._lexical_side(query, lang, mask, mode))
            rankings, similarity = self._with_dense(lexical, vector, mask, dense_weight)
        else:
            parsed, lexical = self._lexical_side(query, lang, mask, mode)
            rankings, similarity = lexical, {}
        articles = reciprocal_rank_fusion(
            [Ranking(self._article_order(r.ids), r.weight) for r in rankings], self.config.rrf_k)
        scale = best_possible(rankings, self.config.rrf_k) or 1.0
        if priors and self.config.feedback_boost > 0:
            self._boost(articles, priors, scale)
        top = sorted(articles, key=lambda a: (-articles[a], a))[:k]
        best_chunks = self._best_chunks(rankings, top)
        today = today or date.today()
        matched = self._highlight_terms(parsed)
        hits = [self._hit(c, articles[a] / scale, matched, today)
                for a, c in zip(top, best_chunks, strict=True)]
        evidence = self._evidence(parsed, best_chunks, similarity) if hits else None
        return SearchOutcome(
            query=query, query_lang=parsed.lang, hits=hits,
            no_good_match=self._no_good_match(evidence),
            evidence=evidence, took_ms=(time.perf_counter() - started) * 1000,
            index_version=self.snapshot.version,
        )

    def _boost(self, articles: dict[int, float], priors: Mapping[str, float],
               scale: float) -> None:
        for index in articles:
            prior = priors.get(self._article_ids[index])
            if prior is not None:
                articles[index] += self.config.feedback_boost * scale * (2 * prior - 1)

    def _parse(self, query: str, lang: str) -> _Query:
        words = [self._corrected(w) for w in self.analyzer.words(query, self._languages)]
        parsed = _Query(query, lang, words)
        parsed.terms = [t for w in words for t in w.terms]
        return parsed

    def _corrected(self, word: Word) -> Word:
        """A word none of whose terms is indexed gets the indexed terms one typo away."""
        lexical = self.snapshot.lexical
        if lexical.known(word.terms):
            return word
        fixes = {fix: None for term in word.terms for fix in lexical.corrections(term)}
        return Word(word.start, word.end, tuple(fixes)) if fixes else word

    def _filter_mask(self, filters: Filters) -> npt.NDArray[np.bool_] | None:
        """The chunks ``filters`` allow; None when nothing is filtered."""
        allowed: npt.NDArray[np.bool_] | None = None
        for name, values in (("lang", filters.lang), ("tags", filters.tags),
                             ("product", filters.product), ("audience", filters.audience)):
            if not values:
                continue
            field_mask = np.zeros(len(self._article_ids), dtype=bool)
            for value in values:
                field_mask[self._facets[name].get(str(value), [])] = True
            allowed = field_mask if allowed is None else allowed & field_mask
        if allowed is None:
            return None
        mask = allowed[self._chunk_article]
        mask.flags.writeable = False  # shared by every search with these filters
        return mask

    def _lexical_side(self, query: str, lang: str, mask: npt.NDArray[np.bool_] | None,
                      mode: Mode) -> tuple[_Query, list[Ranking]]:
        """The parsed query and, unless dense-only, its BM25 ranking."""
        parsed = self._parse(query, lang)
        if mode is Mode.DENSE:
            return parsed, []
        weight = 1.0 if mode is Mode.LEXICAL else self.config.lexical_weight
        ranked = self.snapshot.lexical.top(parsed.terms, self.config.candidates, mask)
        return parsed, [Ranking(ranked.tolist(), weight)]

    def _with_dense(self, lexical: list[Ranking], vector: npt.NDArray[np.float32],
                    mask: npt.NDArray[np.bool_] | None,
                    dense_weight: float) -> tuple[list[Ranking], dict[int, float]]:
        """The dense ranking first, then ``lexical``; and each dense hit's cosine."""
        scores, ids = self.snapshot.dense.search(vector, self.config.candidates, mask)
        chunk_ids = ids.tolist()
        return ([Ranking(chunk_ids, dense_weight), *lexical],
                dict(zip(chunk_ids, scores.tolist(), strict=True)))

    def _dense_weight(self, lang: str, mode: Mode) -> float:
        # By the query's language, not the language filter: an agent may type English
        # while looking for the Russian version.
        if mode is Mode.LEXICAL:
            return 0.0
        if mode is Mode.DENSE:
            return 1.0
        if lang in self.config.language_dense_weights:
            return self.config.language_dense_weights[lang]
        if self.encoder.covers(lang):
            return self.config.dense_weight
        return self.config.uncovered_dense_weight

    def _article_order(self, chunk_ids: Sequence[int]) -> list[int]:
        """Articles in the order their best chunk appears in a chunk ranking."""
        return list(dict.fromkeys(map(self._article_of.__getitem__, chunk_ids)))

    def _best_chunks(self, rankings: list[Ranking], articles: list[int]) -> list[int]:
        """For each article, its chunk with the highest fused score (ties: the first).

        Only the given articles' chunks are scored: fusing every ranked chunk would cost
        a search more than the rest of the fusion.
        """
        k = self.config.rrf_k
        positions = [({c: rank for rank, c in enumerate(r.ids, start=1)}, r.weight)
                     for r in rankings if r.weight > 0]

        def fused(chunk: int) -> tuple[float, int]:
            return sum(w / (k + ranks[chunk]) for ranks, w in positions if chunk in ranks), -chunk

        return [max(self._chunks_of(a), key=fused) for a in articles]

    def _chunks_of(self, article_index: int) -> list[int]:
        start, end = self._article_starts[article_index:article_index + 2]
        return self._by_article[start:end].tolist()  # type: ignore[no-any-return]

    def chunks_of(self, article_id: str) -> list[Chunk]:
        """The chunks of one article, in order."""
        chunks = self.snapshot.chunks
        return [chunks[c] for c in self._chunks_of(self.snapshot.articles.row(article_id))]

    def chunk_count(self, article_id: str) -> int:
        """How many chunks one article has (none is read)."""
        row = self.snapshot.articles.row(article_id)
        return self._article_starts[row + 1] - self._article_starts[row]

    def _highlight_terms(self, query: _Query) -> frozenset[str]:
        """Terms of the query's words, function words ("how", "jak", "и", "از") left out."""
        return frozenset(term for word in query.words
                         if normalize(query.text[word.start:word.end]) not in NOT_HIGHLIGHTED
                         for term in word.terms)

    def _hit(self, chunk_index: int, score: float, matched: frozenset[str], today: date) -> Hit:
        chunk = self.snapshot.chunks[chunk_index]
        article = self._articles[self._article_of[chunk_index]]
        text, words, positions = self._chunk_words(chunk_index)
        snippet = snippet_around(text, words, matched_positions(positions, matched),
                                 self.config.snippet_chars)
        return Hit(article, chunk, round(min(max(score, 0.0), 1.0), 4), snippet.text,
                   snippet.highlights,
                   article.is_stale(today))

    def _analyze_chunk(self, chunk_index: int) -> tuple[str, list[Word], dict[str, list[int]]]:
        """A chunk's text as snippets show it, its words, and where each term is."""
        article = self._articles[self._article_of[chunk_index]]
        text = collapse_space(self.snapshot.chunks[chunk_index].text)
        words = self.analyzer.words(text, (article.lang,))
        return text, words, term_positions(words)

    def _evidence(self, query: _Query, best_chunks: list[int],
                  similarity: dict[int, float]) -> Evidence:
        article_index = self._article_of[best_chunks[0]]
        chunks = self._chunks_of(article_index)
        sims = [similarity[c] for c in chunks if c in similarity]
        dense = max(sims) if sims else (min(similarity.values()) if similarity else None)
        return Evidence(dense, self._coverage(query, np.asarray(chunks)))

    def _coverage(self, query: _Query, chunks: npt.NDArray[np.int64]) -> float:
        """IDF-weighted share of the query's words that occur in the given chunks.

        A word found nowhere in the index weighs as much as the rarest indexed term:
        it usually names the thing the KB does not cover ("bitcoin", "Alexa").
        """
        lexical = self.snapshot.lexical
        total = found = 0.0
        for word in query.words:
            weight = max((lexical.idf(t) for t in word.terms), default=0.0) or lexical.max_idf
            total += weight
            if any(lexical.contains(t, chunks) for t in word.terms):
                found += weight
        return found / total if total else 0.0

    def _no_good_match(self, evidence: Evidence | None) -> bool:
        return no_good_match(evidence, self.config.min_similarity, self.config.min_coverage)

    def translations(self, article_id: str) -> dict[str, str]:
        """Other language versions of an article: language → article id."""
        article = self.snapshot.articles[article_id]
        group = self._translations.get(article.translation_of or article.id, {})
        return {lang: other for lang, other in group.items() if other != article_id}

    def facet_values(self) -> dict[str, list[str]]:
        """Values present in the index per filterable field (for filter menus)."""
        return {name: sorted(values) for name, values in self._facets.items()}


def no_good_match(evidence: Evidence | None, min_similarity: float, min_coverage: float) -> bool:
    """Whether a search has no good match: no hit, or a top hit that is neither close enough
    in meaning nor covers enough of the query's words (bench/quality.py calibrates both)."""
    if evidence is None:
        return True
    dense_ok = evidence.similarity is not None and evidence.similarity >= min_similarity
    return not (dense_ok or evidence.coverage >= min_coverage)


def check_model(snapshot: Snapshot, encoder: Encoder) -> None:
    """Refuse a snapshot built with another model or passage prompt than ``encoder``'s.

    Raises:
        ModelMismatch: with both model ids and how to fix it.
    """
    built = snapshot.manifest.get("model", {})
    if built.get("id") != encoder.model_id:
        raise ModelMismatch(
            f"the index {snapshot.version} was built with model {built.get('id')!r} but the "
            f"service loaded {encoder.model_id!r}; rebuild the index with "
            "`deskmate index build` or set DESKMATE_MODEL to the model it was built with")
    if built.get("passage_prompt", "") != encoder.spec.passage_prompt:
        raise ModelMismatch(
            f"the index {snapshot.version} was built with passage prompt "
            f"{built.get('passage_prompt')!r}, the service uses {encoder.spec.passage_prompt!r}; "
            "rebuild the index or set DESKMATE_PASSAGE_PROMPT to match")


def _facet_index(columns: Mapping[str, list[Any]]) -> dict[str, dict[str, list[int]]]:
    """Field → value → positions of the articles with it (``columns`` of the store)."""
    facets: dict[str, dict[str, list[int]]] = {"lang": {}, "tags": {}, "product": {},
                                               "audience": {}}
    rows = zip(columns["lang"], columns["audience"], columns["product"], columns["tags"],
               strict=True)
    for index, (lang, audience, product, tags) in enumerate(rows):
        facets["lang"].setdefault(lang, []).append(index)
        facets["audience"].setdefault(audience, []).append(index)
        if product:
            facets["product"].setdefault(product, []).append(index)
        for tag in tags:
            facets["tags"].setdefault(tag, []).append(index)
    return facets


def _translation_groups(columns: Mapping[str, list[Any]]) -> dict[str, dict[str, str]]:
    """Original id → {language: article id} for every original and its translations."""
    groups: dict[str, dict[str, str]] = {}
    rows = zip(columns["id"], columns["lang"], columns["translation_of"], strict=True)
    for article_id, lang, original in sorted(rows, key=lambda row: row[2] is not None):
        groups.setdefault(original or article_id, {}).setdefault(lang, article_id)
    return groups
