"""The billing service as ingest uses it: quotas before uploads, usage as uploads come and go, budgets."""

from __future__ import annotations

from trove_common.context import USER_ID_KEY
from trove_ingest.models import Budget, Pending
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc


def _as(user_id: str) -> tuple[tuple[str, str], ...]:
    # Explicit, because the budget re-check runs outside any request (no user in the context).
    return ((USER_ID_KEY, user_id),)


class BillingAccounts:
    def __init__(self, stub: billing_pb2_grpc.BillingServiceStub) -> None:
        self._stub = stub

    async def check_quota(self, *, user_id: str, size_bytes: int, pending: Pending) -> None:
        await self._stub.CheckQuota(
            billing_pb2.CheckQuotaRequest(
                size_bytes=size_bytes, pending_bytes=pending.size_bytes, pending_uploads=pending.uploads
            ),
            metadata=_as(user_id),
        )

    async def budget(self, *, user_id: str) -> Budget:
        usage = await self._stub.GetUsage(billing_pb2.GetUsageRequest(), metadata=_as(user_id))
        return Budget(
            exhausted=usage.budget_exhausted,
            spent=usage.spent,
            amount=usage.budget,
            currency=usage.currency,
            queue_priority=usage.limits.queue_priority or "standard",
        )

    async def record_upload(self, *, user_id: str, media_id: str, size_bytes: int) -> None:
        await self._stub.RecordUpload(
            billing_pb2.RecordUploadRequest(media_id=media_id, size_bytes=size_bytes), metadata=_as(user_id)
        )

    async def record_deletion(self, *, user_id: str, media_id: str) -> None:
        await self._stub.RecordDeletion(billing_pb2.RecordDeletionRequest(media_id=media_id), metadata=_as(user_id))
