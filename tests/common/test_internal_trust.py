"""Internal trust on the running stack: no gRPC call without a service credential, admin only where it is due.

Every server refuses a call without a valid `x-trove-caller` + `x-trove-service-token` (UNAUTHENTICATED, before
the request is parsed), believes the admin flag only from the gateway, and checks the admin role on its own
admin RPCs. Health stays open for probes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support import REPO, as_user, billing_user

from trove_common.context import ADMIN_KEY, ADMIN_METADATA, CALLER_KEY, SERVICE_TOKEN_KEY
from trove_common.errors import PermissionDeniedError, TroveError
from trove_protos.analysis.v1 import analysis_pb2, analysis_pb2_grpc
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc
from trove_protos.ingest.v1 import ingest_pb2
from trove_protos.search.v1 import search_pb2, search_pb2_grpc
from trove_stack.config import SERVICE_PATHS
from trove_stack.infra import Infra, ServiceGroup

Connect = Callable[..., grpc.aio.Channel]

# One ordinary RPC per service: (method path, a valid request).
ORDINARY: dict[str, tuple[str, Any]] = {
    "billing": ("/trove.billing.v1.BillingService/GetUser", billing_pb2.GetUserRequest()),
    "ingest": ("/trove.ingest.v1.IngestService/ListMedia", ingest_pb2.ListMediaRequest()),
    "analysis": ("/trove.analysis.v1.AnalysisService/GetAnalysis", analysis_pb2.GetAnalysisRequest()),
    "search": ("/trove.search.v1.SearchService/Search", search_pb2.SearchRequest(query="anything")),
}
# Bytes that are no protobuf message at all: a server that parsed them would fail with INTERNAL.
NOT_PROTOBUF = b"\xff\xff\xff\xff\xff"


@pytest.fixture
async def raw_channel(infra: Infra, services: ServiceGroup) -> AsyncIterator[Callable[[str], grpc.aio.Channel]]:
    """Plain channels without our client interceptor: whatever metadata the test sends, nothing more."""
    opened: list[grpc.aio.Channel] = []

    def connect(service: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(infra.config.addr(service))
        opened.append(channel)
        return channel

    yield connect
    for channel in opened:
        await channel.close()


async def _raw_call(channel: grpc.aio.Channel, method: str, body: bytes, metadata: tuple[tuple[str, str], ...]) -> Any:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    return await call(body, metadata=metadata, timeout=10)


def _credential(infra: Infra, caller: str, token: str | None = None) -> tuple[tuple[str, str], ...]:
    return ((CALLER_KEY, caller), (SERVICE_TOKEN_KEY, infra.secrets.service_tokens[caller] if token is None else token))


@pytest.mark.parametrize("service", sorted(ORDINARY))
async def test_a_call_without_a_credential_is_refused_before_its_request_is_parsed(
    infra: Infra, raw_channel: Callable[[str], grpc.aio.Channel], service: str
) -> None:
    method, request = ORDINARY[service]
    channel = raw_channel(service)
    user = as_user(str(uuid.uuid4()))
    for body in (request.SerializeToString(), NOT_PROTOBUF):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _raw_call(channel, method, body, user)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value.details()
    # With a valid credential the same garbage does reach the parser (and fails there): the refusal came first.
    with pytest.raises(grpc.aio.AioRpcError) as parsed:
        await _raw_call(channel, method, NOT_PROTOBUF, (*_credential(infra, "gateway"), *user))
    assert parsed.value.code() != grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("service", sorted(ORDINARY))
async def test_a_wrong_token_an_unknown_caller_or_a_caller_not_listed_is_refused(
    infra: Infra, raw_channel: Callable[[str], grpc.aio.Channel], service: str
) -> None:
    method, request = ORDINARY[service]
    channel = raw_channel(service)
    gateway_token = infra.secrets.service_tokens["gateway"]
    # billing calls no one, so no server lists it among its callers.
    attempts = [
        _credential(infra, "gateway", token="0" * len(gateway_token)),
        _credential(infra, "gateway", token=gateway_token[:-1]),
        ((CALLER_KEY, "stranger"), (SERVICE_TOKEN_KEY, gateway_token)),
        ((SERVICE_TOKEN_KEY, gateway_token),),
        _credential(infra, "billing") if service != "billing" else _credential(infra, "search"),
    ]
    if service == "analysis":
        attempts.append(_credential(infra, "ingest"))  # only the gateway calls analysis
    for metadata in attempts:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _raw_call(channel, method, request.SerializeToString(), metadata)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, metadata[0]


async def test_a_refused_credential_surfaces_as_an_internal_error_not_the_users_401(infra: Infra) -> None:
    from trove_common.grpc_client import ServiceCredential, make_channel

    channel = make_channel(infra.config.addr("billing"), credential=ServiceCredential(name="gateway", token="x" * 64))
    try:
        with pytest.raises(TroveError) as refused:
            await billing_pb2_grpc.BillingServiceStub(channel).GetUser(billing_pb2.GetUserRequest())
        assert type(refused.value) is TroveError
        assert refused.value.__cause__ is not None
        assert refused.value.__cause__.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    finally:
        await channel.close()


@pytest.mark.parametrize("service", sorted(ORDINARY))
async def test_health_answers_without_a_credential(
    raw_channel: Callable[[str], grpc.aio.Channel], service: str
) -> None:
    stub = health_pb2_grpc.HealthStub(raw_channel(service))
    response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_every_admin_rpc_needs_the_admin_flag(grpc_channel: Connect) -> None:
    user = await billing_user(grpc_channel("billing"))
    billing = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    analysis = analysis_pb2_grpc.AnalysisServiceStub(grpc_channel("analysis"))
    search = search_pb2_grpc.SearchServiceStub(grpc_channel("search"))
    calls = [
        lambda md: billing.SetTier(billing_pb2.SetTierRequest(user_id=user, tier="pro"), metadata=md),
        lambda md: billing.SetBudget(billing_pb2.SetBudgetRequest(user_id=user, amount=5), metadata=md),
        lambda md: analysis.ListDeadLetters(analysis_pb2.ListDeadLettersRequest(limit=1), metadata=md),
        lambda md: analysis.RequeueDeadLetter(
            analysis_pb2.RequeueDeadLetterRequest(dead_letter_id=str(uuid.uuid4())), metadata=md
        ),
        lambda md: search.StartReindex(search_pb2.StartReindexRequest(), metadata=md),
        lambda md: search.GetReindex(search_pb2.GetReindexRequest(), metadata=md),
    ]
    for call in calls:
        for metadata in (as_user(user), ((ADMIN_KEY, "0"), *as_user(user)), ((ADMIN_KEY, "true"),)):
            with pytest.raises(PermissionDeniedError):
                await call(metadata)
    # The gateway's admin flag opens them (read-only ones here: nothing is changed or started).
    assert (await search.GetReindex(search_pb2.GetReindexRequest(), metadata=ADMIN_METADATA)).active.space
    await analysis.ListDeadLetters(analysis_pb2.ListDeadLettersRequest(limit=1), metadata=ADMIN_METADATA)


async def test_only_the_gateway_may_vouch_for_an_admin(grpc_channel: Connect) -> None:
    user = await billing_user(grpc_channel("billing"))
    for caller in ("ingest", "analysis"):
        billing = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing", caller=caller))
        with pytest.raises(PermissionDeniedError):
            await billing.SetTier(billing_pb2.SetTierRequest(user_id=user, tier="pro"), metadata=ADMIN_METADATA)
        with pytest.raises(PermissionDeniedError):
            await billing.SetBudget(billing_pb2.SetBudgetRequest(user_id=user, amount=5), metadata=ADMIN_METADATA)
    for caller in ("ingest", "analysis"):
        search = search_pb2_grpc.SearchServiceStub(grpc_channel("search", caller=caller))
        with pytest.raises(PermissionDeniedError):
            await search.GetReindex(search_pb2.GetReindexRequest(), metadata=ADMIN_METADATA)
        with pytest.raises(PermissionDeniedError):
            await search.StartReindex(search_pb2.StartReindexRequest(), metadata=ADMIN_METADATA)
    gateway = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    changed = await gateway.SetTier(billing_pb2.SetTierRequest(user_id=user, tier="pro"), metadata=ADMIN_METADATA)
    assert changed.tier == "pro"


@pytest.mark.parametrize(
    ("token", "callers"),
    [(None, None), ("too-short", None), ("t" * 64, '{"gateway": "short"}')],
)
def test_a_service_without_a_proper_token_refuses_to_start_and_names_the_variable(
    token: str | None, callers: str | None
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROVE_")}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO / p) for p in SERVICE_PATHS)
    if token is not None:
        env["TROVE_BILLING_SERVICE_AUTH__TOKEN"] = token
    if callers is not None:
        env["TROVE_BILLING_SERVICE_AUTH__CALLERS"] = callers
    done = subprocess.run(
        [sys.executable, "-m", "trove_billing.main"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert ("SERVICE_AUTH__CALLERS" if callers else "SERVICE_AUTH__TOKEN") in done.stderr, done.stderr


def test_the_reindex_command_acts_as_admin_with_the_search_services_own_credential(
    infra: Infra, services: ServiceGroup
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROVE_")}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO / p) for p in SERVICE_PATHS)
    env.update(infra.service_env()["search"])
    argv = [sys.executable, "-m", "trove_search.reindex", "status"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["active"]["space"]
    env["TROVE_SEARCH_SERVICE_AUTH__TOKEN"] = "f" * 64  # someone else's idea of search's token
    refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "refused the credential" in refused.stderr
