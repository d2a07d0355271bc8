"""Where the embedded stack keeps its files, which loopback ports it uses, and each process's environment."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from trove_stack.secrets import Secrets

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_ID = "demo-trove"
# Services that own a schema and a database role; each also names its env prefix (TROVE_<SVC>_).
DB_SERVICES = ("billing", "ingest", "analysis", "search")
SERVICE_PATHS = (
    "libs",
    "services/gateway",
    "services/ingest",
    "services/analysis",
    "services/search",
    "services/billing",
)
# Variables handed from the launcher's own environment to every child, when set.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
# Who may call whom over gRPC: each server lists the services it accepts calls from (their tokens are in the
# secrets). The analysis worker calls as "analysis".
SERVICE_CALLERS = {
    "billing": ("gateway", "ingest", "analysis"),
    "ingest": ("gateway", "analysis", "search"),
    "search": ("gateway", "ingest", "analysis"),
    "analysis": ("gateway",),
}
# One variable per model that analysis (segments, pictures) and search (queries) must share, so they cannot
# disagree: the sentence embedder and the optional image-text model. Each maps to both services' own setting.
SHARED_MODEL_ENV = {
    "TROVE_EMBEDDER_MODEL_DIR": "EMBEDDER__MODEL_DIR",
    # An OpenAI-compatible embeddings server instead of the local model (EmbedderSettings).
    **{
        f"TROVE_EMBEDDER_{name}": f"EMBEDDER__{name}"
        for name in ("PROVIDER", "BASE_URL", "MODEL", "DIMENSIONS", "API_KEY", "BATCH_SIZE", "MAX_RETRIES")
    },
    "TROVE_IMAGE_TEXT_MODEL_DIR": "IMAGE_TEXT__MODEL_DIR",
}


# The region the AWS simulator's clients name (moto keeps state per region).
AWS_SIM_REGION = "us-east-1"

# StackConfig's metrics port fields, one per process ("worker": the general analysis worker).
METRICS_PORTS = tuple(
    f"{name}_metrics_port" for name in ("gateway", "billing", "ingest", "analysis", "search", "worker")
)


def _default_data_dir() -> Path:
    return REPO_ROOT / ".trove"


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Data directory, loopback ports and durability of one embedded stack.

    `aof` turns on Redis' append-only file; `durable` keeps PostgreSQL's fsync on and exports the auth emulator's
    users on exit. Both are off for test stacks, which are thrown away. `storage_backend="s3"` adds the AWS
    simulator (trove_stack.aws_sim) on `aws_port` and puts the services' media in its bucket `s3_bucket`.
    """

    data_dir: Path = field(default_factory=_default_data_dir)
    host: str = "127.0.0.1"
    postgres_port: int = 5433
    redis_port: int = 6380
    auth_port: int = 9099
    auth_hub_port: int = 4400
    auth_logging_port: int = 4500
    gateway_port: int = 8080
    billing_port: int = 50051
    ingest_port: int = 50052
    analysis_port: int = 50053
    search_port: int = 50054
    # Prometheus metrics, one port per process (TROVE_<SVC>_METRICS__PORT); the general analysis worker has its own.
    gateway_metrics_port: int = 9180
    billing_metrics_port: int = 9181
    ingest_metrics_port: int = 9182
    analysis_metrics_port: int = 9183
    search_metrics_port: int = 9184
    worker_metrics_port: int = 9185
    aws_port: int = 4566
    awssim_port: int = 4599
    embed_port: int = 8091
    cloud_providers: bool = False
    storage_backend: Literal["local", "s3"] = "local"
    s3_bucket: str = "trove-media"
    aof: bool = True
    durable: bool = True

    def __post_init__(self) -> None:
        # PostgreSQL records its data dir as an absolute path; keep ours comparable with it.
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())

    @classmethod
    def ephemeral(cls, data_dir: Path | None = None) -> StackConfig:
        """A throwaway stack for tests: free loopback ports, AOF and fsync off, a fresh temp dir by default.

        The default directory sits directly in the system temp dir with mode 0755 so that the unprivileged
        PostgreSQL user can reach it when the tests run as root (pytest's own tmp dirs are mode 0700).
        """
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="trove-stack-"))
            data_dir.chmod(0o755)
        ports = iter(free_ports(14 + len(METRICS_PORTS)))
        return cls(
            data_dir=data_dir,
            postgres_port=next(ports),
            redis_port=next(ports),
            auth_port=next(ports),
            auth_hub_port=next(ports),
            auth_logging_port=next(ports),
            gateway_port=next(ports),
            billing_port=next(ports),
            ingest_port=next(ports),
            analysis_port=next(ports),
            search_port=next(ports),
            gateway_metrics_port=next(ports),
            billing_metrics_port=next(ports),
            ingest_metrics_port=next(ports),
            analysis_metrics_port=next(ports),
            search_metrics_port=next(ports),
            worker_metrics_port=next(ports),
            aws_port=next(ports),
            awssim_port=next(ports),
            embed_port=next(ports),
            aof=False,
            durable=False,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, data_dir: Path | None = None) -> StackConfig:
        """Defaults overridden by TROVE_STACK_DATA_DIR, TROVE_STACK_<NAME>_PORT (e.g. TROVE_STACK_GATEWAY_PORT) and
        TROVE_STACK_STORAGE_BACKEND (local or s3)."""
        changes: dict[str, object] = {}
        if backend := environ.get("TROVE_STACK_STORAGE_BACKEND"):
            if backend not in ("local", "s3"):
                raise ValueError(f"TROVE_STACK_STORAGE_BACKEND must be local or s3, not {backend!r}")
            changes["storage_backend"] = backend
        if environ.get("TROVE_STACK_CLOUD_PROVIDERS", "") not in ("", "0"):
            # Every stage on its cloud provider (simulated), which reads media from S3: implies the s3 backend.
            changes |= {"cloud_providers": True, "storage_backend": "s3"}
        for f in fields(cls):
            if f.name.endswith("_port") and (value := environ.get(f"TROVE_STACK_{f.name.upper()}")):
                changes[f.name] = int(value)
        if data_dir is None and (env_dir := environ.get("TROVE_STACK_DATA_DIR")):
            data_dir = Path(env_dir)
        if data_dir is not None:
            changes["data_dir"] = data_dir.resolve()
        # Field names are checked against fields(cls) above; mypy cannot follow that through **.
        return replace(cls(), **changes)  # type: ignore[arg-type]

    def with_new_metrics_ports(self) -> StackConfig:
        """The same stack with fresh free metrics ports: for a second group of processes beside the first."""
        return replace(self, **dict(zip(METRICS_PORTS, free_ports(len(METRICS_PORTS)), strict=True)))  # type: ignore[arg-type]

    def metrics_url(self, process: str) -> str:
        """http://host:port/metrics of a process: a service name, or "worker" for the general analysis worker."""
        port: int = getattr(self, f"{process}_metrics_port")
        return f"http://{self.host}:{port}/metrics"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def pg_socket_dir(self) -> Path:
        return self.run_dir / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def auth_dir(self) -> Path:
        return self.data_dir / "auth"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def aws_dir(self) -> Path:
        return self.data_dir / "aws"

    @property
    def awssim_url(self) -> str:
        """The simulated Rekognition, Transcribe and Comprehend (trove_awssim)."""
        return f"http://{self.host}:{self.awssim_port}"

    @property
    def embed_url(self) -> str:
        """The OpenAI-compatible embeddings server's base URL (…/v1)."""
        return f"http://{self.host}:{self.embed_port}/v1"

    @property
    def aws_url(self) -> str:
        """The AWS simulator's endpoint (all services on one port, like moto's server)."""
        return f"http://{self.host}:{self.aws_port}"

    @property
    def secrets_path(self) -> Path:
        return self.data_dir / "secrets.json"

    @property
    def redis_conf_path(self) -> Path:
        """redis-server's config file (mode 0600): it holds the password, which `ps` would show on a command line."""
        return self.redis_dir / "redis.conf"

    @property
    def auth_emulator_host(self) -> str:
        """host:port, the form FIREBASE_AUTH_EMULATOR_HOST takes."""
        return f"{self.host}:{self.auth_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    def addr(self, service: str) -> str:
        """host:port of a gRPC service."""
        port: int = getattr(self, f"{service}_port")
        return f"{self.host}:{port}"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pid_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that were free on `host` a moment ago (the OS may hand them out again later)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def postgres_dsn(cfg: StackConfig, *, user: str, password: str, database: str = "trove") -> str:
    """A libpq/asyncpg URL on the stack's loopback PostgreSQL."""
    return f"postgresql://{user}:{password}@{cfg.host}:{cfg.postgres_port}/{database}"


