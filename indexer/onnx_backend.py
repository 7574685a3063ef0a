"""The ONNX Runtime backend: export the model once, quantize it to int8, encode without torch.

The export runs offline from the local model directory (torch's TorchScript-based
ONNX exporter; no hub, no optimum) and is cached under the data directory::

    <cache>/<model slug>/model.onnx              fp32, the whole sentence-transformers
                                                 pipeline (transformer, pooling, normalize)
    <cache>/<model slug>/model-int8-<isa>.onnx   dynamic int8, for this CPU's instruction set
    <cache>/<model slug>/tokenizer.json          the model's fast tokenizer
    <cache>/<model slug>/export.json             what was exported, and the int8 check

Serving then needs only onnxruntime and tokenizers: no torch import, which is most of
a cold start.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import platform
import re
import secrets
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from indexer.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

EXPORT_VERSION = 1
"""Bumped when the export changes: older caches are exported again."""
META = "export.json"
MIN_INT8_COSINE = 0.98
"""An int8 model whose worst probe cosine against fp32 falls below this is not used."""
KEEP_FP32 = re.compile(r"layer\.0/output/dense/MatMul$")
"""MatMuls left in fp32: the first layer's feed-forward output sees the widest activations;
quantizing it cost 0.003 mean cosine on the dev queries, keeping it costs ~5 % speed."""
PROBES = (
    "How do I request a refund?", "thermostat will not connect to wifi error E21",
    "Jak poprosić o zwrot pieniędzy", "Как оформить возврат денег", "بازنشانی رمز عبور",
    "Forward the bank's dispute letter to the billing team within two days.",
    "reset password link never arrives in my inbox after I asked three times yesterday",
)

Vectors = npt.NDArray[np.float32]


def quantization_target(machine: str | None = None, flags: frozenset[str] | None = None) -> str:
    """The int8 flavour for this CPU: ``avx512_vnni``, ``avx512``, ``avx2``, ``arm64`` or ``generic``."""
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64"):
        return "arm64"
    flags = _cpu_flags() if flags is None else flags
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        return "avx512_vnni"
    if "avx512bw" in flags:
        return "avx512"
    return "avx2" if "avx2" in flags else "generic"


def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text("utf-8", errors="replace")
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    return frozenset(line.partition(":")[2].split())


def export_dir(cache_dir: Path, model_id: str) -> Path:
    """Where the exports of ``model_id`` live."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_") or "model"
    return cache_dir / slug


def ensure_export(model_path: str, model_id: str, cache_dir: Path, *,
                  int8: bool) -> tuple[Path, dict[str, Any]]:
    """The ONNX file to run (exporting and quantizing on first use) and the export's metadata.

    Safe to call from several processes at once: one exports, the others wait for it.

    Raises:
        ModelError: the export or the quantization failed.
    """
    directory = export_dir(cache_dir, model_id)
    directory.mkdir(parents=True, exist_ok=True)
    with _lock(directory):
        meta = _read_meta(directory, model_id)
        if meta is None:
            meta = _export(model_path, model_id, directory)
        if not int8:
            return directory / "model.onnx", meta
        target = quantization_target()
        key = f"int8-{target}"
        if key not in meta.get("int8", {}):
            meta.setdefault("int8", {})[key] = _quantize(directory, target, meta)
            _write_json(directory / META, meta)
    check = meta["int8"][key]
    if check["min_cosine"] < MIN_INT8_COSINE:
        logger.warning("int8 %s of %s drifts from fp32 (worst probe cosine %.4f < %.2f); "
                       "serving the fp32 ONNX model instead", target, model_id,
                       check["min_cosine"], MIN_INT8_COSINE)
        return directory / "model.onnx", meta
    return directory / check["file"], meta


