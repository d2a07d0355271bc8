"""gRPC adapter of the billing service."""

from __future__ import annotations

import grpc

from trove_billing.billing import Billing
from trove_billing.models import User
from trove_common.context import user_id_var
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self._billing = billing

    def _user_pb(self, user: User) -> billing_pb2.User:
        limits = self._billing.limits(user.tier)
        return billing_pb2.User(
            user_id=user.user_id,
            firebase_uid=user.firebase_uid,
            email=user.email,
            tier=user.tier,
            created_at=user.created_at.isoformat(),
            limits=billing_pb2.TierLimits(
                max_media_duration_s=limits.max_media_duration_s, max_file_bytes=limits.max_file_bytes
            ),
        )

    async def EnsureUser(
        self, request: billing_pb2.EnsureUserRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.EnsureUserResponse:
        user, created = await self._billing.ensure_user(firebase_uid=request.firebase_uid, email=request.email)
        return billing_pb2.EnsureUserResponse(user=self._user_pb(user), created=created)

    async def GetUser(self, request: billing_pb2.GetUserRequest, context: grpc.aio.ServicerContext) -> billing_pb2.User:
        return self._user_pb(await self._billing.get_user(user_id=user_id_var.get()))

    async def RecordCost(
        self, request: billing_pb2.RecordCostRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.RecordCostResponse:
        cost, recorded = await self._billing.record_cost(
            user_id=user_id_var.get(),
            idempotency_key=request.idempotency_key,
            media_id=request.media_id,
            stage=request.stage,
            service=request.service,
            units=request.units,
        )
        return billing_pb2.RecordCostResponse(amount=cost.amount, currency=cost.currency, recorded=recorded)
