"""Session-wide real infrastructure (PostgreSQL + pgvector, Redis, Auth Emulator) and Trove's own processes.

Everything runs on free loopback ports in a throwaway data dir and is stopped by PID at the end. Tests keep
out of each other's way by signing up a fresh user each, which row-level security isolates.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from otlp_receiver import TraceReceiver, running_receiver
from support import SHARED_DATABASE_OVERRIDES, Api, CloudStack, S3Stack, sign_up, sim_s3_settings

from trove_common.grpc_client import ServiceCredential, make_channel
from trove_stack import aws_sim, cloud_sim
from trove_stack.config import StackConfig, free_ports, redis_dsn
from trove_stack.infra import Infra, ServiceGroup, running_infra, running_services


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with running_infra() as info:
        yield info


# Tier limits small enough for short files to reach them: "longer than the tier allows" (free), and the quotas
# of the pro tier, to which the quota tests move their user. Media waiting for budget is re-checked every second.
SESSION_OVERRIDES = {
    "TROVE_BILLING_TIERS__FREE__MAX_MEDIA_DURATION_S": "60",
    "TROVE_BILLING_TIERS__PRO__MAX_FILE_BYTES": "480000",
    "TROVE_BILLING_TIERS__PRO__STORAGE_BYTES": "500000",
    "TROVE_BILLING_TIERS__PRO__UPLOADS_PER_MONTH": "2",
    "TROVE_INGEST_BUDGET_RECHECK_S": "1",
    # Every test calls from 127.0.0.1, so that address gets room for the whole suite; 127.0.0.1 is a trusted proxy,
    # so the rate-limit tests can speak for addresses of their own through X-Forwarded-For.
    "TROVE_GATEWAY_RATE_LIMITS__TRUSTED_PROXIES": '["127.0.0.1/32"]',
    "TROVE_GATEWAY_RATE_LIMITS__PER_USER__SEARCH__BURST": "100",
    "TROVE_GATEWAY_RATE_LIMITS__PER_ADDRESS__SEARCH__BURST": "5000",
    "TROVE_GATEWAY_RATE_LIMITS__PER_ADDRESS__API__BURST": "20000",
    "TROVE_GATEWAY_RATE_LIMITS__PER_ADDRESS__UPLOADS__BURST": "5000",
    "TROVE_GATEWAY_RATE_LIMITS__PER_ADDRESS__BLOBS__BURST": "5000",
    # The contract fuzzer's user is premium: room for its ~1000 requests in seconds (tests/contract).
    "TROVE_GATEWAY_RATE_LIMITS__TIERS__PREMIUM": "25",
}


# Every process of the session's stack exports its spans over OTLP/HTTP to the `traces` receiver, soon after they end.
TRACED_BLOCKS = ("gateway", "billing", "ingest", "analysis", "search")


@pytest.fixture(scope="session")
def traces() -> Iterator[TraceReceiver]:
    """The OTLP/HTTP receiver the session's services export their spans to (tests/e2e/test_traces.py reads it)."""
    with running_receiver() as receiver:
        yield receiver


def _otel_overrides(endpoint: str) -> dict[str, str]:
    env = {}
    for block in TRACED_BLOCKS:
        p = f"TROVE_{block.upper()}_OTEL__"
        env |= {f"{p}EXPORTER": "otlp", f"{p}ENDPOINT": endpoint, f"{p}EXPORT_DELAY_MS": "500"}
    return env


@pytest.fixture(scope="session")
def services(infra: Infra, traces: TraceReceiver) -> Iterator[ServiceGroup]:
    overrides = SESSION_OVERRIDES | _otel_overrides(traces.endpoint)
    with running_services(infra, overrides=overrides) as group:
        _wait_ready(infra.config.gateway_url)
        yield group


