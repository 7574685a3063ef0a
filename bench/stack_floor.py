"""The stack floor: the least a service on our HTTP stack adds to the floor's work.

    python bench/stack_floor.py DATA_DIR PORT [--backend onnx-int8]

A bare ASGI app (no framework, no middleware) on uvicorn with the loop and HTTP parser
`deskmate serve` gets (uvloop, httptools), on 127.0.0.1. ``GET /floor?q=…`` runs the
floor's work (:func:`bench.latency.floor_once`: encode, FAISS top 100, BM25 top 100) on
a thread pool, the one hop off the event loop the service makes too, and answers a fixed
small JSON body; any other path answers that body at once (``/readyz`` for the start).

`bench/latency.py` times it beside the service and the in-process floor in the same run,
so the gap between service and floor splits into what the stack costs anyway (loopback,
HTTP, the hop, thread wake-ups) and what the service adds on top of it (framework,
authentication, fusion, snippets, evidence, logging, the response model).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import floor_once  # noqa: E402
from indexer.analyze import Analyzer  # noqa: E402
from indexer.dense import set_search_threads  # noqa: E402
from indexer.embed import ModelSpec, load_encoder  # noqa: E402
from indexer.snapshot import load_snapshot  # noqa: E402

BODY = b'{"ok":true}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


def floor_app(data: Path, backend: str) -> Any:
    """The ASGI app over the snapshot in ``data``/index, encoding as the floor does."""
    set_search_threads(1)  # as the service and the floor do
    encoder = load_encoder(ModelSpec(threads=1, backend=backend, model_cache=data / "models",
                                     query_cache=0))
    snapshot, analyzer = load_snapshot(data / "index"), Analyzer()
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="stack-floor")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/floor":
            query = parse_qs(scope["query_string"].decode())["q"][0]
            await asyncio.get_running_loop().run_in_executor(
                pool, floor_once, encoder, snapshot, analyzer, query)
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a data directory with index/ and models/")
    parser.add_argument("port", type=int)
    parser.add_argument("--backend", default="onnx-int8")
    args = parser.parse_args()
    uvicorn.run(floor_app(args.data, args.backend), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
