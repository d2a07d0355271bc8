"""REST handlers of billing: /api/v1/me, /api/v1/billing/{usage,ledger,alerts} and the admin routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from trove_common.context import ADMIN_KEY
from trove_gateway import responses as out
from trove_gateway.api import signed_in
from trove_gateway.bodies import BudgetBody, PageQuery, TierBody, parse_body, parse_query
from trove_gateway.openapi import ApiRoute, Operation
from trove_protos.billing.v1 import billing_pb2

# Sent to billing only on calls made for a verified admin; billing refuses admin RPCs without it.
_ADMIN_METADATA = ((ADMIN_KEY, "1"),)


def _limits_out(limits: billing_pb2.TierLimits) -> out.TierLimits:
    return out.TierLimits(
        max_media_duration_s=limits.max_media_duration_s,
        max_file_bytes=limits.max_file_bytes,
        storage_bytes=limits.storage_bytes,
        uploads_per_month=limits.uploads_per_month,
        processing_minutes_per_month=limits.processing_minutes_per_month,
        queue_priority=limits.queue_priority,
        monthly_budget=limits.monthly_budget,
    )


def _user_out(user: billing_pb2.User) -> out.User:
    return out.User(
        user_id=user.user_id,
        email=user.email,
        tier=user.tier,
        created_at=user.created_at,
        limits=_limits_out(user.limits),
    )


async def me(request: Request) -> Response:
    state = await signed_in(request)
    return out.respond(_user_out(await state.backends.billing.GetUser(billing_pb2.GetUserRequest())))


async def usage(request: Request) -> Response:
    state = await signed_in(request)
    u = await state.backends.billing.GetUsage(billing_pb2.GetUsageRequest())
    return out.respond(
        out.Usage(
            period=u.period,
            tier=u.tier,
            storage_bytes=u.storage_bytes,
            uploads=u.uploads,
            processing_minutes=round(u.processing_minutes, 4),
            cost_by_service=dict(u.cost_by_service),
            spent=u.spent,
            budget=u.budget,
            budget_used=round(u.budget_used, 6),
            budget_exhausted=u.budget_exhausted,
            currency=u.currency,
            limits=_limits_out(u.limits),
        )
    )


async def ledger(request: Request) -> Response:
    state = await signed_in(request)
    query = parse_query(request.query_params, PageQuery)
    page = await state.backends.billing.ListCosts(billing_pb2.ListCostsRequest(limit=query.limit, cursor=query.cursor))
    items = [
        out.LedgerEntry(
            media_id=e.media_id or None,
            stage=e.stage,
            service=e.service,
            units=e.units,
            unit_price=e.unit_price,
            amount=e.amount,
            currency=e.currency,
            period=e.period,
            created_at=e.created_at,
        )
        for e in page.items
    ]
    return out.respond(out.Ledger(items=items, next_cursor=page.next_cursor or None))


async def alerts(request: Request) -> Response:
    state = await signed_in(request)
    response = await state.backends.billing.ListAlerts(billing_pb2.ListAlertsRequest())
    items = [
        out.Alert(
            period=a.period,
            threshold_pct=a.threshold_pct,
            spent=a.spent,
            budget=a.budget,
            currency=a.currency,
            created_at=a.created_at,
        )
        for a in response.items
    ]
    return out.respond(out.Alerts(items=items))


async def set_tier(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    body = await parse_body(request, TierBody)
    user = await state.backends.billing.SetTier(
        billing_pb2.SetTierRequest(user_id=request.path_params["user_id"], tier=body.tier), metadata=_ADMIN_METADATA
    )
    return out.respond(_user_out(user))


async def set_budget(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    body = await parse_body(request, BudgetBody)
    budget = await state.backends.billing.SetBudget(
        billing_pb2.SetBudgetRequest(user_id=request.path_params["user_id"], amount=body.amount),
        metadata=_ADMIN_METADATA,
    )
    return out.respond(out.Budget(user_id=budget.user_id, amount=budget.amount, currency=budget.currency))


ROUTES = [
    ApiRoute(
        "/api/v1/me",
        me,
        method="GET",
        operation=Operation(
            operation_id="getMe", summary="The caller's account, tier and limits", tag="account", response=out.User
        ),
    ),
    ApiRoute(
        "/api/v1/billing/usage",
        usage,
        method="GET",
        operation=Operation(
            operation_id="getUsage",
            summary="This month's usage, spend and budget",
            tag="billing",
            response=out.Usage,
        ),
    ),
    ApiRoute(
        "/api/v1/billing/ledger",
        ledger,
        method="GET",
        operation=Operation(
            operation_id="getLedger",
            summary="The caller's cost entries, newest first",
            tag="billing",
            query=PageQuery,
            response=out.Ledger,
        ),
    ),
    ApiRoute(
        "/api/v1/billing/alerts",
        alerts,
        method="GET",
        operation=Operation(
            operation_id="getAlerts", summary="Budget alerts (80 % and 100 %)", tag="billing", response=out.Alerts
        ),
    ),
    ApiRoute(
        "/api/v1/admin/users/{user_id}/tier",
        set_tier,
        method="PUT",
        operation=Operation(
            operation_id="setTier",
            summary="Admin: move a user to another tier",
            tag="admin",
            body=TierBody,
            response=out.User,
            errors=(404,),
            admin=True,
        ),
    ),
    ApiRoute(
        "/api/v1/admin/users/{user_id}/budget",
        set_budget,
        method="PUT",
        operation=Operation(
            operation_id="setBudget",
            summary="Admin: set a user's monthly budget",
            tag="admin",
            body=BudgetBody,
            response=out.Budget,
            errors=(404,),
            admin=True,
        ),
    ),
]
