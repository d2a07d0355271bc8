"""`make bench`: performance figures of a throwaway Trove stack, printed as one JSON object.

Figures: upload-to-searchable seconds per image (create upload -> PUT -> complete -> analysis done),
search latency through the gateway (p50/p95; new queries, and a repeated one served from the cache) and the
raw pgvector query on the same data, and their ratio (uncached gateway / raw), the analysis worker's peak
memory, model-stage figures (see stages.py), and jobs/s through the whole pipeline with two worker processes,
steady and with one of them SIGKILLed mid-batch (see throughput.py), and load with faults: users searching and
uploading while a worker, search, Redis and PostgreSQL are each killed once (see faults.py).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from pgvector.asyncpg import register_vector

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]

import faults  # noqa: E402
import scale  # noqa: E402
import stages  # noqa: E402
import throughput  # noqa: E402
from support import DEV_MEDIA, Api, sign_up  # noqa: E402

from trove_ml import TextEmbedder  # noqa: E402
from trove_search import repo  # noqa: E402
from trove_search.models import space_name  # noqa: E402
from trove_stack.infra import Infra, running_infra, running_services  # noqa: E402
from trove_stack.services import wait_gateway_ready  # noqa: E402

IMAGES = ("chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "china.jpg", "grass.png", "grace_hopper.jpg")
QUERY = "a cat"
ROUNDS = 60
# A SIGKILLed worker's jobs run again after this lease (the throughput-with-a-kill figure).
# The bench hammers the API on purpose: its figures are of search and ingest, not of the abuse limits.
OVERRIDES = {"TROVE_ANALYSIS_LEASE_S": "5", "TROVE_GATEWAY_RATE_LIMITS__ENABLED": "false"}


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
    }


async def _upload_to_searchable(api: Api) -> list[float]:
    seconds = []
    for name in IMAGES:
        started = time.perf_counter()
        content_type = "image/png" if name.endswith(".png") else "image/jpeg"
        media_id = await api.upload((DEV_MEDIA / name).read_bytes(), name, content_type)
        await api.wait_done(media_id, poll_s=0.05)
        seconds.append(time.perf_counter() - started)
    return seconds


async def _gateway_latency(api: Api, *, cached: bool) -> list[float]:
    """Latency of GET /api/v1/search: the same query again (a cache hit) or a new query each time (a miss)."""
    samples = []
    async with httpx.AsyncClient(base_url=api.base_url, headers={"Authorization": f"Bearer {api.token}"}) as client:
        for _ in range(5):  # warm-up: model, connections
            await client.get("/api/v1/search", params={"q": QUERY, "limit": 10})
        for i in range(ROUNDS):
            q = QUERY if cached else f"{QUERY} number {i}"
            started = time.perf_counter()
            response = await client.get("/api/v1/search", params={"q": q, "limit": 10})
            samples.append(1000 * (time.perf_counter() - started))
            assert response.status_code == 200
    return samples


async def _raw_latency(infra: Infra, user_id: str) -> list[float]:
    """The same nearest-neighbour query the search service runs, straight on PostgreSQL with its role."""
    embedder = TextEmbedder()
    vector = embedder.embed([QUERY])[0]
    conn = await asyncpg.connect(infra.dsns["search"])
    await register_vector(conn)
    samples = []
    try:
        for i in range(ROUNDS + 5):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
                await repo.nearest(
                    conn,
                    space=space_name(embedder.model_name, embedder.dim),
                    dim=embedder.dim,
                    vector=vector,
                    limit=50,
                    ef_search=100,
                )
            if i >= 5:
                samples.append(1000 * (time.perf_counter() - started))
    finally:
        await conn.close()
    return samples


async def _user_id(infra: Infra, media_id: str) -> str:
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        return str(await conn.fetchval("SELECT user_id FROM ingest.media_files WHERE media_id = $1::uuid", media_id))
    finally:
        await conn.close()


async def measure(infra: Infra) -> dict[str, object]:
    token, _ = await sign_up(infra.auth_emulator_host)
    api = Api(base_url=infra.config.gateway_url, token=token)
    per_image = await _upload_to_searchable(api)
    media = (await api.request("GET", "/api/v1/media", params={"limit": 1})).json()["items"][0]
    gateway = _percentiles(await _gateway_latency(api, cached=False))
    cached = _percentiles(await _gateway_latency(api, cached=True))
    raw = _percentiles(await _raw_latency(infra, await _user_id(infra, media["media_id"])))
    return {
        "upload_to_searchable_s_per_image": {
            "images": len(per_image),
            "mean_s": round(statistics.mean(per_image), 3),
            "max_s": round(max(per_image), 3),
        },
        "search_gateway_uncached": gateway,
        "search_gateway_cache_hit": cached,
        "search_raw_pgvector": raw,
        "ratio_gateway_to_raw": {
            "p50": round(gateway["p50_ms"] / raw["p50_ms"], 2),
            "p95": round(gateway["p95_ms"] / raw["p95_ms"], 2),
        },
    }


async def _throughput(infra: Infra) -> dict[str, object]:
    token, _ = await sign_up(infra.auth_emulator_host)
    api = Api(base_url=infra.config.gateway_url, token=token)
    return await throughput.measure(infra, api, OVERRIDES)


def _peak_rss_mb(pid_file: Path) -> float:
    """The high-water mark of a process's resident memory (VmHWM), in MiB."""
    pid = pid_file.read_text().split()[0]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    figures: dict[str, object] = {}
    with running_infra() as infra, running_services(infra, overrides=OVERRIDES):
        wait_gateway_ready(infra.config)
        figures.update(asyncio.run(measure(infra)))
        figures["analysis_worker_peak_rss_mb"] = _peak_rss_mb(infra.config.pid_path("analysis-worker"))
        figures["search_at_scale"] = asyncio.run(scale.at_scale(infra))
        figures["pipeline_throughput"] = asyncio.run(_throughput(infra))
    figures["stages"] = asyncio.run(stages.measure())
    figures["load_with_faults"] = faults.run()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
