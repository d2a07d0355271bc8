"""Container HEALTHCHECK: probes whichever Trove process this container runs; exit 0 healthy, 1 not.

The gateway answers GET /healthz on TROVE_GATEWAY_HTTP__PORT; a gRPC server answers the standard gRPC health
check (open without a service credential) on TROVE_<SVC>_GRPC__PORT; an analysis worker, which opens no port, is
healthy while its process runs; the one-shot provisioning job is not probed.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

GRPC_SERVICES = ("billing", "ingest", "analysis", "search")
DEFAULT_GRPC_PORTS = {"billing": 50051, "ingest": 50052, "analysis": 50053, "search": 50054}


def running_modules(proc: Path = Path("/proc")) -> list[list[str]]:
    """The argv of every process in this container (its PID namespace)."""
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if raw:
                found.append(raw.rstrip(b"\0").decode(errors="replace").split("\0"))
    return found


def role_of(argv: list[str]) -> str | None:
    """'gateway', 'billing', ..., 'analysis-worker' for a `python -m trove_<svc>.main [worker]` argv, else None."""
    if "-m" not in argv:
        return None
    at = argv.index("-m")
    module = argv[at + 1] if at + 1 < len(argv) else ""
    if not (module.startswith("trove_") and module.endswith(".main")):
        return None
    svc = module.removeprefix("trove_").removesuffix(".main")
    return f"{svc}-worker" if argv[at + 2 : at + 3] == ["worker"] else svc


def check_http(port: int, *, timeout_s: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def check_grpc(port: int, *, timeout_s: float = 3.0) -> bool:
    import grpc  # here: the worker and gateway checks need no gRPC import
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def check(role: str, environ: dict[str, str]) -> bool:
    if role == "gateway":
        return check_http(int(environ.get("TROVE_GATEWAY_HTTP__PORT", "8080")))
    if role in GRPC_SERVICES:
        port = environ.get(f"TROVE_{role.upper()}_GRPC__PORT", str(DEFAULT_GRPC_PORTS[role]))
        return check_grpc(int(port))
    return True  # a worker (or the provisioning job): alive while its process is


def main() -> int:
    roles = [r for argv in running_modules() if (r := role_of(argv))]
    if not roles:
        print("no Trove process is running", file=sys.stderr)
        return 1
    healthy = all(check(role, dict(os.environ)) for role in roles)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