def redis_dsn(cfg: StackConfig, secrets: Secrets) -> str:
    """The stack's Redis, database 0, with its password."""
    return f"redis://:{secrets.redis_password}@{cfg.host}:{cfg.redis_port}/0"


def service_dsn(cfg: StackConfig, secrets: Secrets, service: str, *, database: str = "trove") -> str:
    """The DSN a service connects with: its own role, its own password."""
    return postgres_dsn(cfg, user=f"trove_{service}", password=secrets.role_passwords[service], database=database)


def service_env(cfg: StackConfig, secrets: Secrets) -> dict[str, dict[str, str]]:
    """The computed environment of each service (billing, ingest, analysis, search, gateway).

    The analysis worker uses the analysis block. Only Trove's own variables are here; see `process_env`.
    """
    env: dict[str, dict[str, str]] = {}
    for svc in DB_SERVICES:
        p = f"TROVE_{svc.upper()}_"
        env[svc] = {
            f"{p}GRPC__HOST": cfg.host,
            f"{p}GRPC__PORT": str(getattr(cfg, f"{svc}_port")),
            f"{p}POSTGRES__DSN": service_dsn(cfg, secrets, svc),
        }
    env["gateway"] = {
        "TROVE_GATEWAY_HTTP__HOST": cfg.host,
        "TROVE_GATEWAY_HTTP__PORT": str(cfg.gateway_port),
        "TROVE_GATEWAY_AUTH__MODE": "emulator",
        "TROVE_GATEWAY_FIREBASE__PROJECT_ID": PROJECT_ID,
        "TROVE_GATEWAY_FIREBASE__AUTH_EMULATOR_HOST": cfg.auth_emulator_host,
    }
    for svc in ("ingest", "analysis", "search", "gateway"):
        env[svc][f"TROVE_{svc.upper()}_REDIS__DSN"] = redis_dsn(cfg, secrets)
    for svc, block in env.items():
        block[f"TROVE_{svc.upper()}_SERVICE_AUTH__TOKEN"] = secrets.service_tokens[svc]
        callers = {name: secrets.service_tokens[name] for name in SERVICE_CALLERS.get(svc, ())}
        if callers:
            block[f"TROVE_{svc.upper()}_SERVICE_AUTH__CALLERS"] = json.dumps(callers)
    peers = {
        "ingest": ("billing", "search"),
        "analysis": ("ingest", "search", "billing"),
        "search": ("ingest",),
        "gateway": ("billing", "ingest", "search", "analysis"),
    }
    for svc, targets in peers.items():
        for target in targets:
            env[svc][f"TROVE_{svc.upper()}_{target.upper()}_ADDR"] = cfg.addr(target)
    for svc in ("ingest", "analysis", "gateway"):
        p = f"TROVE_{svc.upper()}_"
        env[svc][f"{p}STORAGE__ROOT"] = str(cfg.blobs_dir)
        env[svc][f"{p}STORAGE__SIGNING_KEY"] = secrets.signing_key
        if svc != "analysis":
            env[svc][f"{p}STORAGE__PUBLIC_URL"] = cfg.gateway_url
        if cfg.storage_backend == "s3":
            env[svc] |= {
                f"{p}STORAGE__BACKEND": "s3",
                f"{p}STORAGE__S3__BUCKET": cfg.s3_bucket,
                f"{p}STORAGE__S3__REGION": AWS_SIM_REGION,
                f"{p}STORAGE__S3__ENDPOINT_URL": cfg.aws_url,
                f"{p}STORAGE__S3__ACCESS_KEY_ID": secrets.aws_access_key_id,
                f"{p}STORAGE__S3__SECRET_ACCESS_KEY": secrets.aws_secret_access_key,
            }
    if cfg.storage_backend == "s3":
        env["analysis"]["TROVE_ANALYSIS_OBJECT_CACHE_DIR"] = str(cfg.data_dir / "object-cache")
    _add_cloud_providers(env, cfg, secrets)
    for svc, block in env.items():
        block[f"TROVE_{svc.upper()}_OTEL__EXPORTER"] = "none"
        # The analysis worker shares this block; its process is given worker_metrics_port instead (see services).
        block[f"TROVE_{svc.upper()}_METRICS__PORT"] = str(getattr(cfg, f"{svc}_metrics_port"))
    for svc in ("analysis", "search"):
        # Models ship inside packages; a hub download would fail on a closed network anyway, and slowly.
        env[svc]["HF_HUB_OFFLINE"] = "1"
        env[svc]["TRANSFORMERS_OFFLINE"] = "1"
    return env


