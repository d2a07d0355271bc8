"""gRPC adapter of the billing service."""

from __future__ import annotations

import grpc

from trove_billing.billing import Billing
from trove_billing.models import User
from trove_common.context import user_id_var
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc


def _user_pb(user: User) -> billing_pb2.User:
    return billing_pb2.User(
        user_id=user.user_id,
        firebase_uid=user.firebase_uid,
        email=user.email,
        tier=user.tier,
        created_at=user.created_at.isoformat(),
    )


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self._billing = billing

    async def EnsureUser(
        self, request: billing_pb2.EnsureUserRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.EnsureUserResponse:
        user, created = await self._billing.ensure_user(firebase_uid=request.firebase_uid, email=request.email)
        return billing_pb2.EnsureUserResponse(user=_user_pb(user), created=created)

    async def GetUser(self, request: billing_pb2.GetUserRequest, context: grpc.aio.ServicerContext) -> billing_pb2.User:
        return _user_pb(await self._billing.get_user(user_id=user_id_var.get()))
