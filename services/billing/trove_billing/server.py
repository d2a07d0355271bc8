"""gRPC adapter of the billing service."""

from __future__ import annotations

import grpc

from trove_billing.billing import Billing
from trove_billing.models import Usage, User
from trove_billing.settings import TierSettings
from trove_common.context import user_id_var
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc


def limits_pb(limits: TierSettings) -> billing_pb2.TierLimits:
    return billing_pb2.TierLimits(
        max_media_duration_s=limits.max_media_duration_s,
        max_file_bytes=limits.max_file_bytes,
        storage_bytes=limits.storage_bytes,
        uploads_per_month=limits.uploads_per_month,
        processing_minutes_per_month=limits.processing_minutes_per_month,
        queue_priority=limits.queue_priority,
        monthly_budget=limits.monthly_budget,
    )


def usage_pb(usage: Usage) -> billing_pb2.Usage:
    totals = usage.totals
    return billing_pb2.Usage(
        period=totals.period.isoformat(),
        tier=usage.tier,
        limits=limits_pb(usage.limits),
        storage_bytes=totals.storage_bytes,
        uploads=totals.uploads,
        processing_minutes=totals.compute_s / 60,
        cost_by_service=totals.cost_by_service,
        spent=totals.spent,
        budget=usage.budget,
        budget_used=usage.budget_used,
        budget_exhausted=usage.budget_exhausted,
        currency=usage.currency,
    )


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self._billing = billing

    def _user_pb(self, user: User) -> billing_pb2.User:
        return billing_pb2.User(
            user_id=user.user_id,
            firebase_uid=user.firebase_uid,
            email=user.email,
            tier=user.tier,
            created_at=user.created_at.isoformat(),
            limits=limits_pb(self._billing.limits(user.tier)),
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

    async def CheckQuota(
        self, request: billing_pb2.CheckQuotaRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.CheckQuotaResponse:
        await self._billing.check_quota(
            user_id=user_id_var.get(),
            size_bytes=request.size_bytes,
            pending_bytes=request.pending_bytes,
            pending_uploads=request.pending_uploads,
        )
        return billing_pb2.CheckQuotaResponse()

    async def RecordUpload(
        self, request: billing_pb2.RecordUploadRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.RecordUsageResponse:
        recorded = await self._billing.record_upload(
            user_id=user_id_var.get(), media_id=request.media_id, size_bytes=request.size_bytes
        )
        return billing_pb2.RecordUsageResponse(recorded=recorded)

    async def RecordDerivedBytes(
        self, request: billing_pb2.RecordDerivedBytesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.RecordUsageResponse:
        recorded = await self._billing.record_derived_bytes(
            user_id=user_id_var.get(), media_id=request.media_id, size_bytes=request.size_bytes
        )
        return billing_pb2.RecordUsageResponse(recorded=recorded)

    async def RecordDeletion(
        self, request: billing_pb2.RecordDeletionRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.RecordUsageResponse:
        recorded = await self._billing.record_deletion(user_id=user_id_var.get(), media_id=request.media_id)
        return billing_pb2.RecordUsageResponse(recorded=recorded)

    async def GetUsage(
        self, request: billing_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Usage:
        return usage_pb(await self._billing.usage(user_id=user_id_var.get()))

    async def ListCosts(
        self, request: billing_pb2.ListCostsRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListCostsResponse:
        page = await self._billing.ledger(user_id=user_id_var.get(), limit=request.limit, cursor=request.cursor)
        items = [
            billing_pb2.CostEntry(
                media_id=e.media_id or "",
                stage=e.stage,
                service=e.service,
                units=e.units,
                unit_price=e.unit_price,
                amount=e.amount,
                currency=e.currency,
                period=e.period.isoformat(),
                created_at=e.created_at.isoformat(),
            )
            for e in page.items
        ]
        return billing_pb2.ListCostsResponse(items=items, next_cursor=page.next_cursor)

    async def ListAlerts(
        self, request: billing_pb2.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListAlertsResponse:
        alerts = await self._billing.alerts(user_id=user_id_var.get())
        items = [
            billing_pb2.Alert(
                period=a.period.isoformat(),
                threshold_pct=a.threshold_pct,
                spent=a.spent,
                budget=a.budget,
                currency=a.currency,
                created_at=a.created_at.isoformat(),
            )
            for a in alerts
        ]
        return billing_pb2.ListAlertsResponse(items=items)

    async def SetTier(self, request: billing_pb2.SetTierRequest, context: grpc.aio.ServicerContext) -> billing_pb2.User:
        return self._user_pb(await self._billing.set_tier(user_id=request.user_id, tier=request.tier))

    async def SetBudget(
        self, request: billing_pb2.SetBudgetRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.Budget:
        user_id, amount = await self._billing.set_budget(user_id=request.user_id, amount=request.amount)
        return billing_pb2.Budget(user_id=user_id, amount=amount, currency=self._billing.currency)
