"""No upload is ever lost: dead letters and requeue, SIGKILLed workers, a Redis restart — on a supervised stack.

Faults are real: search behind a closed port, `kill -9` of the worker by its PID file, Redis stopped by its PID
file; the supervisor restarts what dies, as under `make run`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import uuid
from collections.abc import Iterator
from datetime import datetime

import asyncpg
import pytest
from jobs.stack import Supervised, supervised_stack
from media_samples import small_png
from support import DEV_MEDIA, Api

from trove_stack.process import stop_pid_file

MAX_TRIES = 4
BACKOFF_S = 1.0
WORKER = "analysis-worker"
SHUTDOWN_GRACE_S = 5
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def stack() -> Iterator[Supervised]:
    with supervised_stack(
        {
            "TROVE_ANALYSIS_MAX_TRIES": str(MAX_TRIES),
            "TROVE_ANALYSIS_RETRY_BACKOFF_S": str(BACKOFF_S),
            "TROVE_ANALYSIS_LEASE_S": "3",
            "TROVE_ANALYSIS_SHUTDOWN_GRACE_S": str(SHUTDOWN_GRACE_S),
        }
    ) as running:
        yield running


async def _upload_batch(api: Api, count: int, *, dev_files: tuple[str, ...] = ()) -> list[str]:
    ids = [await api.upload(small_png(i), f"shape-{i}.png", "image/png") for i in range(count)]
    for name in dev_files:
        ids.append(await api.upload((DEV_MEDIA / name).read_bytes(), name, "image/png"))
    return ids


async def _no_duplicates(db: asyncpg.Connection, media_ids: list[str]) -> None:
    """Exactly one stage result and cost row per (media, stage), and as many search segments as were embedded."""
    ids = [uuid.UUID(m) for m in media_ids]
    repeated = await db.fetch(
        """SELECT media_id, stage, count(*) FROM analysis.stage_results WHERE media_id = ANY($1)
           GROUP BY media_id, stage HAVING count(*) > 1""",
        ids,
    )
    assert repeated == []
    costs = await db.fetch(
        """SELECT media_id, stage, count(*) FROM billing.cost_tracking WHERE media_id = ANY($1)
           GROUP BY media_id, stage HAVING count(*) > 1""",
        ids,
    )
    assert costs == []
    mismatched = await db.fetch(
        """SELECT r.media_id, (r.result->>'segments')::int AS embedded,
                  (SELECT count(*) FROM search.media_text t WHERE t.media_id = r.media_id) AS texts,
                  (SELECT count(*) FROM search.media_embeddings e WHERE e.media_id = r.media_id) AS vectors
           FROM analysis.stage_results r WHERE r.media_id = ANY($1) AND r.stage = 'embedding'""",
        ids,
    )
    assert mismatched, "no embedding results recorded"
    for row in mismatched:
        assert row["embedded"] == row["texts"] == row["vectors"], dict(row)


async def _all_done(api: Api, media_ids: list[str], timeout_s: float = 600) -> list[dict[str, object]]:
    return list(await asyncio.gather(*(api.wait_done(m, timeout_s=timeout_s, poll_s=1.0) for m in media_ids)))


async def test_a_stage_failing_transiently_ends_in_dead_letters_and_a_requeue_completes_it(
    stack: Supervised, admin_db: asyncpg.Connection
) -> None:
    stack.search.close()  # search unreachable: every try of the embedding stage fails with UNAVAILABLE
    user, admin = await stack.api(), await stack.api(admin=True)
    media_id = (await _upload_batch(user, 1))[0]
    failed = await user.wait_done(media_id, timeout_s=240)
    assert failed["status"] == "failed"
    assert f"gave up after {MAX_TRIES} tries of the embedding stage" in str(failed["error"])
    progress = failed["analysis"]["progress"]
    assert progress["current_stage"] == "embedding" and progress["attempts"] == MAX_TRIES

    assert (await user.request("GET", "/api/v1/jobs/dead")).status_code == 403
    listed = await admin.request("GET", "/api/v1/jobs/dead")
    assert listed.status_code == 200, listed.text
    letter = next(x for x in listed.json()["items"] if x["media_id"] == media_id)
    assert letter["stage"] == "embedding" and len(letter["errors"]) == MAX_TRIES
    assert all("Unavailable" in e["error"] for e in letter["errors"])
    times = [datetime.fromisoformat(e["at"]) for e in letter["errors"]]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= BACKOFF_S and all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False)), gaps

    job = letter["job_id"]
    assert (await user.request("POST", f"/api/v1/jobs/{job}/requeue")).status_code == 403
    assert (await admin.request("POST", f"/api/v1/jobs/{uuid.uuid4()}/requeue")).status_code == 404
    assert (await admin.request("POST", "/api/v1/jobs/not-a-job/requeue")).status_code == 404

    stack.search.open()  # the fault is fixed
    answers = await asyncio.gather(*(admin.request("POST", f"/api/v1/jobs/{job}/requeue") for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409], [a.text for a in answers]
    done = await user.wait_done(media_id, timeout_s=240)
    assert done["status"] == "completed", (done["error"], done["analysis"]["progress"])
    assert done["analysis"]["progress"]["done"] == done["analysis"]["progress"]["total"] == 4
    assert all(x["media_id"] != media_id for x in (await admin.request("GET", "/api/v1/jobs/dead")).json()["items"])
    await _no_duplicates(admin_db, [media_id])


async def _kill_workers(stack: Supervised, kills: int) -> list[int]:
    """SIGKILL the analysis worker `kills` times at random moments, each time once the supervisor restarted it."""
    killed = []
    for _ in range(kills):
        await asyncio.sleep(random.uniform(2.0, 6.0))
        pid = stack.pid(WORKER)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        await asyncio.to_thread(stack.wait_restarted, WORKER, pid)
    return killed


async def test_files_survive_sigkilled_workers_without_duplicates(
    stack: Supervised, admin_db: asyncpg.Connection
) -> None:
    stack.search.open()
    api = await stack.api()
    dev = ("chelsea.png", "coffee.png", "astronaut.png", "page.png")
    uploading = asyncio.create_task(_upload_batch(api, 30, dev_files=dev))
    killed = await _kill_workers(stack, kills=3)
    media_ids = await uploading
    killed += await _kill_workers(stack, kills=1)
    assert len(set(killed)) == 4
    results = await _all_done(api, media_ids)
    for media in results:
        assert media["status"] == "completed" or (media["status"] == "failed" and media["error"]), media
    assert sum(m["status"] == "completed" for m in results) >= 30
    await _no_duplicates(admin_db, [m for m, r in zip(media_ids, results, strict=True) if r["status"] == "completed"])


async def test_no_queued_job_is_lost_when_redis_restarts(stack: Supervised, admin_db: asyncpg.Connection) -> None:
    stack.search.open()
    api = await stack.api()
    media_ids = await _upload_batch(api, 16)
    waiting = await admin_db.fetchval(
        "SELECT count(*) FROM ingest.media_files WHERE media_id = ANY($1) AND status IN ('queued', 'processing')",
        [uuid.UUID(m) for m in media_ids],
    )
    assert waiting > 0, "everything was analysed before Redis stopped: the test proves nothing"
    old = stack.pid("redis")
    assert old is not None
    assert await asyncio.to_thread(stop_pid_file, stack.config.pid_path("redis"))  # SIGTERM: AOF flushed
    await asyncio.to_thread(stack.wait_restarted, "redis", old)
    results = await _all_done(api, media_ids)
    assert [r["status"] for r in results] == ["completed"] * len(media_ids)
    await _no_duplicates(admin_db, media_ids)


async def _gone_within(pid: int, timeout_s: float) -> None:
    for _ in range(int(timeout_s * 5)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"process {pid} still runs {timeout_s} s after SIGTERM")


async def test_a_sigtermed_worker_finishes_or_hands_back_its_jobs(
    stack: Supervised, admin_db: asyncpg.Connection
) -> None:
    """SIGTERM (a deploy, a scale-down) stops the worker within its grace period and loses no job."""
    stack.search.open()
    api = await stack.api()
    media_ids = await _upload_batch(api, 12)
    ids = [uuid.UUID(m) for m in media_ids]
    for _ in range(100):  # until the worker is in the middle of the batch
        if await admin_db.fetchval(
            "SELECT count(*) FROM analysis.processing_jobs WHERE media_id = ANY($1) AND status = 'running'", ids
        ):
            break
        await asyncio.sleep(0.2)
    pid = stack.pid(WORKER)
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    await _gone_within(pid, SHUTDOWN_GRACE_S + 10)
    await asyncio.to_thread(stack.wait_restarted, WORKER, pid)
    results = await _all_done(api, media_ids)
    assert [r["status"] for r in results] == ["completed"] * len(media_ids)
    await _no_duplicates(admin_db, media_ids)
