"""Re-index: switching the embedder re-embeds every segment while searches keep answering from one space.

A second search service (and a gateway in front of it) runs on the session's infrastructure with a tiny BERT
model folder as its configured embedder, next to the session's services (built-in all-MiniLM-L6-v2).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from embed_server import server_process
from support import DEV_MEDIA, Api
from tiny_bert import write_tiny_bert

from trove_ml import TextEmbedder
from trove_stack.config import free_ports
from trove_stack.infra import Infra, ServiceGroup, running_services
from trove_stack.process import Managed
from trove_stack.services import SERVICES, WORKER

BUILTIN_SPACE = "all-MiniLM-L6-v2/384"
REINDEX = "/api/v1/admin/reindex"
LIBRARY = {"chelsea.png": "image/png", "menu_cafe.png": "image/png", "weather_report.wav": "audio/wav"}


@contextlib.contextmanager
def _search_with_embedder(
    infra: Infra, embedder: Mapping[str, str], data_dir: Path
) -> Iterator[tuple[str, ServiceGroup]]:
    """A search service configured with `embedder` (TROVE_EMBEDDER_* variables) and a gateway using it; the other
    services are the session's."""
    search_port, gateway_port = free_ports(2)
    cfg = dataclasses.replace(
        infra.config, data_dir=data_dir, search_port=search_port, gateway_port=gateway_port
    ).with_new_metrics_ports()
    for folder in (cfg.log_dir, cfg.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    shared = infra.config
    overrides = {
        **embedder,
        "TROVE_SEARCH_INGEST_ADDR": shared.addr("ingest"),
        # One segment per batch with a pause: the run lasts long enough to search during it.
        "TROVE_SEARCH_REINDEX_BATCH": "1",
        "TROVE_SEARCH_REINDEX_PAUSE_S": "0.4",
        # The test searches between status polls for as long as the run lasts; it is about spaces, not limits.
        "TROVE_GATEWAY_RATE_LIMITS__ENABLED": "false",
        "TROVE_GATEWAY_STORAGE__ROOT": str(shared.blobs_dir),
        **{f"TROVE_GATEWAY_{svc.upper()}_ADDR": shared.addr(svc) for svc in ("billing", "ingest", "analysis")},
    }
    specs = [spec for spec in SERVICES if spec.name in ("search", "gateway")]
    with running_services(dataclasses.replace(infra, config=cfg), specs=specs, overrides=overrides) as group:
        yield cfg.gateway_url, group


async def _search(api: Api, q: str) -> httpx.Response:
    """A search that waits out the session gateway's rate limit, which this module's polling searches can reach."""
    for _ in range(30):
        response = await api.search(q)
        if response.status_code != 429:
            break
        await asyncio.sleep(float(response.headers["Retry-After"]))
    return response


async def _wait_reindexed(admin: Api, *, during: Callable[[], Awaitable[None]] | None = None) -> dict[str, Any]:
    """Poll the status until no run is under way, calling `during` between polls."""
    for _ in range(600):
        response = await admin.request("GET", REINDEX)
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        if not status["running"]:
            return status
        if during is not None:
            await during()
        await asyncio.sleep(0.1)
    raise AssertionError(f"re-index still running: {status}")


async def _space_row(infra: Infra, space: str) -> asyncpg.Record:
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM search.embedding_spaces WHERE space = $1", space)
        assert row is not None
        return row
    finally:
        await conn.close()


async def _restart_mid_run(infra: Infra, search: Managed, space: str, admin: Api) -> None:
    """Stop the search service once the run has made progress, start it again, and see the run carry on."""
    for _ in range(300):
        if (await _space_row(infra, space))["segments_done"] >= 1:
            break
        await asyncio.sleep(0.05)
    await asyncio.to_thread(search.stop)
    stopped = await _space_row(infra, space)
    assert stopped["state"] == "building" and 1 <= stopped["segments_done"] < stopped["segments_total"], dict(stopped)
    await asyncio.to_thread(search.start)
    await asyncio.to_thread(search.wait_ready)
    for _ in range(300):  # the gateway's channel reconnects with backoff after the deliberate stop
        if (await admin.request("GET", REINDEX)).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the restarted search service does not answer")


async def _segments_without(infra: Infra, space: str) -> int:
    """Segments of every user lacking a vector in `space` (as the superuser, past row-level security)."""
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        return int(
            await conn.fetchval(
                """SELECT count(*) FROM search.media_text t WHERE NOT EXISTS (
                       SELECT 1 FROM search.media_embeddings e WHERE e.segment_id = t.segment_id AND e.space = $1)""",
                space,
            )
        )
    finally:
        await conn.close()


async def test_switching_the_embedder_reindexes_every_segment_without_mixing_spaces(
    infra: Infra, services: ServiceGroup, new_api: Callable[..., Awaitable[Api]], tmp_path: Path
) -> None:
    user, admin = await new_api(), await new_api(admin=True)
    for name, content_type in LIBRARY.items():
        media_id = await user.upload((DEV_MEDIA / name).read_bytes(), name, content_type)
        assert (await user.wait_done(media_id))["status"] == "completed"
    before = await _search(user, "a cat")
    assert before.status_code == 200 and before.json()["space"] == BUILTIN_SPACE and before.json()["results"]

    tiny = write_tiny_bert(tmp_path / "tiny-bert")
    try:
        embedder = {"TROVE_EMBEDDER_MODEL_DIR": str(tiny)}
        with _search_with_embedder(infra, embedder, tmp_path / "stack") as (switched_url, group):
            target = f"{TextEmbedder(model_dir=tiny).model_name}/32"
            assert target.startswith("tiny-bert-")
            await _switch(infra, user, Api(base_url=switched_url, token=admin.token), group, target=target)
    finally:
        # Back to the session's embedder for the other tests: the built-in space kept its vectors, so this
        # run embeds only what was indexed while the tiny space was active.
        back = await admin.request("POST", REINDEX)
        assert back.status_code in (200, 202), back.text
        assert (await _wait_reindexed(admin))["active"]["space"] == BUILTIN_SPACE
    assert await _segments_without(infra, BUILTIN_SPACE) == 0
    assert (await _search(user, "a cat")).json()["space"] == BUILTIN_SPACE


async def _switch(infra: Infra, user: Api, admin: Api, group: ServiceGroup, *, target: str) -> None:
    switched_user = Api(base_url=admin.base_url, token=user.token)
    assert (await switched_user.request("POST", REINDEX)).status_code == 403
    assert (await switched_user.request("GET", REINDEX)).status_code == 403
    idle = (await admin.request("GET", REINDEX)).json()
    assert idle["running"] is False and idle["active"]["space"] == BUILTIN_SPACE
    assert idle["target"]["space"] == target and idle["target"]["state"] == "inactive", idle

    first, second = await asyncio.gather(admin.request("POST", REINDEX), admin.request("POST", REINDEX))
    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    assert sorted([first.json()["started"], second.json()["started"]]) == [False, True]  # one run
    # An upload while the space is building is indexed into both spaces (analysis still sends the old one).
    late = asyncio.create_task(user.upload((DEV_MEDIA / "rocket.jpg").read_bytes(), "rocket.jpg", "image/jpeg"))
    # Restart-safe: nobody asks again, the restarted service resumes the run from the vectors already made.
    await _restart_mid_run(infra, group.processes[0], target, admin)
    answered: list[tuple[str, bool]] = []

    async def search_both() -> None:
        for api in (user, switched_user):
            response = await _search(api, "a cat on a sofa")
            assert response.status_code == 200, response.text
            answered.append((response.json()["space"], bool(response.json()["results"])))

    done = await _wait_reindexed(admin, during=search_both)
    assert done["active"]["space"] == target and done["target"]["state"] == "active", done
    assert done["target"]["segments_done"] >= done["target"]["segments_total"] > 0, done
    # Answers came from the old space (with its results) until the switch, then only from the new one.
    spaces = [space for space, _ in answered]
    assert spaces and spaces[0] == BUILTIN_SPACE, answered
    assert spaces == sorted(spaces, key=lambda space: space != BUILTIN_SPACE), answered
    assert set(spaces) <= {BUILTIN_SPACE, target} and all(found for space, found in answered if space == BUILTIN_SPACE)

    assert (await user.wait_done(await late))["status"] == "completed"
    assert await _segments_without(infra, target) == 0
    for api in (user, switched_user):
        after = await _search(api, "rocket")
        assert after.status_code == 200 and after.json()["space"] == target, after.text
    again = await admin.request("POST", REINDEX)
    assert again.status_code == 200 and again.json()["started"] is False  # nothing left to do


@contextlib.contextmanager
def _worker_instead(
    infra: Infra, services: ServiceGroup, embedder: Mapping[str, str], data_dir: Path
) -> Iterator[None]:
    """The session's analysis worker stopped and one configured with `embedder` in its place, until the exit."""
    session_workers = [p for p in services.processes if p.name.startswith(WORKER)]
    for process in session_workers:
        process.stop()
    cfg = dataclasses.replace(infra.config, data_dir=data_dir).with_new_metrics_ports()
    for folder in (cfg.log_dir, cfg.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    overrides = {
        **embedder,
        **{f"TROVE_ANALYSIS_{svc.upper()}_ADDR": infra.config.addr(svc) for svc in ("billing", "ingest", "search")},
        "TROVE_ANALYSIS_STORAGE__ROOT": str(infra.config.blobs_dir),
    }
    try:
        specs = [spec for spec in SERVICES if spec.name == WORKER]
        with running_services(dataclasses.replace(infra, config=cfg), specs=specs, overrides=overrides):
            yield
    finally:
        for process in session_workers:
            process.start()
            process.wait_ready()


async def _has_hnsw_index(infra: Infra, *, dim: int) -> bool:
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        return bool(
            await conn.fetchval(
                """SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'search' AND indexdef LIKE '%USING hnsw%'
                       AND indexdef LIKE $1)""",
                f"%vector({dim})%",
            )
        )
    finally:
        await conn.close()


async def _openai_ledger(user: Api, media_id: str) -> list[dict[str, Any]]:
    response = await user.request("GET", "/api/v1/billing/ledger", params={"limit": 100})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["media_id"] == media_id and e["service"] == "openai-embeddings"]


async def test_switching_to_an_openai_compatible_server_bills_its_tokens_and_reindexes_into_its_space(
    infra: Infra, services: ServiceGroup, new_api: Callable[..., Awaitable[Api]], tmp_path: Path
) -> None:
    """Trove's embeddings server with a 1536-d model (the size of OpenAI's text-embedding-3-small) stands in for
    OpenAI: it throttles its first calls (retried), bills tokens at the list price, refuses a wrong key (the file
    fails naming the setting), and a re-index fills its 1536-d space while searches keep answering."""
    user, admin = await new_api(), await new_api(admin=True)
    for name, content_type in LIBRARY.items():
        media_id = await user.upload((DEV_MEDIA / name).read_bytes(), name, content_type)
        assert (await user.wait_done(media_id))["status"] == "completed"
    folder = write_tiny_bert(tmp_path / "wide-bert", hidden=1536, layers=1, heads=4, intermediate=64)
    model = TextEmbedder(model_dir=folder).model_name
    target = f"{model}/1536"
    key_file = tmp_path / "key"
    key_file.write_text("sk-trove-" + "k" * 32)
    with (
        server_process(log=tmp_path / "embed.log", model_dir=folder, throttle_first=2) as server,
        server_process(log=tmp_path / "keyed.log", api_key_file=key_file) as keyed,
    ):
        embedder = {
            "TROVE_EMBEDDER_PROVIDER": "openai",
            "TROVE_EMBEDDER_BASE_URL": server.base_url,
            "TROVE_EMBEDDER_MODEL": model,
            "TROVE_EMBEDDER_MAX_RETRIES": "2",
        }
        with _worker_instead(infra, services, embedder, tmp_path / "worker"):
            media_id = await user.upload((DEV_MEDIA / "coffee.png").read_bytes(), "coffee.png", "image/png")
            assert (await user.wait_done(media_id))["status"] == "completed"
        [entry] = await _openai_ledger(user, media_id)
        assert entry["stage"] == "embedding" and entry["units"] > 0
        assert entry["unit_price"] == pytest.approx(0.02 / 1_000_000)
        assert entry["amount"] == pytest.approx(entry["units"] * entry["unit_price"], abs=1e-10)

        wrong_key = {**embedder, "TROVE_EMBEDDER_BASE_URL": keyed.base_url, "TROVE_EMBEDDER_API_KEY": "sk-wrong"}
        wrong_key |= {"TROVE_EMBEDDER_MODEL": TextEmbedder.model_name, "TROVE_EMBEDDER_DIMENSIONS": "384"}
        with _worker_instead(infra, services, wrong_key, tmp_path / "worker-wrong-key"):
            refused = await user.upload((DEV_MEDIA / "grass.png").read_bytes(), "grass.png", "image/png")
            failed = await user.wait_done(refused)
        assert failed["status"] == "failed" and "TROVE_ANALYSIS_EMBEDDER__API_KEY" in str(failed), failed
        assert not await _openai_ledger(user, refused)

        try:
            with _search_with_embedder(infra, embedder, tmp_path / "stack") as (switched_url, group):
                switched = Api(base_url=switched_url, token=admin.token)
                await _switch(infra, user, switched, group, target=target)
                assert (await _space_row(infra, target))["dim"] == 1536
                assert await _has_hnsw_index(infra, dim=1536)
                # Queries are embedded by the server now: without it, searches answer 503 with the reason.
                await asyncio.to_thread(server.stop)
                down = await Api(base_url=switched_url, token=user.token).search("an unreachable embedder")
                assert down.status_code == 503, down.text
                assert "embeddings server" in down.json()["error"]["message"], down.text
        finally:
            back = await admin.request("POST", REINDEX)
            assert back.status_code in (200, 202), back.text
            assert (await _wait_reindexed(admin))["active"]["space"] == BUILTIN_SPACE
    assert await _segments_without(infra, BUILTIN_SPACE) == 0
    assert (await _search(user, "a cat")).json()["space"] == BUILTIN_SPACE
