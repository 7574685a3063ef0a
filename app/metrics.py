"""Prometheus metrics of one service instance (its own registry, so apps never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0)


class Metrics:
    """Request, search, index and build metrics, exposed at ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("deskmate_http_requests", "HTTP requests by route and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("deskmate_http_request_duration_seconds",
                                 "HTTP request latency by route", ["route", "method"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.searches = Counter("deskmate_searches", "Searches answered", ["endpoint"], registry=r)
        self.no_good_match = Counter("deskmate_no_good_match", "Searches answered with weak evidence",
                                     ["endpoint"], registry=r)
        self.index_info = Gauge("deskmate_index_info", "The live snapshot (value 1)",
                                ["version", "model"], registry=r)
        self.articles = Gauge("deskmate_index_articles", "Articles in the live snapshot", registry=r)
        self.chunks = Gauge("deskmate_index_chunks", "Chunks in the live snapshot", registry=r)
        self.index_loads = Counter("deskmate_index_loads", "Snapshots loaded (hot swaps)",
                                   registry=r)
        self.builds = Counter("deskmate_builds", "Build jobs finished, by outcome", ["state"],
                              registry=r)
        self.build_duration = Histogram("deskmate_build_duration_seconds", "Build job duration",
                                        buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
                                        registry=r)

    def index_loaded(self, version: str, model: str, articles: int, chunks: int) -> None:
        self.index_info.clear()
        self.index_info.labels(version=version, model=model).set(1)
        self.articles.set(articles)
        self.chunks.set(chunks)
        self.index_loads.inc()