def _wait_ready(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise RuntimeError(f"gateway not ready after {timeout_s} s: {last}")


@pytest.fixture(scope="session")
def gateway_url(infra: Infra, services: ServiceGroup) -> str:
    return infra.config.gateway_url


@pytest.fixture(scope="session")
def logs_dir(infra: Infra) -> Path:
    return infra.config.log_dir


def _api_factory(infra: Infra, gateway_url: str) -> Callable[..., Awaitable[Api]]:
    async def make(*, admin: bool = False) -> Api:
        token, uid = await sign_up(infra.auth_emulator_host, admin=admin)
        return Api(base_url=gateway_url, token=token, firebase_uid=uid)

    return make


@pytest.fixture
def new_api(infra: Infra, gateway_url: str) -> Callable[..., Awaitable[Api]]:
    """Signs up a fresh user on the emulator and returns a REST client acting as them (`admin=True`: an admin)."""
    return _api_factory(infra, gateway_url)


@pytest.fixture(scope="module")
def new_api_module(infra: Infra, gateway_url: str) -> Callable[..., Awaitable[Api]]:
    """`new_api` for module-scoped fixtures (a library shared by a module's tests)."""
    return _api_factory(infra, gateway_url)


@pytest.fixture
async def grpc_channel(infra: Infra, services: ServiceGroup) -> AsyncIterator[Callable[..., grpc.aio.Channel]]:
    """Real channels to the running services' gRPC servers, by service name; closed after the test.

    Calls carry the credential of `caller` (the gateway by default, the only caller whose admin flag counts).
    """
    opened: list[grpc.aio.Channel] = []

    def connect(service: str, caller: str = "gateway") -> grpc.aio.Channel:
        credential = ServiceCredential(name=caller, token=infra.secrets.service_tokens[caller])
        channel = make_channel(infra.config.addr(service), credential=credential)
        opened.append(channel)
        return channel

    yield connect
    for channel in opened:
        await channel.close()


# The services that talk to Redis: the s3 stack keeps its queues away from the session's workers.
_QUEUE_BLOCKS = ("gateway", "ingest", "analysis", "search")
_SERVICE_BLOCKS = ("gateway", "ingest", "analysis", "search", "billing")


@pytest.fixture(scope="session")
def aws_sim_config(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """The AWS simulator running on a free loopback port with the media bucket (for the s3 stack and AWS tests);
    the stack's config with `storage_backend="s3"`, its own ports and data dir."""
    data_dir = tmp_path_factory.mktemp("s3-stack")
    ports = iter(free_ports(6))
    cfg = dataclasses.replace(
        infra.config,
        data_dir=data_dir,
        storage_backend="s3",
        aws_port=next(ports),
        **{f"{block}_port": next(ports) for block in _SERVICE_BLOCKS},
    ).with_new_metrics_ports()
    for folder in (cfg.log_dir, cfg.run_dir, cfg.blobs_dir, cfg.aws_dir):
        folder.mkdir(parents=True, exist_ok=True)
    sim = aws_sim.child(cfg, infra.secrets)
    sim.start()
    try:
        sim.wait_ready()
        aws_sim.setup_hook(cfg, infra.secrets)
        yield cfg
    finally:
        sim.stop()


@pytest.fixture(scope="session")
def s3_stack(infra: Infra, aws_sim_config: StackConfig) -> Iterator[S3Stack]:
    """Trove on the s3 storage backend (see S3Stack); one per session, shared by every test that needs it."""
    cfg = aws_sim_config
    own_redis = redis_dsn(cfg, infra.secrets).removesuffix("/0") + "/2"
    overrides = (
        SESSION_OVERRIDES
        | SHARED_DATABASE_OVERRIDES
        | {f"TROVE_{block.upper()}_REDIS__DSN": own_redis for block in _QUEUE_BLOCKS}
    )
    s3 = sim_s3_settings(cfg, infra)
    stack_infra = dataclasses.replace(infra, config=cfg)
    with running_services(stack_infra, overrides=overrides):
        _wait_ready(cfg.gateway_url)
        yield S3Stack(config=cfg, infra=stack_infra, overrides=overrides, s3=s3)


@pytest.fixture(scope="session")
def cloud_stack(
    infra: Infra, aws_sim_config: StackConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudStack]:
    """Trove with every stage on its cloud provider (`make run-aws-sim`'s set-up): media in the AWS simulator's S3,
    Rekognition, Transcribe and Comprehend from trove_awssim, embeddings from Trove's OpenAI-compatible server;
    its own services, data dir and Redis database 3."""
    ports = iter(free_ports(2 + len(_SERVICE_BLOCKS)))
    cfg = dataclasses.replace(
        aws_sim_config,
        data_dir=tmp_path_factory.mktemp("cloud-stack"),
        cloud_providers=True,
        awssim_port=next(ports),
        embed_port=next(ports),
        **{f"{block}_port": next(ports) for block in _SERVICE_BLOCKS},
    ).with_new_metrics_ports()
    for folder in (cfg.log_dir, cfg.run_dir, cfg.blobs_dir, cfg.aws_dir):
        folder.mkdir(parents=True, exist_ok=True)
    children = [cloud_sim.awssim_child(cfg, infra.secrets), cloud_sim.embed_child(cfg)]
    try:
        for child in children:
            child.start()
        for child in children:
            child.wait_ready()
        cloud_sim.setup_hook(cfg, infra.secrets)
        own_redis = redis_dsn(cfg, infra.secrets).removesuffix("/0") + "/3"
        overrides = (
            SESSION_OVERRIDES
            | SHARED_DATABASE_OVERRIDES
            | {f"TROVE_{block.upper()}_REDIS__DSN": own_redis for block in _QUEUE_BLOCKS}
        )
        stack_infra = dataclasses.replace(infra, config=cfg)
        with running_services(stack_infra, overrides=overrides):
            _wait_ready(cfg.gateway_url)
            yield CloudStack(config=cfg, infra=stack_infra)
    finally:
        for child in reversed(children):
            child.stop()
