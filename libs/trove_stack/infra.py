"""Start and stop the stack without the supervisor: the API behind pytest session fixtures."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from trove_stack import auth, aws_sim, cloud_sim, postgres, redis
from trove_stack.config import DB_SERVICES, StackConfig, redis_dsn, service_dsn, service_env
from trove_stack.process import Managed
from trove_stack.secrets import Secrets, load_or_create
from trove_stack.services import SERVICES, ServiceSpec, service_child

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Infra:
    """A running PostgreSQL + Redis + Auth Emulator and how to reach them."""

    config: StackConfig
    secrets: Secrets
    admin_dsn: str
    """Superuser on database `trove`; for test set-up (templates, TRUNCATE), never for service code."""
    dsns: dict[str, str]
    """Service name (billing, ingest, analysis, search) -> DSN with that service's own role."""
    redis_dsn: str
    """redis://:PASSWORD@host:port/0"""
    auth_emulator_host: str
    """host:port for FIREBASE_AUTH_EMULATOR_HOST and the sign-up URL."""

    def service_env(self) -> dict[str, dict[str, str]]:
        """The computed environment blocks of every service (see trove_stack.config.service_env)."""
        return service_env(self.config, self.secrets)


def infra_processes(cfg: StackConfig, secrets: Secrets) -> list[Managed]:
    """PostgreSQL, Redis and the Auth Emulator, in start order; the AWS simulator too on the s3 storage backend."""
    processes: list[Managed] = [
        postgres.PostgresProcess(cfg, secrets),
        redis.child(cfg, password=secrets.redis_password),
        auth.child(cfg),
    ]
    if cfg.storage_backend == "s3":
        processes.insert(2, aws_sim.child(cfg, secrets))
    if cfg.cloud_providers:
        processes[3:3] = [cloud_sim.awssim_child(cfg, secrets), cloud_sim.embed_child(cfg)]
    return processes


def infra_hooks(
    cfg: StackConfig, secrets: Secrets, *, provision: Callable[[], object]
) -> dict[str, Callable[[], object]]:
    """What runs once an infra process is ready: `provision` after PostgreSQL, the bucket after the AWS simulator."""
    hooks: dict[str, Callable[[], object]] = {postgres.NAME: provision}
    if cfg.storage_backend == "s3":
        hooks[aws_sim.NAME] = lambda: aws_sim.setup_hook(cfg, secrets)
    if cfg.cloud_providers:
        hooks[cloud_sim.AWSSIM] = lambda: cloud_sim.setup_hook(cfg, secrets)
    return hooks


def prepare_data_dir(cfg: StackConfig) -> Secrets:
    """Create the data dir layout and load (or make) the secrets."""
    for path in (cfg.data_dir, cfg.run_dir, cfg.log_dir, cfg.blobs_dir, cfg.aws_dir):
        path.mkdir(parents=True, exist_ok=True)
    return load_or_create(cfg.secrets_path)


