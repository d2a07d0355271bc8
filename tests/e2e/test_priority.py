"""A premium user's upload overtakes a free user's backlog: the tier sets the job's priority in ingest."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from media_samples import small_png
from support import Api

BACKLOG = 20
PICTURE = (320, 240)


async def _finished_at(api: Api, media_id: str) -> str:
    media = await api.wait_done(media_id, timeout_s=600)
    assert media["status"] == "completed", media
    return str(media["updated_at"])


async def test_a_premium_upload_completes_before_a_free_backlog(new_api: Callable[..., Awaitable[Api]]) -> None:
    free, premium, admin = await new_api(), await new_api(), await new_api(admin=True)
    premium_id = (await premium.request("GET", "/api/v1/me")).json()["user_id"]
    moved = await admin.request("PUT", f"/api/v1/admin/users/{premium_id}/tier", json={"tier": "premium"})
    assert moved.status_code == 200, moved.text
    # All at once, so the backlog is queued before the workers can drain it; then the premium upload.
    backlog = list(
        await asyncio.gather(
            *(free.upload(small_png(n, PICTURE), f"free-{n}.png", "image/png") for n in range(BACKLOG))
        )
    )
    urgent = await premium.upload(small_png(BACKLOG, PICTURE), "premium.png", "image/png")

    urgent_done = await _finished_at(premium, urgent)
    backlog_done = await asyncio.gather(*(_finished_at(free, m) for m in backlog))
    assert urgent_done < max(backlog_done)
    overtaken = sum(done > urgent_done for done in backlog_done)
    assert overtaken >= BACKLOG // 2, f"only {overtaken} of {BACKLOG} free files finished after the premium one"
