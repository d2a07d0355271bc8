"""Work that stops when it must: a stage past its time limit, and a worker killed mid-stage, each count as a try.

A supervised stack of its own, with a tiny time limit for the video stage only (real work against a real video
always runs past it), so a video is the poison file while other users' images complete.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from jobs.stack import Supervised, supervised_stack
from media_samples import small_png
from support import DEV_MEDIA, Api, sign_up

MAX_TRIES = 3
WORKER = "analysis-worker"
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def stack() -> Iterator[Supervised]:
    with supervised_stack(
        {
            "TROVE_ANALYSIS_MAX_TRIES": str(MAX_TRIES),
            "TROVE_ANALYSIS_RETRY_BACKOFF_S": "0.5",
            "TROVE_ANALYSIS_LEASE_S": "3",
            "TROVE_ANALYSIS_SHUTDOWN_GRACE_S": "5",
            "TROVE_ANALYSIS_STAGE_TIMEOUTS_S": json.dumps({"video": 0.05}),
        }
    ) as running:
        running.search.open()
        yield running


@pytest.fixture(scope="module")
async def admin_db(stack: Supervised) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(stack.admin_dsn)
    yield conn
    await conn.close()


async def _api(stack: Supervised, *, admin: bool = False) -> Api:
    token, uid = await sign_up(stack.config.auth_emulator_host, admin=admin)
    return Api(base_url=stack.config.gateway_url, token=token, firebase_uid=uid)


async def _images(api: Api, count: int) -> list[str]:
    return [await api.upload(small_png(i), f"shape-{i}.png", "image/png") for i in range(count)]


async def _dead_letter(admin: Api, media_id: str) -> dict[str, object]:
    listed = await admin.request("GET", "/api/v1/jobs/dead")
    assert listed.status_code == 200, listed.text
    letter: dict[str, object] = next(x for x in listed.json()["items"] if x["media_id"] == media_id)
    return letter


async def test_a_stage_past_its_time_limit_is_stopped_retried_then_dead_lettered(stack: Supervised) -> None:
    poisoner, other, admin = await _api(stack), await _api(stack), await _api(stack, admin=True)
    worker = stack.pid(WORKER)
    video = await poisoner.upload((DEV_MEDIA / "holiday.mp4").read_bytes(), "holiday.mp4", "video/mp4")
    images = await _images(other, 4)

    failed = await poisoner.wait_done(video, timeout_s=300)
    assert failed["status"] == "failed"
    assert f"gave up after {MAX_TRIES} tries of the video stage" in str(failed["error"]), failed["error"]
    letter = await _dead_letter(admin, video)
    errors = letter["errors"]
    assert isinstance(errors, list) and len(errors) == MAX_TRIES
    assert all("ran past its time limit of 0.05 s" in e["error"] for e in errors), errors
    # The overrunning work was really stopped: the worker process recycled (the supervisor started a new one).
    assert stack.pid(WORKER) != worker

    done = await asyncio.gather(*(other.wait_done(m, timeout_s=300) for m in images))
    assert [d["status"] for d in done] == ["completed"] * len(images), [d["error"] for d in done]


async def test_a_worker_killed_mid_stage_counts_a_try_and_the_poison_file_is_dead_lettered(
    stack: Supervised, admin_db: asyncpg.Connection
) -> None:
    """Each run of the poison file's stage kills its worker (as an out-of-memory kill would); others complete."""
    poisoner, other, admin = await _api(stack), await _api(stack), await _api(stack, admin=True)
    audio = await poisoner.upload((DEV_MEDIA / "pasta_recipe.mp3").read_bytes(), "pasta.mp3", "audio/mpeg")
    images: list[str] = []
    for kill in range(MAX_TRIES):
        pid = await _when_running(stack, admin_db, audio, "transcription", attempt=kill + 1)
        os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(stack.wait_restarted, WORKER, pid)
        if kill == 0:
            images = await _images(other, 4)

    failed = await poisoner.wait_done(audio, timeout_s=300)
    assert failed["status"] == "failed"
    assert f"gave up after {MAX_TRIES} tries of the transcription stage" in str(failed["error"]), failed["error"]
    letter = await _dead_letter(admin, audio)
    errors = letter["errors"]
    assert isinstance(errors, list) and len(errors) == MAX_TRIES
    assert all("the worker stopped during this stage" in e["error"] for e in errors), errors

    done = await asyncio.gather(*(other.wait_done(m, timeout_s=300) for m in images))
    assert [d["status"] for d in done] == ["completed"] * len(images), [d["error"] for d in done]


async def _when_running(stack: Supervised, db: asyncpg.Connection, media_id: str, stage: str, *, attempt: int) -> int:
    """The worker's PID once the `attempt`-th try of `stage` of the media is running."""
    for _ in range(1500):
        row = await db.fetchrow(
            "SELECT status, attempts FROM analysis.processing_jobs WHERE media_id = $1 AND stage = $2",
            uuid.UUID(media_id),
            stage,
        )
        pid = stack.pid(WORKER)
        if row is not None and tuple(row) == ("running", attempt) and pid is not None:
            return pid
        await asyncio.sleep(0.1)
    raise AssertionError(f"the {stage} stage of {media_id} never ran")