def start_all(
    processes: Sequence[Managed],
    *,
    after_start: Mapping[str, Callable[[], object]] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> None:
    """Start `processes` in order, each ready before the next; `after_start[name]` runs once `name` is ready.

    The slow Auth Emulator starts first and is waited for last, so its schema compilation overlaps the rest.
    On failure everything started here is stopped again and the error propagates.
    """
    hooks = after_start or {}
    started: list[Managed] = []
    slow = [p for p in processes if p.name == auth.NAME]
    try:
        for proc in slow:
            proc.start()
            started.append(proc)
        for proc in processes:
            if proc not in slow:
                proc.start()
                started.append(proc)
                proc.wait_ready(cancelled=cancelled)
                if proc.name in hooks:
                    hooks[proc.name]()
        for proc in slow:
            proc.wait_ready(cancelled=cancelled)
    except BaseException:
        stop_all(started)
        raise


def stop_all(processes: Sequence[Managed]) -> None:
    """Stop in reverse order; one failing stop does not keep the others running."""
    for proc in reversed(processes):
        try:
            proc.stop()
        except Exception:
            log.exception("stopping %s failed", proc.name)


class InfraStack:
    """The infrastructure processes of one data dir. Use `start_infra` or `running_infra`."""

    def __init__(self, cfg: StackConfig, *, remove_data_on_stop: bool = False) -> None:
        self.config = cfg
        self.remove_data_on_stop = remove_data_on_stop
        self.secrets = prepare_data_dir(cfg)
        self.processes = infra_processes(cfg, self.secrets)
        self.provision_changes: list[str] = []
        self.info = Infra(
            config=cfg,
            secrets=self.secrets,
            admin_dsn=postgres.admin_dsn(cfg, self.secrets, database=postgres.DATABASE),
            dsns={svc: service_dsn(cfg, self.secrets, svc) for svc in DB_SERVICES},
            redis_dsn=redis_dsn(cfg, self.secrets),
            auth_emulator_host=cfg.auth_emulator_host,
        )

    def start(self) -> Infra:
        def provision() -> None:
            self.provision_changes = postgres.provision_sync(self.config, self.secrets)

        start_all(self.processes, after_start=infra_hooks(self.config, self.secrets, provision=provision))
        return self.info

    def stop(self) -> None:
        stop_all(self.processes)
        if self.remove_data_on_stop:
            shutil.rmtree(self.config.data_dir, ignore_errors=True)


def start_infra(cfg: StackConfig | None = None, *, keep_data: bool = False) -> InfraStack:
    """Start PostgreSQL, Redis and the Auth Emulator and provision the database; call `.stop()` at the end.

    With no config, a throwaway stack (`StackConfig.ephemeral()`: free ports, temp dir, AOF off) whose data dir
    `.stop()` deletes unless `keep_data`. Blocks until all three are ready (20-30 s, most of it the emulator
    compiling its API schema). `.info` holds the DSNs.
    """
    stack = InfraStack(cfg or StackConfig.ephemeral(), remove_data_on_stop=cfg is None and not keep_data)
    stack.start()
    return stack


@contextlib.contextmanager
def running_infra(cfg: StackConfig | None = None, *, keep_data: bool = False) -> Iterator[Infra]:
    """`start_infra` as a context manager: yields the Infra, stops everything on exit."""
    stack = start_infra(cfg, keep_data=keep_data)
    try:
        yield stack.info
    finally:
        stack.stop()


class ServiceGroup:
    """Trove's service processes on a running Infra (no supervisor: a crash stays a crash)."""

    def __init__(
        self, infra: Infra, *, specs: Sequence[ServiceSpec] = SERVICES, overrides: Mapping[str, str] | None = None
    ) -> None:
        self.infra = infra
        self.processes: list[Managed] = [
            service_child(spec, infra.config, infra.secrets, overrides=overrides or {}) for spec in specs
        ]

    def start(self) -> None:
        start_all(self.processes)

    def stop(self) -> None:
        stop_all(self.processes)


def start_services(
    infra: Infra, *, specs: Sequence[ServiceSpec] = SERVICES, overrides: Mapping[str, str] | None = None
) -> ServiceGroup:
    """Start the services in order, each port open before the next; call `.stop()` at the end.

    Args:
        overrides: environment that wins over the computed one (e.g. {"TROVE_ANALYSIS_FOO": "1"}); the test
            process's own environment is NOT inherited beyond PATH/HOME/LANG.
    """
    group = ServiceGroup(infra, specs=specs, overrides=overrides)
    group.start()
    return group


@contextlib.contextmanager
def running_services(
    infra: Infra, *, specs: Sequence[ServiceSpec] = SERVICES, overrides: Mapping[str, str] | None = None
) -> Iterator[ServiceGroup]:
    """`start_services` as a context manager."""
    group = start_services(infra, specs=specs, overrides=overrides)
    try:
        yield group
    finally:
        group.stop()
