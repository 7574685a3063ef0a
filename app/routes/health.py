"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import SearcherDep
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
