"""Trove's own service processes: which ones, in what order, on which port, with which environment."""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from trove_stack.config import REPO_ROOT, StackConfig, process_env
from trove_stack.process import Child, ProcessSpec, StackError, port_open
from trove_stack.secrets import Secrets


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service process.

    Args:
        name: process name: its log is <data>/logs/<name>.log, its PID <data>/run/<name>.pid.
        args: arguments after the Python interpreter (sys.executable).
        env: which `service_env` block it gets (the analysis worker shares "analysis").
        port: the StackConfig field it listens on (e.g. "billing_port"); None for a worker without a port.
        ready_timeout_s: how long it may take to open its port (model loading counts).
        metrics_port: the StackConfig field of its Prometheus port; None: metrics off (extra family workers, which
            would otherwise share the general worker's port).
    """

    name: str
    args: tuple[str, ...]
    env: str
    port: str | None
    ready_timeout_s: float = 120.0
    stop_timeout_s: float = 30.0
    extra_env: Mapping[str, str] = field(default_factory=dict)
    metrics_port: str | None = None


# Start order: each gRPC port is open before the next service starts; the gateway comes last.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "billing", ("-m", "trove_billing.main"), env="billing", port="billing_port", metrics_port="billing_metrics_port"
    ),
    ServiceSpec(
        "search", ("-m", "trove_search.main"), env="search", port="search_port", metrics_port="search_metrics_port"
    ),
    ServiceSpec(
        "ingest", ("-m", "trove_ingest.main"), env="ingest", port="ingest_port", metrics_port="ingest_metrics_port"
    ),
    ServiceSpec(
        "analysis",
        ("-m", "trove_analysis.main"),
        env="analysis",
        port="analysis_port",
        metrics_port="analysis_metrics_port",
    ),
    ServiceSpec(
        "analysis-worker",
        ("-m", "trove_analysis.main", "worker"),
        env="analysis",
        port=None,
        metrics_port="worker_metrics_port",
    ),
    ServiceSpec(
        "gateway", ("-m", "trove_gateway.main"), env="gateway", port="gateway_port", metrics_port="gateway_metrics_port"
    ),
)


WORKER = "analysis-worker"
# The analysis worker's stage families (trove_analysis.queues.FAMILIES; a test keeps the two equal). The launcher
# names them without importing the analysis service.
FAMILIES = ("image", "video", "text", "embedding")
WORKERS_ENV = "TROVE_WORKERS__"
MAX_WORKERS_PER_FAMILY = 16


def worker_counts(environ: Mapping[str, str]) -> dict[str, int]:
    """Worker processes serving each stage family, from TROVE_WORKERS__<FAMILY>=N (default 1).

    The general `analysis-worker` serves every family and counts as one; N-1 more serve that family alone.
    Raises StackError naming the variable when a value or a family name is wrong.
    """
    for name in environ:
        if name.startswith(WORKERS_ENV) and name.removeprefix(WORKERS_ENV).lower() not in FAMILIES:
            raise StackError(f"{name}: no such stage family; families: {', '.join(FAMILIES)}")
    counts = {}
    for family in FAMILIES:
        name = f"{WORKERS_ENV}{family.upper()}"
        raw = environ.get(name, "1").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS_PER_FAMILY:
            raise StackError(f"{name}={raw!r}: expected a whole number of processes from 1 to {MAX_WORKERS_PER_FAMILY}")
        counts[family] = int(raw)
    return counts


def family_worker_spec(family: str, number: int) -> ServiceSpec:
    """The `number`-th process serving `family` (2 and up): an analysis worker on that family's queue only."""
    base = next(s for s in SERVICES if s.name == WORKER)
    return replace(
        base,
        name=f"{WORKER}-{family}-{number}",
        extra_env={"TROVE_ANALYSIS_FAMILIES": json.dumps([family])},
        metrics_port=None,
    )


def service_specs(environ: Mapping[str, str]) -> tuple[ServiceSpec, ...]:
    """SERVICES plus the extra per-family workers TROVE_WORKERS__<FAMILY> asks for, right after the general one."""
    counts = worker_counts(environ)
    extra = [family_worker_spec(f, n) for f in FAMILIES for n in range(2, counts[f] + 1)]
    at = next(i for i, s in enumerate(SERVICES) if s.name == WORKER) + 1
    return (*SERVICES[:at], *extra, *SERVICES[at:])


def _port_check(cfg: StackConfig, port: int) -> Callable[[], bool]:
    return lambda: port_open(cfg.host, port)


def service_child(
    spec: ServiceSpec,
    cfg: StackConfig,
    secrets: Secrets,
    *,
    overrides: Mapping[str, str],
    base_env: Mapping[str, str] | None = None,
) -> Child:
    """The process for `spec`, ready once its port accepts connections (at once for a worker)."""
    env = process_env(spec.env, cfg, secrets, overrides=overrides, base=base_env)
    env.update(spec.extra_env)
    metrics_var = f"TROVE_{spec.env.upper()}_METRICS__PORT"
    if metrics_var not in overrides:
        env[metrics_var] = str(getattr(cfg, spec.metrics_port)) if spec.metrics_port else "0"
    ready = _port_check(cfg, getattr(cfg, spec.port)) if spec.port else None
    process = ProcessSpec(
        name=spec.name,
        argv=(sys.executable, *spec.args),
        env=env,
        cwd=REPO_ROOT,
        ready=ready,
        ready_timeout_s=spec.ready_timeout_s,
        stop_timeout_s=spec.stop_timeout_s,
    )
    return Child(process, log_path=cfg.log_path(spec.name), pid_path=cfg.pid_path(spec.name))


def service_children(
    cfg: StackConfig,
    secrets: Secrets,
    *,
    specs: Sequence[ServiceSpec] = SERVICES,
    overrides: Mapping[str, str],
) -> list[Child]:
    """One Child per spec, in start order."""
    return [service_child(s, cfg, secrets, overrides=overrides) for s in specs]


def http_status(host: str, port: int, path: str, timeout_s: float = 2.0) -> int | None:
    """The status of GET http://host:port/path, None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def gateway_ready(cfg: StackConfig) -> bool:
    """True when the gateway's /readyz answers 200."""
    return http_status(cfg.host, cfg.gateway_port, "/readyz") == 200


def wait_gateway_ready(cfg: StackConfig, *, timeout_s: float = 120.0) -> None:
    """Block until the gateway's /readyz answers 200; StackError naming the wait after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not gateway_ready(cfg):
        if time.monotonic() > deadline:
            raise StackError(f"{cfg.gateway_url}/readyz did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.5)