@contextmanager
def _lock(directory: Path) -> Iterator[None]:
    with (directory / ".export.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_meta(directory: Path, model_id: str) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((directory / META).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    fresh = meta.get("export_version") == EXPORT_VERSION and meta.get("model_id") == model_id
    return meta if fresh and (directory / "model.onnx").is_file() else None


def _write_json(path: Path, body: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    temporary.write_text(json.dumps(body, indent=2), "utf-8")
    os.replace(temporary, path)


def _export(model_path: str, model_id: str, directory: Path) -> dict[str, Any]:
    """Export the full sentence-transformers pipeline to ``model.onnx`` (fp32)."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError(
            f"exporting {model_id} to ONNX needs torch and sentence-transformers: {exc}") from exc
    logger.info("exporting %s to ONNX in %s (once)", model_id, directory)
    model = SentenceTransformer(model_path, device="cpu", local_files_only=True).eval()
    tokenizer = model.tokenizer
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["a short text", "and a somewhat longer text to trace shapes"], padding=True,
                       return_tensors="pt")
    temporary = directory / f".model.{secrets.token_hex(4)}.onnx"
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and exporter deprecation chatter
            torch.onnx.export(
                _pipeline_class()(model, names), tuple(sample[n] for n in names), str(temporary),
                input_names=names, output_names=["embedding"], opset_version=17, dynamo=False,
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}},
            )
        os.replace(temporary, directory / "model.onnx")
    except Exception as exc:
        temporary.unlink(missing_ok=True)
        raise ModelError(f"exporting {model_id} to ONNX failed: {exc}; set DESKMATE_BACKEND=torch") from exc
    tokenizer.backend_tokenizer.save(str(directory / "tokenizer.json"))
    meta = {
        "export_version": EXPORT_VERSION, "model_id": model_id, "inputs": names,
        "max_seq_length": int(model.max_seq_length or 512), "dimension": _dimension(model),
        "pad_id": int(tokenizer.pad_token_id or 0), "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "torch": torch.__version__, "int8": {},
    }
    _write_json(directory / META, meta)
    return meta


def _dimension(model: Any) -> int:
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(dimension())


def _pipeline_class() -> Any:
    import torch

    class Pipeline(torch.nn.Module):
        """Positional tensors in, the sentence embedding out (what the exporter traces)."""

        def __init__(self, model: Any, names: list[str]) -> None:
            super().__init__()
            self.model, self.names = model, names

        def forward(self, *inputs: Any) -> Any:
            return self.model(dict(zip(self.names, inputs, strict=True)))["sentence_embedding"]

    return Pipeline


def _quantize(directory: Path, target: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Dynamic int8 (MatMul weights per channel) for ``target``; returns the file and its check."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = directory / "model.onnx"
    name = f"model-int8-{target}.onnx"
    keep = [n.name for n in onnx.load(str(source), load_external_data=False).graph.node
            if n.op_type == "MatMul" and KEEP_FP32.search(n.name)]
    temporary = directory / f".{name}.{secrets.token_hex(4)}"
    logging.disable(logging.WARNING)  # the quantizer logs every tensor on the root logger
    try:
        quantize_dynamic(
            str(source), str(temporary), weight_type=QuantType.QInt8, per_channel=True,
            # Without VNNI the u8×s8 multiply saturates; 7-bit weights avoid it.
            reduce_range=target not in ("avx512_vnni", "arm64"),
            op_types_to_quantize=["MatMul"], nodes_to_exclude=keep,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(temporary, directory / name)
    except Exception as exc:
        temporary.unlink(missing_ok=True)
        raise ModelError(f"quantizing {meta['model_id']} to int8 failed: {exc}; "
                         "set DESKMATE_BACKEND=onnx or torch") from exc
    finally:
        logging.disable(logging.NOTSET)
    reference = OnnxModel(source, directory, meta, threads=1).encode(PROBES, "", batch_size=8)
    quantized = OnnxModel(directory / name, directory, meta, threads=1).encode(PROBES, "", batch_size=8)
    cosines = (reference * quantized).sum(axis=1)
    logger.info("quantized %s for %s: probe cosine vs fp32 min %.4f", meta["model_id"], target,
                float(cosines.min()))
    return {"file": name, "fp32_kept": keep, "min_cosine": round(float(cosines.min()), 5),
            "mean_cosine": round(float(cosines.mean()), 5)}


@dataclass(frozen=True, slots=True)
class TokenCounter:
    """Counts tokens with a fast tokenizer, special tokens left out; pickles with it."""

    tokenizer: Tokenizer

    def __call__(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))


class OnnxModel:
    """An exported model in an ONNX Runtime session, with the model's fast tokenizer."""

    def __init__(self, path: Path, directory: Path, meta: dict[str, Any], *, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # One intra-op thread per request while serving: requests run in parallel threads
        # (run() releases the GIL), and 2 threads per encode oversubscribe shared cores.
        options.intra_op_num_threads = threads if threads > 0 else (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load the ONNX model {path}: {exc}; delete {directory} "
                             "to export it again") from exc
        self.path = path
        self.name = f"onnx ({path.name})"
        self.dimension = int(meta["dimension"])
        self.max_seq_length = int(meta["max_seq_length"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer_file = directory / "tokenizer.json"
        self._tokenizer = Tokenizer.from_file(str(self._tokenizer_file))
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))

    @cached_property
    def _counter(self) -> TokenCounter:
        """A second tokenizer, untruncated and unpadded, loaded when a build first counts
        (30 ms the service's start does not pay, since only builds count)."""
        from tokenizers import Tokenizer

        counter = Tokenizer.from_file(str(self._tokenizer_file))
        counter.no_truncation()
        counter.no_padding()
        return TokenCounter(counter)

    def token_counter(self) -> Callable[[str], int]:
        return self._counter

    def encode(self, texts: Sequence[str], prompt: str, *, batch_size: int) -> Vectors:
        """Unit vectors, in input order; batches are formed by length to pad little."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            out[batch] = self._run([prompt + texts[i] for i in batch])
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _run(self, texts: list[str]) -> Vectors:
        encodings = (self._tokenizer.encode_batch(texts) if len(texts) > 1
                     else [self._tokenizer.encode(texts[0])])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids,
                 "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                 "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        result = self._session.run(["embedding"], {name: feeds[name] for name in self._inputs})
        vectors: Vectors = np.asarray(result[0], dtype=np.float32)
        return vectors
