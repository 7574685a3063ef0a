"""Typed FastAPI dependencies: the settings and the live Searcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.errors import IndexNotReady
from app.search import Searcher
from app.settings import Settings
from indexer.embed import Encoder


@dataclass(slots=True)
class ServiceState:
    """What the running service holds; ``searcher`` is replaced whole on reload."""

    settings: Settings
    encoder: Encoder
    searcher: Searcher | None
    not_ready_reason: str = ""


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.deskmate
    return state


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


def get_searcher(request: Request) -> Searcher:
    state = get_state(request)
    searcher = state.searcher  # one read: a concurrent reload swaps the whole reference
    if searcher is None:
        raise IndexNotReady(state.not_ready_reason)
    return searcher


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
