"""`make bench-faults`: load with faults on a supervised throwaway stack, printed as one JSON object.

N users search and upload at once for a bounded time while the analysis worker, the search service, Redis and
PostgreSQL are each killed once, by PID (processes this bench started, through its supervisor, which restarts
them as under `make run`). Uploads behave like a good client: a 503 on completing is retried after Retry-After.

Figures: requests, errors by status, search and upload latency p50/p95, each fault's downtime as the supervisor
saw it, and the files: accepted, completed, failed, lost (accepted but never analysed) and duplicated (a stage
result, cost or search row recorded twice); lost and duplicated must both be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]

from jobs.stack import Supervised, supervised_stack  # noqa: E402
from media_samples import small_png  # noqa: E402
from support import Api  # noqa: E402

from trove_stack import postgres  # noqa: E402

OVERRIDES = {
    "TROVE_ANALYSIS_LEASE_S": "5",
    "TROVE_ANALYSIS_RETRY_BACKOFF_S": "1",
    "TROVE_GATEWAY_RATE_LIMITS__ENABLED": "false",
}
# Each user's pace: a request, a pause; every UPLOAD_EVERY-th request an upload (the rest are searches). Small
# images, so the pipeline keeps up and every file can be accounted for within the wait after the load.
THINK_S = 0.5
UPLOAD_EVERY = 4
QUERIES = ("a red disc", "shapes on a plain ground", "a cat", "colourful circles", "a green picture")
# (process, signal, seconds into the load): each killed once. PostgreSQL gets SIGQUIT (its immediate shutdown,
# a crash without the orphaned backends a SIGKILL of the postmaster would leave holding shared memory).
FAULTS: tuple[tuple[str, signal.Signals, float], ...] = (
    ("analysis-worker", signal.SIGKILL, 0.15),
    ("search", signal.SIGKILL, 0.35),
    ("redis", signal.SIGKILL, 0.55),
    (postgres.NAME, signal.SIGQUIT, 0.75),
)


@dataclass(slots=True)
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    search_ms: list[float] = field(default_factory=list)
    upload_ms: list[float] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    never_accepted: int = 0

    def count(self, response: httpx.Response | None) -> None:
        self.statuses["timeout/connection" if response is None else str(response.status_code)] += 1


async def _call(client: httpx.AsyncClient, tally: Tally, method: str, url: str, **kw: object) -> httpx.Response | None:
    try:
        response = await client.request(method, url, **kw)  # type: ignore[arg-type]
    except httpx.HTTPError:
        response = None
    tally.count(response)
    return response


async def _upload(client: httpx.AsyncClient, tally: Tally, seed: int, *, give_up_at: float) -> None:
    started = time.perf_counter()
    data = small_png(seed)
    body = {"filename": f"load-{seed}.png", "content_type": "image/png", "size_bytes": len(data)}
    created = await _call(client, tally, "POST", "/api/v1/uploads", json=body)
    if created is None or created.status_code != 201:
        return  # nothing was started: nothing to lose
    ticket = created.json()
    put = await _call(client, tally, ticket["method"], ticket["upload_url"], content=data, headers=ticket["headers"])
    if put is None or put.status_code != 200:
        return
    while True:  # completing is idempotent: a good client retries it after an outage
        done = await _call(client, tally, "POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
        if done is not None and done.status_code == 202:
            tally.accepted.append(str(done.json()["media_id"]))
            tally.upload_ms.append(1000 * (time.perf_counter() - started))
            return
        if time.monotonic() > give_up_at or (done is not None and done.status_code < 500):
            tally.never_accepted += 1
            return
        retry_after = done.headers.get("Retry-After", "1") if done is not None else "1"
        await asyncio.sleep(min(5.0, float(retry_after) if retry_after.isdigit() else 1.0))


async def _user(api: Api, index: int, tally: Tally, *, stop_at: float) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=30) as client:
        step = 0
        while time.monotonic() < stop_at:
            step += 1
            if step % UPLOAD_EVERY == 0:
                await _upload(client, tally, index * 100_000 + step, give_up_at=stop_at + 120)
            else:
                started = time.perf_counter()
                q = QUERIES[step % len(QUERIES)]
                response = await _call(client, tally, "GET", "/api/v1/search", params={"q": q, "limit": 10})
                if response is not None and response.status_code == 200:
                    tally.search_ms.append(1000 * (time.perf_counter() - started))
            await asyncio.sleep(THINK_S)


def _pid(stack: Supervised, name: str) -> int | None:
    if name == postgres.NAME:
        record = postgres.running_record(stack.config)
        return record.pid if record is not None else None
    return stack.pid(name)


async def _faults(stack: Supervised, *, duration_s: float) -> list[dict[str, object]]:
    began = time.monotonic()
    done = []
    for name, sig, at in FAULTS:
        await asyncio.sleep(max(0.0, began + at * duration_s - time.monotonic()))
        pid = _pid(stack, name)
        assert pid is not None, f"{name} is not running"
        killed_at = time.monotonic()
        os.kill(pid, sig)
        back_s = None
        for _ in range(1200):
            await asyncio.sleep(0.1)
            now_pid = _pid(stack, name)
            if now_pid is not None and now_pid != pid:
                back_s = round(time.monotonic() - killed_at, 1)
                break
        done.append({"process": name, "signal": sig.name, "at_s": round(killed_at - began, 1), "back_after_s": back_s})
    return done


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    if not samples_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
    }


async def _outcome(stack: Supervised, apis: list[Api], tallies: list[Tally], *, wait_s: float) -> dict[str, int]:
    """Every accepted file's end state (after up to `wait_s`), and rows written twice."""
    ids = [uuid.UUID(m) for t in tallies for m in t.accepted]
    deadline = time.monotonic() + wait_s
    conn = await asyncpg.connect(stack.admin_dsn)
    try:
        while True:
            rows = await conn.fetch(
                "SELECT status, count(*) FROM ingest.media_files WHERE media_id = ANY($1) GROUP BY 1", ids
            )
            by_status = {r["status"]: r["count"] for r in rows}
            pending = by_status.get("queued", 0) + by_status.get("processing", 0)
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        duplicated = await conn.fetchval(
            """SELECT count(DISTINCT media_id) FROM (
                 SELECT media_id FROM analysis.stage_results WHERE media_id = ANY($1)
                 GROUP BY media_id, stage, provider HAVING count(*) > 1
                 UNION SELECT media_id FROM billing.cost_tracking WHERE media_id = ANY($1)
                 GROUP BY media_id, stage HAVING count(*) > 1
                 UNION SELECT r.media_id FROM analysis.stage_results r
                 WHERE r.media_id = ANY($1) AND r.stage = 'embedding' AND (r.result->>'segments')::int <>
                       (SELECT count(*) FROM search.media_text t WHERE t.media_id = r.media_id)) d""",
            ids,
        )
    finally:
        await conn.close()
    known = sum(by_status.values())
    return {
        "accepted": len(ids),
        "completed": by_status.get("completed", 0),
        "failed": by_status.get("failed", 0),
        "lost": pending + (len(ids) - known),
        "duplicated": int(duplicated or 0),
    }


