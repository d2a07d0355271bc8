"""Prometheus metrics of every Trove process: one registry (the default), every name defined here, a port to scrape.

Each process serves its metrics at `GET /metrics` on its own port (`TROVE_<SVC>_METRICS__PORT`, 0 = off), never
on the public HTTP port: the gateway's port faces users, and metrics (routes, volumes, costs) are for operators.
`deploy/grafana/trove.json` is built from these names; a test checks that every name it queries exists here.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server

from trove_common.settings import MetricsSettings

logger = logging.getLogger(__name__)

# Seconds: from a cached search (~ms) to a long analysis stage (minutes).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STAGE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

HTTP_REQUEST_SECONDS = Histogram(
    "trove_http_request_duration_seconds",
    "Gateway HTTP request latency by route template, method and status",
    ["route", "method", "status"],
    buckets=_LATENCY_BUCKETS,
)
GRPC_SERVER_SECONDS = Histogram(
    "trove_grpc_server_handling_seconds",
    "gRPC server latency by full method name and status code",
    ["method", "code"],
    buckets=_LATENCY_BUCKETS,
)
JOBS_QUEUED = Gauge("trove_jobs_queued", "Jobs waiting in a stage family's ARQ queue (its Redis length)", ["family"])
JOBS_RUNNING = Gauge("trove_jobs_running", "Analysis jobs running in this worker process, by stage family", ["family"])
JOBS_DONE = Counter("trove_jobs_done", "Analysis jobs that finished, by stage family", ["family"])
JOBS_FAILED = Counter(
    "trove_jobs_failed", "Analysis jobs that ended in an error (a retry counts too), by stage family", ["family"]
)
JOBS_DEAD = Counter("trove_jobs_dead", "Stages given up and dead-lettered, by stage family", ["family"])
STAGE_SECONDS = Histogram(
    "trove_stage_duration_seconds",
    "Time one analysis stage took, by stage and outcome",
    ["stage", "outcome"],
    buckets=_STAGE_BUCKETS,
)
SEARCH_SECONDS = Histogram(
    "trove_search_duration_seconds",
    "Search latency inside the search service, by whether it was cached",
    ["cached"],
    buckets=_LATENCY_BUCKETS,
)
SEARCH_RESULTS = Histogram(
    "trove_search_results", "Results a search found (before paging)", buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200)
)
CACHE_HITS = Counter("trove_search_cache_hits", "Search cache lookups that hit, by what was cached", ["kind"])
CACHE_MISSES = Counter("trove_search_cache_misses", "Search cache lookups that missed, by what was cached", ["kind"])
COST_RECORDED = Counter(
    "trove_cost_recorded",
    "Cost added to the ledger by billing's RecordCost, by provider service and currency",
    ["service", "currency"],
)
COST_UNITS = Counter(
    "trove_cost_units", "Units (seconds, calls) billed by RecordCost, by provider service", ["service"]
)


def start_metrics_server(settings: MetricsSettings) -> int | None:
    """Serve the registry at http://host:port/metrics from a daemon thread; None when the port is 0 (off).

    A port that cannot be bound fails the start-up: an operator who asked for metrics should not silently lose them.
    """
    if settings.port == 0:
        return None
    server, _ = start_http_server(settings.port, addr=settings.host, registry=REGISTRY)
    port = int(server.server_port)
    logger.info("metrics served", extra={"address": f"{settings.host}:{port}", "path": "/metrics"})
    return port
