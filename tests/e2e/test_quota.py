"""Quotas that hold under concurrency, and uploads whose URLs and bytes end with them (REST and the real pipeline)."""

from __future__ import annotations

import asyncio
import stat
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from support import DEV_MEDIA, Api, as_user

from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc
from trove_stack.infra import Infra

NewApi = Callable[..., Awaitable[Api]]
Connect = Callable[[str], grpc.aio.Channel]
GiB = 1024**3


async def _user_id(api: Api) -> str:
    response = await api.request("GET", "/api/v1/me")
    assert response.status_code == 200, response.text
    return str(response.json()["user_id"])


async def _ticket(api: Api, name: str, content_type: str) -> tuple[dict[str, Any], bytes]:
    data = (DEV_MEDIA / name).read_bytes()
    created = await api.create_upload(name, content_type, len(data))
    assert created.status_code == 201, created.text
    return created.json(), data


async def _expire(infra: Infra, *, user_id: str, upload_id: str) -> None:
    """Move an upload's expiry into the past, as time would (as the ingest role, under row-level security)."""
    conn = await asyncpg.connect(infra.dsns["ingest"])
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
            updated = await conn.execute(
                "UPDATE ingest.uploads SET expires_at = now() - interval '2 hours' WHERE upload_id = $1::uuid",
                upload_id,
            )
        assert updated == "UPDATE 1"
    finally:
        await conn.close()


async def test_parallel_creates_admit_exactly_what_the_free_tier_allows(new_api: NewApi) -> None:
    # Free tier: 2 GiB files, 10 GiB in all: five of the largest files fit, however many ask at once.
    api = await new_api()
    responses = await asyncio.gather(*(api.create_upload(f"big-{n}.mp4", "video/mp4", 2 * GiB) for n in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [402] * 15, statuses
    for response in responses:
        if response.status_code == 402:
            error = response.json()["error"]
            assert error["code"] == "quota_exceeded", error
            assert error["details"] == {
                "limit": "storage_bytes",
                "usage": 10 * GiB,
                "allowed": 10 * GiB,
                "requested_bytes": 2 * GiB,
                "tier": "free",
            }, error


async def test_complete_refuses_an_expired_upload(new_api: NewApi, infra: Infra) -> None:
    api = await new_api()
    ticket, data = await _ticket(api, "grass.png", "image/png")
    assert (await api.put(ticket, data)).status_code == 200
    await _expire(infra, user_id=await _user_id(api), upload_id=ticket["upload_id"])
    response = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict" and "expired" in error["message"], error
    assert error["details"]["reason"] == "upload_expired"
    assert (await api.request("GET", "/api/v1/billing/usage")).json()["uploads"] == 0


async def test_media_longer_than_the_processing_minutes_left_is_refused(new_api: NewApi, grpc_channel: Connect) -> None:
    api = await new_api()
    user = as_user(await _user_id(api))
    billing = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    usage = await billing.GetUsage(billing_pb2.GetUsageRequest(), metadata=user)
    # Use all but one second of the month's processing minutes.
    await billing.RecordCost(
        billing_pb2.RecordCostRequest(
            idempotency_key=f"test-{uuid.uuid4()}",
            service="local-compute",
            units=usage.limits.processing_minutes_per_month * 60 - 1,
        ),
        metadata=user,
    )
    media_id = await api.upload((DEV_MEDIA / "pasta_recipe.mp3").read_bytes(), "pasta_recipe.mp3", "audio/mpeg")
    done = await api.wait_done(media_id)
    assert done["status"] == "failed" and "processing minutes are left" in done["error"], done
    stages = (await api.request("GET", f"/api/v1/media/{media_id}")).json()["analysis"]["stages"]
    assert not [s for s in stages if s["stage"] == "transcription" and s["status"] == "succeeded"], stages


async def test_a_signed_url_is_dead_once_its_upload_is_completed_or_deleted(new_api: NewApi) -> None:
    api = await new_api()
    ticket, data = await _ticket(api, "grace_hopper.jpg", "image/jpeg")
    assert (await api.put(ticket, data)).status_code == 200
    again = await api.put(ticket, data[::-1])  # written bytes are never replaced
    assert again.status_code == 409, again.text
    done = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 202, done.text
    media_id = done.json()["media_id"]
    assert (await api.put(ticket, data)).status_code == 409
    await api.wait_done(media_id)
    assert (await api.request("DELETE", f"/api/v1/media/{media_id}")).status_code == 204
    after = await api.put(ticket, data)
    assert after.status_code in (403, 404, 409), after.text
    assert after.json()["error"]["code"] in ("not_found", "conflict", "permission_denied")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_deleting_every_media_empties_the_users_private_folder(new_api: NewApi, infra: Infra) -> None:
    api = await new_api()
    folder = infra.config.blobs_dir / "users" / await _user_id(api)
    ids = [
        await api.upload((DEV_MEDIA / name).read_bytes(), name, ctype)
        for name, ctype in (("menu_cafe.png", "image/png"), ("holiday.mp4", "video/mp4"))
    ]
    for media_id in ids:
        done = await api.wait_done(media_id)
        assert done["status"] == "completed", done
    files = sorted(folder.iterdir())
    assert any(p.name.endswith(".thumb.jpg") for p in files), files  # derived files sit beside the originals
    assert _mode(infra.config.blobs_dir) == 0o700
    assert _mode(folder) == 0o700 and _mode(folder.parent) == 0o700
    assert {_mode(p) for p in files} == {0o600}, [(p.name, oct(_mode(p))) for p in files]
    usage = (await api.request("GET", "/api/v1/billing/usage")).json()
    assert usage["storage_bytes"] == sum(p.stat().st_size for p in files)

    for media_id in ids:
        assert (await api.request("DELETE", f"/api/v1/media/{media_id}")).status_code == 204
    assert list(folder.iterdir()) == []
    assert (await api.request("GET", "/api/v1/billing/usage")).json()["storage_bytes"] == 0