def _add_cloud_providers(env: dict[str, dict[str, str]], cfg: StackConfig, secrets: Secrets) -> None:
    """On `cloud_providers`: analysis' stages and both embedders on the simulated clouds (trove_stack.cloud_sim)."""
    if cfg.cloud_providers:
        from trove_stack.cloud_sim import provider_env

        for svc, block in provider_env(cfg, secrets).items():
            env[svc] |= block


def process_env(
    block: str,
    cfg: StackConfig,
    secrets: Secrets,
    *,
    overrides: Mapping[str, str],
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of one service process.

    Args:
        block: which `service_env` block (the analysis worker takes "analysis").
        overrides: the user's settings (environment, .env): a variable named here wins over the computed one,
            and every TROVE_<BLOCK>_* variable in it is passed on as well.
        base: where PATH, HOME, LANG... come from; the launcher's own environment by default.
    """
    source = os.environ if base is None else base
    env = {k: source[k] for k in PASSTHROUGH_ENV if k in source}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / p) for p in SERVICE_PATHS)
    env["PYTHONUNBUFFERED"] = "1"
    computed = service_env(cfg, secrets)[block]
    env.update(computed)
    prefix = f"TROVE_{block.upper()}_"
    if block == "gateway" and "TROVE_INGEST_MAX_UPLOAD_BYTES" in overrides:
        # The web page checks sizes before uploading; it must use the limit ingest enforces.
        env["TROVE_GATEWAY_MAX_UPLOAD_BYTES"] = overrides["TROVE_INGEST_MAX_UPLOAD_BYTES"]
    if block in ("analysis", "search"):
        env.update({prefix + field: overrides[name] for name, field in SHARED_MODEL_ENV.items() if name in overrides})
    env.update({k: v for k, v in overrides.items() if k in computed or k.startswith(prefix)})
    return env


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments, blank lines and `export ` prefixes allowed); {} when absent."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values
