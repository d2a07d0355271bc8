"""Faults on a supervised stack of its own: stages that must stop, and Redis and PostgreSQL outages.

A stage past its time limit and a worker killed mid-stage each count as a try: the stack has a tiny time limit
for the video stage only (real work on a real video always runs past it), so a video is the poison file while
other users' images complete. Outages are real: Redis or PostgreSQL stopped by PID while the supervisor is
paused (SIGSTOP, so it restarts nothing until the test lets it go on with SIGCONT).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import pytest
from jobs.stack import Supervised, supervised_stack
from jobs.test_jobs import _no_duplicates
from media_samples import small_png
from support import DEV_MEDIA, Api

from trove_stack import postgres
from trove_stack.process import stop_pid_file

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


async def _images(api: Api, count: int) -> list[str]:
    return [await api.upload(small_png(i), f"shape-{i}.png", "image/png") for i in range(count)]


async def _dead_letter(admin: Api, media_id: str) -> dict[str, object]:
    listed = await admin.request("GET", "/api/v1/jobs/dead")
    assert listed.status_code == 200, listed.text
    letter: dict[str, object] = next(x for x in listed.json()["items"] if x["media_id"] == media_id)
    return letter


async def test_a_stage_past_its_time_limit_is_stopped_retried_then_dead_lettered(stack: Supervised) -> None:
    poisoner, other, admin = await stack.api(), await stack.api(), await stack.api(admin=True)
    worker = stack.pid(WORKER)
    video = await poisoner.upload((DEV_MEDIA / "holiday.mp4").read_bytes(), "holiday.mp4", "video/mp4")
    images = await _images(other, 4)

    failed = await poisoner.wait_done(video, timeout_s=600)  # three worker restarts, each loading its models
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
    poisoner, other, admin = await stack.api(), await stack.api(), await stack.api(admin=True)
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


@contextmanager
def _supervisor_paused(stack: Supervised) -> Iterator[None]:
    """Nothing is restarted while the body runs: the outage lasts as long as the test wants."""
    pid = stack.pid("supervisor")
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def _complete(api: Api, upload_id: str) -> httpx.Response:
    response = await api.request("POST", f"/api/v1/uploads/{upload_id}/complete")
    if response.status_code == 503:
        assert response.headers.get("Retry-After", "").isdigit(), response.headers
        assert response.json()["error"]["code"] == "unavailable"
    return response


async def test_with_redis_down_search_answers_from_the_database_and_uploads_wait(stack: Supervised) -> None:
    api = await stack.api()
    cat = await api.upload((DEV_MEDIA / "chelsea.png").read_bytes(), "chelsea.png", "image/png")
    assert (await api.wait_done(cat, timeout_s=300))["status"] == "completed"
    before = await api.search("a cat")
    assert before.status_code == 200, before.text
    found = [r["media_id"] for r in before.json()["results"]]
    assert cat in found

    data = small_png(99)
    with _supervisor_paused(stack):
        old = stack.pid("redis")
        assert old is not None
        assert await asyncio.to_thread(stop_pid_file, stack.config.pid_path("redis"))
        for query in ("a cat", "a cat", "a sleeping cat"):  # the second would have been a cache hit
            started = time.monotonic()
            answer = await api.search(query)
            assert answer.status_code == 200, answer.text
            assert time.monotonic() - started < 10
            assert cat in [r["media_id"] for r in answer.json()["results"]]
        # An upload's bytes are kept, but it cannot be queued: completing it answers 503 with Retry-After.
        created = await api.create_upload("dots.png", "image/png", len(data))
        assert created.status_code == 201, created.text
        ticket = created.json()
        assert (await api.put(ticket, data)).status_code == 200
        assert (await _complete(api, ticket["upload_id"])).status_code == 503
    await asyncio.to_thread(stack.wait_restarted, "redis", old)

    # Redis is back: completing again (as the client does after Retry-After) queues it once.
    for _ in range(60):
        completed = await _complete(api, ticket["upload_id"])
        if completed.status_code == 202:
            break
        assert completed.status_code == 503, completed.text
        await asyncio.sleep(1)
    assert completed.status_code == 202, completed.text
    assert (await api.wait_done(completed.json()["media_id"], timeout_s=300))["status"] == "completed"
    after = await api.search("a cat")
    assert after.status_code == 200 and cat in [r["media_id"] for r in after.json()["results"]]


async def test_postgres_restarted_mid_ingest_every_file_completes_once(stack: Supervised) -> None:
    api = await stack.api()
    media_ids = await _images(api, 10)
    with _supervisor_paused(stack):
        record = postgres.running_record(stack.config)
        assert record is not None
        os.kill(record.pid, signal.SIGINT)  # fast shutdown: every connection is cut
        for _ in range(300):
            if postgres.running_record(stack.config) is None:
                break
            await asyncio.sleep(0.1)
        assert postgres.running_record(stack.config) is None
        # Requests fail fast with 503 and Retry-After, never hang; /readyz says which backends lost the database.
        started = time.monotonic()
        answer = await api.request("GET", f"/api/v1/media/{media_ids[0]}")
        assert time.monotonic() - started < 15
        assert answer.status_code == 503, answer.text
        assert answer.headers.get("Retry-After", "").isdigit()
        for _ in range(30):
            ready = await api.request("GET", "/readyz")
            if ready.status_code == 503:
                break
            await asyncio.sleep(0.5)
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready", ready.text
        assert "NOT_SERVING" in ready.json()["checks"].values()
    for _ in range(600):
        if (
            postgres.running_record(stack.config) is not None
            and (await api.request("GET", "/readyz")).status_code == 200
        ):
            break
        await asyncio.sleep(0.5)
    results = await asyncio.gather(*(api.wait_done(m, timeout_s=300, poll_s=1.0) for m in media_ids))
    assert [r["status"] for r in results] == ["completed"] * len(media_ids), [r["error"] for r in results]
    db = await asyncpg.connect(stack.admin_dsn)
    try:
        await _no_duplicates(db, media_ids)
    finally:
        await db.close()