async def measure(stack: Supervised, *, users: int, duration_s: float) -> dict[str, object]:
    apis = [await stack.api() for _ in range(users)]
    tallies = [Tally() for _ in apis]
    stop_at = time.monotonic() + duration_s
    loads = [_user(api, i, tally, stop_at=stop_at) for i, (api, tally) in enumerate(zip(apis, tallies, strict=True))]
    faults, *_ = await asyncio.gather(_faults(stack, duration_s=duration_s), *loads)
    statuses: Counter[str] = Counter()
    for tally in tallies:
        statuses.update(tally.statuses)
    files = await _outcome(stack, apis, tallies, wait_s=600)
    return {
        "users": users,
        "duration_s": duration_s,
        "faults": faults,
        "requests": sum(statuses.values()),
        "responses_by_status": dict(sorted(statuses.items())),
        "server_errors_other_than_503": sum(n for s, n in statuses.items() if s.startswith("5") and s != "503"),
        "search": _percentiles([ms for t in tallies for ms in t.search_ms]),
        "upload_to_accepted": _percentiles([ms for t in tallies for ms in t.upload_ms]),
        "uploads_never_accepted": sum(t.never_accepted for t in tallies),
        "files": files,
    }


def run(*, users: int = 4, duration_s: float = 120.0) -> dict[str, object]:
    """The load-with-faults figures, on a supervised stack of their own (`make bench` includes them)."""
    with supervised_stack(OVERRIDES) as stack:
        stack.search.open()
        return asyncio.run(measure(stack, users=users, duration_s=duration_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--duration-s", type=float, default=120.0)
    args = parser.parse_args()
    print(json.dumps({"load_with_faults": run(users=args.users, duration_s=args.duration_s)}, indent=2))


if __name__ == "__main__":
    main()
