"""The ONNX backends against torch on the dev set: the exported fp32 model gives torch's
vectors, int8 stays within cosine 0.99 on average (0.97 at worst) and leaves MRR@10
within 0.01, whichever backend built the index. That parity is why an index built
with one backend is served by another (they share the model id)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from threading import current_thread

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from app.main import search_config
from app.search import Mode, Searcher
from app.settings import Settings
from bench.quality import evaluate, load_queries
from indexer.build import BuildOptions, build_snapshot
from indexer.embed import Encoder, ModelSpec, load_encoder
from indexer.errors import ModelError
from indexer.onnx_backend import export_dir, quantization_target
from indexer.snapshot import load_snapshot

ROOT = Path(__file__).resolve().parents[2]
QUERIES = load_queries(ROOT / "bench" / "dev_queries.jsonl")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def int8(models: Path) -> Encoder:
    return load_encoder(ModelSpec(threads=1, backend="onnx-int8", model_cache=models))


@pytest.fixture(scope="module")
def fp32(models: Path) -> Encoder:
    return load_encoder(ModelSpec(threads=1, backend="onnx", model_cache=models))


@pytest.fixture(scope="module")
def sample_kb(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder, int8: Encoder) -> Path:
    """The sample KB built once with torch (``torch/``) and once with int8 (``int8/``)."""
    root = tmp_path_factory.mktemp("sample")
    for name, model in (("torch", encoder), ("int8", int8)):
        build_snapshot(ROOT / "kb", root / name, model, root / f"{name}.sqlite", BuildOptions())
    return root


def searcher(index_dir: Path, encoder: Encoder) -> Searcher:
    return Searcher(load_snapshot(index_dir), encoder, search_config(Settings()))


def texts() -> list[str]:
    return [str(q["q"]) for q in QUERIES]


def chunk_vectors(index_dir: Path) -> npt.NDArray[np.float32]:
    index = faiss.read_index(str(load_snapshot(index_dir).path / "dense.faiss"))
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def test_the_fp32_export_gives_torchs_vectors(encoder: Encoder, fp32: Encoder) -> None:
    cosine = (encoder.embed_queries(texts()) * fp32.embed_queries(texts())).sum(axis=1)

    assert cosine.min() >= 0.9999


def test_int8_queries_and_passages_stay_within_cosine_099_of_torch(
        encoder: Encoder, int8: Encoder, sample_kb: Path) -> None:
    queries = (encoder.embed_queries(texts()) * int8.embed_queries(texts())).sum(axis=1)
    passages = (chunk_vectors(sample_kb / "torch") * chunk_vectors(sample_kb / "int8")).sum(axis=1)

    for cosine in (queries, passages):
        assert cosine.mean() >= 0.99
        assert cosine.min() >= 0.97  # measured: queries 0.986, passages 0.976


def test_int8_counts_tokens_exactly_as_torch_so_chunks_do_not_change(
        encoder: Encoder, int8: Encoder, sample_kb: Path) -> None:
    chunks = load_snapshot(sample_kb / "torch").chunks
    samples = [c.embed_text for c in chunks] + [" ".join(c.embed_text for c in chunks[:5])]

    torch_counts = [encoder.token_counter()(t) for t in samples]
    assert [int8.token_counter()(t) for t in samples] == torch_counts
    # The counters a build's reading processes get: copies, without the model.
    for model in (int8, encoder):
        copy = pickle.loads(pickle.dumps(model.token_counter()))
        assert [copy(t) for t in samples] == torch_counts


def test_int8_keeps_mrr_within_001_whichever_backend_built_the_index(
        encoder: Encoder, int8: Encoder, sample_kb: Path) -> None:
    def mrr(index: str, queries_by: Encoder, mode: Mode) -> float:
        return float(evaluate(searcher(sample_kb / index, queries_by), QUERIES, mode)["all"]["mrr"])

    hybrid, dense = mrr("torch", encoder, Mode.HYBRID), mrr("torch", encoder, Mode.DENSE)
    for index, queries_by in (("int8", int8), ("torch", int8), ("int8", encoder)):
        # Hybrid is what is served: unchanged within 0.01. Dense alone moves more on the
        # languages the English-only model does not cover (ru 0.37 → 0.42 with int8), so
        # it is held to "no loss beyond 0.01".
        assert abs(mrr(index, queries_by, Mode.HYBRID) - hybrid) <= 0.01, (index, queries_by.backend)
        assert mrr(index, queries_by, Mode.DENSE) >= dense - 0.01, (index, queries_by.backend)


def test_the_export_is_made_once_and_reused(models: Path, int8: Encoder) -> None:
    meta_file = export_dir(models, int8.model_id) / "export.json"
    before = meta_file.stat().st_mtime_ns

    again = load_encoder(ModelSpec(threads=1, backend="onnx-int8", model_cache=models))

    assert meta_file.stat().st_mtime_ns == before
    meta = json.loads(meta_file.read_text("utf-8"))
    assert f"int8-{quantization_target()}" in meta["int8"]
    assert np.array_equal(again.embed_queries(["refund"]), int8.embed_queries(["refund"]))


def test_quantization_follows_the_instruction_set() -> None:
    assert quantization_target("x86_64", frozenset({"avx2", "avx512bw", "avx512_vnni"})) == "avx512_vnni"
    assert quantization_target("x86_64", frozenset({"avx2", "avx512bw"})) == "avx512"
    assert quantization_target("x86_64", frozenset({"avx2"})) == "avx2"
    assert quantization_target("x86_64", frozenset()) == "generic"
    assert quantization_target("aarch64", frozenset()) == "arm64"


def test_repeated_queries_come_from_a_bounded_cache(models: Path, int8: Encoder) -> None:
    small = load_encoder(ModelSpec(threads=1, backend="onnx-int8", model_cache=models, query_cache=2))
    first = small.embed_queries(["refund", "wifi", "password"])

    again = small.embed_queries(["password", "wifi"])  # the two newest are kept

    assert small.cached_queries == 2
    # Cache hits return the very vectors of the batch (int8 activations are quantized
    # per batch, so a fresh single encode would differ in the last digits).
    assert np.array_equal(again, first[[2, 1]])


def test_an_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ModelError, match="unknown embedding backend 'tensorrt'.*onnx-int8"):
        ModelSpec(backend="tensorrt")


def test_a_cuda_device_without_a_gpu_is_refused_with_the_fix() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: --device cuda is expected to work here")
    with pytest.raises(ModelError, match="sees no CUDA GPU.*--device cpu"):
        load_encoder(ModelSpec(device="cuda", backend="onnx-int8"))


def test_a_query_embedded_beside_other_work_equals_the_one_embedded_alone(int8: Encoder) -> None:
    uncached = load_encoder(ModelSpec(threads=1, backend="onnx-int8", model_cache=int8.spec.model_cache,
                                      query_cache=0))
    queries = ("refund", "wifi password", "zwrot")

    beside = [uncached.embed_query_beside(q, lambda: current_thread().name) for q in queries]

    assert all(name.startswith("deskmate-beside") for _, name in beside)  # really beside
    one_by_one = [uncached.embed_queries([q])[0] for q in queries]
    assert np.array_equal(np.stack([v for v, _ in beside]), np.stack(one_by_one))


def test_work_beside_a_cached_query_runs_on_the_callers_thread(int8: Encoder) -> None:
    cached = int8.embed_queries(["refund"])[0]

    vector, thread = int8.embed_query_beside("refund", lambda: current_thread().name)

    assert thread == current_thread().name
    assert np.array_equal(vector, cached)


def test_an_error_beside_the_encode_reaches_the_caller(int8: Encoder) -> None:
    def broken() -> None:
        raise LookupError("beside")

    with pytest.raises(LookupError, match="beside"):
        int8.embed_query_beside("a query never embedded before 4711", broken)
