"""BillingService through a real channel to the running billing server."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import grpc
import pytest
from support import as_user

from trove_common.errors import InvalidArgumentError, NotFoundError
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
