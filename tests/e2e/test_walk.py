"""One real path through every service: sign up, upload straight to storage, analysis, plain-language search."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from support import DEV_MEDIA, Api

NewApi = Callable[[], Awaitable[Api]]


async def test_photo_is_found_by_plain_language_search(new_api: NewApi) -> None:
    api = await new_api()
    cat = await api.upload((DEV_MEDIA / "chelsea.png").read_bytes(), "chelsea.png", "image/png")
    rocket = await api.upload((DEV_MEDIA / "rocket.jpg").read_bytes(), "rocket.jpg", "image/jpeg")
    for media_id in (cat, rocket):
        media = await api.wait_done(media_id)
        assert media["status"] == "completed", media
    detail = (await api.request("GET", f"/api/v1/media/{cat}")).json()
    assert any("cat" in label["name"] for label in detail["analysis"]["labels"]), detail

    response = await api.search("a cat")
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["filename"] for r in results][:1] == ["chelsea.png"]
    assert results[0]["kind"] == "image"
    assert 0 < results[0]["score"] <= 1
    assert results[0]["segment"]["kind"] == "image"


async def test_two_users_never_see_each_other(new_api: NewApi) -> None:
    alice, bob = await new_api(), await new_api()
    media_id = await alice.upload((DEV_MEDIA / "coffee.png").read_bytes(), "coffee.png", "image/png")
    assert (await alice.wait_done(media_id))["status"] == "completed"

    assert (await bob.request("GET", f"/api/v1/media/{media_id}")).status_code == 404
    assert (await bob.request("GET", "/api/v1/media")).json()["items"] == []
    assert (await bob.search("cup of coffee")).json()["results"] == []
    assert (await bob.request("DELETE", f"/api/v1/media/{media_id}")).status_code == 404
    # Alice still has everything.
    assert (await alice.request("GET", f"/api/v1/media/{media_id}")).status_code == 200
    assert [r["media_id"] for r in (await alice.search("cup of coffee")).json()["results"]] == [media_id]


async def test_unknown_and_foreign_ids_get_the_same_404(new_api: NewApi) -> None:
    alice, bob = await new_api(), await new_api()
    media_id = await alice.upload((DEV_MEDIA / "grass.png").read_bytes(), "grass.png", "image/png")
    foreign = await bob.request("GET", f"/api/v1/media/{media_id}")
    unknown = await bob.request("GET", f"/api/v1/media/{uuid.uuid4()}")
    malformed = await bob.request("GET", "/api/v1/media/not-a-uuid")
    assert foreign.status_code == unknown.status_code == malformed.status_code == 404
    assert foreign.json()["error"]["message"] == unknown.json()["error"]["message"]


async def test_list_pages_and_delete(new_api: NewApi) -> None:
    api = await new_api()
    ids = [
        await api.upload((DEV_MEDIA / name).read_bytes(), name, "image/png")
        for name in ("astronaut.png", "coffee.png", "grass.png")
    ]
    first = (await api.request("GET", "/api/v1/media", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (await api.request("GET", "/api/v1/media", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert second["next_cursor"] is None
    listed = [m["media_id"] for m in first["items"] + second["items"]]
    assert sorted(listed) == sorted(ids)
    assert listed == [m for m in reversed(ids)]  # newest first

    for media_id in ids:
        await api.wait_done(media_id)
    assert (await api.request("DELETE", f"/api/v1/media/{ids[0]}")).status_code == 204
    assert (await api.request("GET", f"/api/v1/media/{ids[0]}")).status_code == 404
    assert ids[0] not in [r["media_id"] for r in (await api.search("astronaut in a spacesuit")).json()["results"]]
    assert (await api.request("DELETE", f"/api/v1/media/{ids[0]}")).status_code == 404


async def test_correlation_id_reaches_every_service(new_api: NewApi, logs_dir: Path) -> None:
    api = await new_api()
    request_id = f"corr-{uuid.uuid4().hex}"
    headers = {"X-Request-ID": request_id}
    media_id = await api.upload((DEV_MEDIA / "china.jpg").read_bytes(), "china.jpg", "image/jpeg", headers=headers)
    await api.wait_done(media_id)
    response = await api.search("chinese temple", headers=headers)
    assert response.headers["x-request-id"] == request_id

    seen = await asyncio.to_thread(_services_logging, logs_dir, request_id)
    assert {"gateway", "ingest", "analysis-worker", "search"} <= seen


def _services_logging(logs_dir: Path, request_id: str) -> set[str]:
    """The services whose JSON log lines carry `request_id` in their request_id field."""
    seen = set()
    for log in logs_dir.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if request_id in line:
                record = json.loads(line)
                assert record["request_id"] == request_id
                seen.add(record["service"])
    return seen
