"""REST handlers of billing: /api/v1/me, /api/v1/billing/{usage,ledger,alerts} and the admin routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trove_common.context import ADMIN_KEY
from trove_gateway.api import signed_in
from trove_gateway.bodies import int_param, parse_body
from trove_protos.billing.v1 import billing_pb2

MAX_BUDGET = 1_000_000

# Sent to billing only on calls made for a verified admin; billing refuses admin RPCs without it.
_ADMIN_METADATA = ((ADMIN_KEY, "1"),)


class TierBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tier: str = Field(min_length=1, max_length=40)


class BudgetBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Python's JSON parser accepts NaN and Infinity literals; a budget must be a real number.
    amount: float = Field(ge=0, le=MAX_BUDGET, allow_inf_nan=False, description="monthly budget, ledger currency")


def _limits_json(limits: billing_pb2.TierLimits) -> dict[str, Any]:
    return {
        "max_media_duration_s": limits.max_media_duration_s,
        "max_file_bytes": limits.max_file_bytes,
        "storage_bytes": limits.storage_bytes,
        "uploads_per_month": limits.uploads_per_month,
        "processing_minutes_per_month": limits.processing_minutes_per_month,
        "queue_priority": limits.queue_priority,
        "monthly_budget": limits.monthly_budget,
    }


def _user_json(user: billing_pb2.User) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "email": user.email,
        "tier": user.tier,
        "created_at": user.created_at,
        "limits": _limits_json(user.limits),
    }


async def me(request: Request) -> Response:
    state = await signed_in(request)
    return JSONResponse(_user_json(await state.backends.billing.GetUser(billing_pb2.GetUserRequest())))


async def usage(request: Request) -> Response:
    state = await signed_in(request)
    u = await state.backends.billing.GetUsage(billing_pb2.GetUsageRequest())
    return JSONResponse(
        {
            "period": u.period,
            "tier": u.tier,
            "storage_bytes": u.storage_bytes,
            "uploads": u.uploads,
            "processing_minutes": round(u.processing_minutes, 4),
            "cost_by_service": dict(u.cost_by_service),
            "spent": u.spent,
            "budget": u.budget,
            "budget_used": round(u.budget_used, 6),
            "budget_exhausted": u.budget_exhausted,
            "currency": u.currency,
            "limits": _limits_json(u.limits),
        }
    )


async def ledger(request: Request) -> Response:
    state = await signed_in(request)
    page = await state.backends.billing.ListCosts(
        billing_pb2.ListCostsRequest(
            limit=int_param(request.query_params, "limit", default=50), cursor=request.query_params.get("cursor", "")
        )
    )
    items = [
        {
            "media_id": e.media_id or None,
            "stage": e.stage,
            "service": e.service,
            "units": e.units,
            "unit_price": e.unit_price,
            "amount": e.amount,
            "currency": e.currency,
            "period": e.period,
            "created_at": e.created_at,
        }
        for e in page.items
    ]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor or None})


async def alerts(request: Request) -> Response:
    state = await signed_in(request)
    response = await state.backends.billing.ListAlerts(billing_pb2.ListAlertsRequest())
    items = [
        {
            "period": a.period,
            "threshold_pct": a.threshold_pct,
            "spent": a.spent,
            "budget": a.budget,
            "currency": a.currency,
            "created_at": a.created_at,
        }
        for a in response.items
    ]
    return JSONResponse({"items": items})


async def set_tier(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    body = await parse_body(request, TierBody)
    user = await state.backends.billing.SetTier(
        billing_pb2.SetTierRequest(user_id=request.path_params["user_id"], tier=body.tier), metadata=_ADMIN_METADATA
    )
    return JSONResponse(_user_json(user))


async def set_budget(request: Request) -> Response:
    state = await signed_in(request, admin=True)
    body = await parse_body(request, BudgetBody)
    budget = await state.backends.billing.SetBudget(
        billing_pb2.SetBudgetRequest(user_id=request.path_params["user_id"], amount=body.amount),
        metadata=_ADMIN_METADATA,
    )
    return JSONResponse({"user_id": budget.user_id, "amount": budget.amount, "currency": budget.currency})


ROUTES = [
    Route("/api/v1/me", me, methods=["GET"]),
    Route("/api/v1/billing/usage", usage, methods=["GET"]),
    Route("/api/v1/billing/ledger", ledger, methods=["GET"]),
    Route("/api/v1/billing/alerts", alerts, methods=["GET"]),
    Route("/api/v1/admin/users/{user_id}/tier", set_tier, methods=["PUT"]),
    Route("/api/v1/admin/users/{user_id}/budget", set_budget, methods=["PUT"]),
]
