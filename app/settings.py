"""Deskmate settings: one object, from ``DESKMATE_*`` environment variables, built at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.embed import ModelSpec


class Settings(BaseSettings):
    """Every knob of the service, the CLI and the indexer, with working defaults.

    Relative paths are taken from the working directory, so the defaults work from
    a fresh clone: the sample ``kb/`` and a git-ignored ``var/``.
    """

    model_config = SettingsConfigDict(env_prefix="DESKMATE_", extra="forbid")

    kb_dir: Path = Path("kb")
    """Directory of Markdown articles."""
    data_dir: Path = Path("var")
    """Where the index, the embedding cache and the database live."""
    index_dir: Path | None = None
    """Index directory; default ``<data_dir>/index``."""
    model: str = "default"
    """``default`` (bundled all-MiniLM-L6-v2), a local model directory, or a cached name."""
    model_languages: Annotated[list[str], NoDecode] = []
    """Languages the model understands (comma-separated; ``*`` for all); empty: its model card."""
    query_prompt: str = ""
    """Text put before every query, for models trained with prompts (e5: ``query: ``)."""
    passage_prompt: str = ""
    """Text put before every chunk (e5: ``passage: ``)."""
    device: str = "cpu"
    """Torch device used to encode (``cpu``, ``cuda``)."""
    encoder_threads: int = Field(1, ge=0)
    """Encoder threads while serving; 1 avoids oversubscribing cores under load."""
    build_threads: int = Field(0, ge=0)
    """Encoder threads while building (0: all cores)."""
    backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    """Embedding backend on the CPU: ``onnx-int8`` (default: dynamic int8 for this CPU's
    instruction set, ~2× faster than torch, parity checked by the tests), ``onnx`` (fp32,
    same numbers as torch) or ``torch``. ONNX exports are made once into
    ``<data_dir>/models``; a non-CPU ``device`` always uses torch."""
    query_cache_size: int = Field(1024, ge=0)
    """Query embeddings kept in memory (LRU) for repeated searches; 0 turns it off."""
    dense_exact_max: int = Field(50_000, ge=0)
    """Chunks up to which dense search is exact (FAISS flat); above it an IVF index is built."""
    host: str = "127.0.0.1"
    """Address the service listens on."""
    port: int = Field(8000, ge=1, le=65535)
    """Port the service listens on."""
    default_lang: str = "en"
    """Language of articles whose front matter has no ``lang``."""
    max_article_bytes: int = Field(1 << 20, gt=0)
    """Articles over this size are skipped and reported."""
    chunk_tokens: int = Field(0, ge=0)
    """Token budget per chunk (0: the model's maximum sequence length)."""
    overlap_tokens: int = Field(32, ge=0)
    """Tokens repeated between consecutive chunks of a long section."""
    batch_size: int = Field(32, gt=0)
    """Chunks per encoder batch while building."""
    keep_snapshots: int = Field(3, ge=1)
    """Published snapshots retained for rollback."""
    candidates: int = Field(100, ge=10)
    """Chunks each retriever (dense, BM25) hands to fusion."""
    rrf_k: float = Field(10.0, gt=0)
    """Reciprocal-rank-fusion constant: higher flattens the rank weights."""
    dense_weight: float = Field(1.5, ge=0)
    """Fusion weight of the dense ranking for languages the model covers."""
    language_dense_weights: dict[str, float] = {}
    """Per-language dense weights overriding the two above, as JSON: ``{"pl": 0.4}``."""
    lexical_weight: float = Field(1.0, ge=0)
    """Fusion weight of the BM25 ranking."""
    uncovered_dense_weight: float = Field(0.0, ge=0)
    """Fusion weight of the dense ranking for query languages the model does not cover."""
    min_similarity: float = 0.58
    """Below this cosine the dense evidence for the top result counts as weak."""
    min_coverage: float = Field(0.38, ge=0, le=1)
    """Below this IDF-weighted share of query words found in the top result, lexical evidence
    counts as weak. A search is ``no_good_match`` when both are weak."""
    frame_ancestors: Annotated[list[str], NoDecode] = ["'self'", "chrome-extension:"]
    """Who may embed the sidebar in a frame (CSP frame-ancestors), comma-separated:
    add your helpdesk's origin, e.g. ``'self',chrome-extension:,https://acme.zendesk.com``."""
    snippet_chars: int = Field(240, ge=60)
    """Target snippet length in characters."""
    log_level: str = "info"
    """Python logging level."""
    log_json: bool = False
    """Log JSON lines (one object per record, with the request id) instead of text."""
    database_url: str | None = None
    """SQLAlchemy URL of the store; default SQLite ``<data_dir>/deskmate.sqlite3``."""
    allow_anonymous: bool | None = None
    """Unset: anonymous callers may do everything only on loopback with no keys. ``true``:
    anonymous callers may search public articles anywhere. ``false``: never."""
    cors_origins: Annotated[list[str], NoDecode] = []
    """Origins (helpdesk domains) allowed to call the API from a browser, comma-separated."""
    rate_limit_per_minute: int = Field(600, ge=0)
    """Requests a minute per API key (anonymous: per client address); 0 turns it off."""
    rate_limit_burst: int = Field(60, ge=1)
    """Requests a caller may make at once before the per-minute rate applies."""
    max_request_bytes: int = Field(16 * 1024, gt=0)
    """Largest request body (search and other JSON requests)."""
    max_upload_bytes: int = Field(2 * 1024 * 1024, gt=0)
    """Largest article upload (PUT /v1/admin/articles)."""
    mask_queries: bool = True
    """Mask e-mail addresses, phone numbers and 6+ digit runs in logged query text."""
    retention_days: int = Field(180, ge=0)
    """Searches, feedback and events older than this are purged (0: keep forever)."""
    feedback_boost: float = Field(0.0, ge=0, le=0.1)
    """Let agents' helpful votes break near-ties: at most ± this on the 0–1 score (0: off)."""
    reload_seconds: float = Field(2.0, ge=0)
    """How often the service checks for a snapshot published elsewhere (0: never)."""

    @field_validator("model_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("frame_ancestors", "cors_origins", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("default_lang")
    @classmethod
    def _known_shape(cls, value: str) -> str:
        if not value.replace("-", "").isalnum():
            raise ValueError(f"default_lang {value!r} is not a language tag such as 'en'")
        return value.lower()

    @model_validator(mode="after")
    def _derive_dirs(self) -> Settings:
        if self.index_dir is None:
            self.index_dir = self.data_dir / "index"
        if self.overlap_tokens and self.chunk_tokens and self.overlap_tokens * 2 >= self.chunk_tokens:
            raise ValueError(
                f"overlap_tokens={self.overlap_tokens} must be below half of "
                f"chunk_tokens={self.chunk_tokens}")
        return self

    @property
    def index_path(self) -> Path:
        assert self.index_dir is not None  # set by _derive_dirs
        return self.index_dir

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "cache" / "embeddings.sqlite"

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'deskmate.sqlite3').resolve()}"

    def model_spec(self, *, serving: bool) -> ModelSpec:
        """How to load the model, for the service (``serving``) or for a build."""
        return ModelSpec(
            name=self.model,
            device=self.device,
            threads=self.encoder_threads if serving else self.build_threads,
            query_prompt=self.query_prompt,
            passage_prompt=self.passage_prompt,
            languages=tuple(self.model_languages),
            backend=self.backend,
            model_cache=self.data_dir / "models",
            query_cache=self.query_cache_size if serving else 0,
        )
