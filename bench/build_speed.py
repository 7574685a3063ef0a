"""Indexing speed: a full build's chunks/s next to the raw encoder throughput on the same texts.

    python bench/build_speed.py [--copies 4] [--backends onnx-int8,torch] [--device cpu|cuda]

Makes a KB of ``--copies`` copies of the sample KB (each article with its own id and the
copy number in every heading, so no chunk text repeats and nothing comes from a cache), then per
backend: a full `build_snapshot` with an empty embedding cache, raw encoding of the
build's chunk texts (`Encoder.embed_chunks`, batch ``--batch-size``, all cores), and a second full build;
the mean of the builds' chunks/s is compared with the raw run between them (same process,
same texts). Goal: build ≥ 90 % of raw. With ``--device cuda`` the embedding phase runs on the
GPU (torch; goal ≥ 5,000 chunks/s on one H100). Builds read articles in one process per core,
as `deskmate index build` does, once 500 or more need reading: on a GPU use ``--copies 40``
or more, or reading the articles in one process (~0.6 ms a chunk) is the figure.

The edit → searchable figure is bench/edit_latency.py's (`make bench-edit`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from indexer.build import BuildOptions, article_files, build_snapshot  # noqa: E402
from indexer.embed import Encoder, ModelSpec, load_encoder  # noqa: E402
from indexer.snapshot import load_snapshot  # noqa: E402


def copied_kb(target: Path, copies: int) -> None:
    for copy in range(copies):
        for relative, path in article_files(ROOT / "kb"):
            text = path.read_text("utf-8")
            text = re.sub(r"(?m)^id: *(.+)$", rf"id: \1-copy{copy}", text, count=1)
            text = re.sub(r"(?m)^translation_of:.*\n", "", text)
            out = target / f"copy{copy}" / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            # Every heading gets the copy number: chunks embed their heading path, so no
            # chunk text repeats (the build would encode a repeated text once).
            text = re.sub(r"(?m)^(#+ .+)$", rf"\1 ({copy})", text)
            out.write_text(text, "utf-8")


def raw_rate(encoder: Encoder, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    encoder.embed_chunks(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - started)


def measure(backend: str, device: str, kb: Path, work: Path, batch_size: int) -> None:
    encoder = load_encoder(ModelSpec(backend=backend, device=device, model_cache=work / "models"))
    encoder.embed_chunks(["warm up the encoder"] * 8, batch_size=8)
    builds = []
    options = BuildOptions(batch_size=batch_size, processes=os.cpu_count() or 1)
    for run in (1, 2):  # build, raw, build: the raw run sits between the two it is compared with
        report = build_snapshot(kb, work / f"index-{backend}-{run}", encoder,
                                work / f"cache-{backend}-{run}.sqlite", options)
        builds.append(report.chunks / report.seconds)
        if run == 1:
            texts = [c.embed_text for c in load_snapshot(work / f"index-{backend}-1").chunks]
            raw = raw_rate(encoder, texts, batch_size)
    build = sum(builds) / len(builds)
    print(f"  {backend:<9} on {device}: {encoder.backend}, {report.chunks} chunks, "
          f"{report.articles} articles")
    print(f"    raw encode  {raw:7.1f} chunks/s")
    print(f"    full build  {builds[0]:7.1f} / {builds[1]:7.1f} chunks/s (cold embedding cache) "
          f"= {build / raw:.0%} of raw (goal ≥ 90 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--backends", default="onnx-int8,torch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32, help="chunks per encoder batch (GPU: 256)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            sys.exit("no CUDA device here: the GPU figure needs a machine with one")
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        copied_kb(work / "kb", args.copies)
        print(f"settings: {args.copies} copies of the sample KB, batch {args.batch_size}, "
              f"encoder threads: all cores, device {args.device}")
        for backend in args.backends.split(","):
            measure(backend, args.device, work / "kb", work, args.batch_size)


if __name__ == "__main__":
    main()
