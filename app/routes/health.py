"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.deps import SearcherDep, StateDep
from app.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut,
            responses={503: {"description": "No index loaded (problem+json)"}})
def readyz(searcher: SearcherDep) -> ReadyOut:
    """An index is loaded and searches can be answered (503 until then)."""
    snapshot = searcher.snapshot
    return ReadyOut(status="ready", index_version=snapshot.version,
                    articles=len(snapshot.articles), chunks=len(snapshot.chunks),
                    model=searcher.encoder.model_id)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: StateDep) -> PlainTextResponse:
    """Prometheus metrics: requests and latency per route, searches, index, builds."""
    return PlainTextResponse(generate_latest(state.metrics.registry),
                             media_type=CONTENT_TYPE_LATEST)
