"""BillingService through a real channel to the running billing server."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable

import grpc
import pytest
from support import as_user, billing_user

from trove_common.context import ADMIN_KEY
from trove_common.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError, QuotaExceededError
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc

Connect = Callable[[str], grpc.aio.Channel]


async def test_ensure_user_creates_once_with_tier_free(grpc_channel: Connect) -> None:
    stub = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    uid = f"uid-{uuid.uuid4().hex}"
    first = await stub.EnsureUser(billing_pb2.EnsureUserRequest(firebase_uid=uid, email="a@example.com"))
    second = await stub.EnsureUser(billing_pb2.EnsureUserRequest(firebase_uid=uid, email="a@example.com"))
    assert first.created and not second.created
    assert first.user.user_id == second.user.user_id
    assert first.user.tier == "free"
    me = await stub.GetUser(billing_pb2.GetUserRequest(), metadata=as_user(first.user.user_id))
    assert me.firebase_uid == uid and me.email == "a@example.com"


async def test_bad_input_and_unknown_users(grpc_channel: Connect) -> None:
    stub = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    with pytest.raises(InvalidArgumentError, match="firebase_uid"):
        await stub.EnsureUser(billing_pb2.EnsureUserRequest(firebase_uid=""))
    with pytest.raises(NotFoundError):
        await stub.GetUser(billing_pb2.GetUserRequest(), metadata=as_user(str(uuid.uuid4())))
    with pytest.raises(InvalidArgumentError, match="user"):
        await stub.GetUser(billing_pb2.GetUserRequest())


ADMIN = ((ADMIN_KEY, "1"),)


async def _cost(stub: billing_pb2_grpc.BillingServiceStub, user: str, key: str, units: float) -> bool:
    response = await stub.RecordCost(
        billing_pb2.RecordCostRequest(idempotency_key=key, stage="image", service="local-compute", units=units),
        metadata=as_user(user),
    )
    return bool(response.recorded)


async def _thresholds(stub: billing_pb2_grpc.BillingServiceStub, user: str) -> list[int]:
    alerts = await stub.ListAlerts(billing_pb2.ListAlertsRequest(), metadata=as_user(user))
    return sorted(a.threshold_pct for a in alerts.items)


async def test_retried_costs_count_once_and_each_alert_fires_once_per_period(grpc_channel: Connect) -> None:
    stub = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    user = await billing_user(grpc_channel("billing"))
    await stub.SetBudget(billing_pb2.SetBudgetRequest(user_id=user, amount=1.0), metadata=ADMIN)
    first = await stub.RecordCost(
        billing_pb2.RecordCostRequest(idempotency_key="k1", service="local-compute", units=1), metadata=as_user(user)
    )
    price = first.amount  # one unit's price, from the configured table
    assert price > 0 and first.recorded
    assert await _cost(stub, user, "k2", 0.5 / price)
    assert await _thresholds(stub, user) == []
    assert await _cost(stub, user, "k3", 0.3 / price)  # now just over 80 %
    assert not await _cost(stub, user, "k3", 0.3 / price)  # a retry
    assert await _thresholds(stub, user) == [80]
    assert await _cost(stub, user, "k4", 0.05 / price)
    assert await _thresholds(stub, user) == [80]
    assert await _cost(stub, user, "k5", 0.2 / price)  # over 100 %
    assert await _thresholds(stub, user) == [80, 100]

    usage = await stub.GetUsage(billing_pb2.GetUsageRequest(), metadata=as_user(user))
    assert usage.budget_exhausted and usage.budget == 1.0
    assert usage.spent == pytest.approx(price + 1.05)
    assert usage.processing_minutes == pytest.approx((1 + 1.05 / price) / 60)
    pages, cursor = [], ""
    while True:
        page = await stub.ListCosts(billing_pb2.ListCostsRequest(limit=2, cursor=cursor), metadata=as_user(user))
        pages.append(len(page.items))
        cursor = page.next_cursor
        if not cursor:
            break
    assert pages == [2, 2, 1]


async def test_quota_errors_name_the_limit_usage_and_allowed_value(grpc_channel: Connect) -> None:
    stub = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    user = await billing_user(grpc_channel("billing"))
    me = await stub.GetUser(billing_pb2.GetUserRequest(), metadata=as_user(user))
    await stub.CheckQuota(billing_pb2.CheckQuotaRequest(size_bytes=1000), metadata=as_user(user))
    with pytest.raises(QuotaExceededError) as too_big:
        await stub.CheckQuota(
            billing_pb2.CheckQuotaRequest(size_bytes=me.limits.max_file_bytes + 1), metadata=as_user(user)
        )
    assert too_big.value.details["limit"] == "max_file_bytes"
    assert too_big.value.details["allowed"] == me.limits.max_file_bytes
    # Uploads started and not completed count as if they were.
    with pytest.raises(QuotaExceededError) as crowded:
        await stub.CheckQuota(
            billing_pb2.CheckQuotaRequest(size_bytes=1000, pending_uploads=me.limits.uploads_per_month),
            metadata=as_user(user),
        )
    assert crowded.value.details["limit"] == "uploads_per_month"
    with pytest.raises(QuotaExceededError) as full:
        await stub.CheckQuota(
            billing_pb2.CheckQuotaRequest(size_bytes=1000, pending_bytes=me.limits.storage_bytes),
            metadata=as_user(user),
        )
    assert full.value.details["limit"] == "storage_bytes"
    with pytest.raises(InvalidArgumentError):
        await stub.CheckQuota(billing_pb2.CheckQuotaRequest(size_bytes=1000, pending_bytes=-1), metadata=as_user(user))
    minutes = me.limits.processing_minutes_per_month
    assert await _cost(stub, user, "long-video", minutes * 60)
    with pytest.raises(QuotaExceededError, match="processing minutes") as busy:
        await stub.CheckQuota(billing_pb2.CheckQuotaRequest(size_bytes=1000), metadata=as_user(user))
    assert busy.value.details == {
        "limit": "processing_minutes_per_month",
        "usage": minutes,
        "allowed": minutes,
        "requested_bytes": 1000,
        "tier": "free",
    }


async def test_usage_counts_each_upload_and_deletion_once(grpc_channel: Connect) -> None:
    stub = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    user = await billing_user(grpc_channel("billing"))
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    for media_id, size, expected in ((one, 100, True), (one, 100, False), (two, 50, True)):
        response = await stub.RecordUpload(
            billing_pb2.RecordUploadRequest(media_id=media_id, size_bytes=size), metadata=as_user(user)
        )
        assert response.recorded is expected
    for expected in (True, False):
        response = await stub.RecordDeletion(billing_pb2.RecordDeletionRequest(media_id=one), metadata=as_user(user))
        assert response.recorded is expected
    usage = await stub.GetUsage(billing_pb2.GetUsageRequest(), metadata=as_user(user))
    assert (usage.storage_bytes, usage.uploads) == (50, 2)


async def test_admin_rpcs_need_the_gateways_admin_flag_and_good_input(grpc_channel: Connect) -> None:
    stub = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    user = await billing_user(grpc_channel("billing"))
    with pytest.raises(PermissionDeniedError):
        await stub.SetTier(billing_pb2.SetTierRequest(user_id=user, tier="pro"), metadata=as_user(user))
    with pytest.raises(PermissionDeniedError):
        await stub.SetBudget(billing_pb2.SetBudgetRequest(user_id=user, amount=5), metadata=as_user(user))
    with pytest.raises(InvalidArgumentError, match="tier must be one of"):
        await stub.SetTier(billing_pb2.SetTierRequest(user_id=user, tier="gold"), metadata=ADMIN)
    for amount in (-1.0, math.nan, math.inf, 1e7):
        with pytest.raises(InvalidArgumentError, match="amount"):
            await stub.SetBudget(billing_pb2.SetBudgetRequest(user_id=user, amount=amount), metadata=ADMIN)
    for target in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(NotFoundError):
            await stub.SetTier(billing_pb2.SetTierRequest(user_id=target, tier="pro"), metadata=ADMIN)
        with pytest.raises(NotFoundError):
            await stub.SetBudget(billing_pb2.SetBudgetRequest(user_id=target, amount=5), metadata=ADMIN)
    moved = await stub.SetTier(billing_pb2.SetTierRequest(user_id=user, tier="premium"), metadata=ADMIN)
    assert moved.tier == "premium" and moved.limits.queue_priority == "premium"
    with pytest.raises(InvalidArgumentError, match="cursor"):
        await stub.ListCosts(billing_pb2.ListCostsRequest(limit=10, cursor="bm9wZQ"), metadata=as_user(user))
