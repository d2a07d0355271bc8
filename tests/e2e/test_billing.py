"""Billing through the REST API and the real pipeline: the ledger, budgets that alert and block, quotas, admin."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from support import DEV_MEDIA, Api

NewApi = Callable[..., Awaitable[Api]]


async def _json(api: Api, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    response = await api.request(method, path, **kw)
    assert response.status_code == status, response.text
    return response.json()


async def _ledger(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await _json(api, "GET", "/api/v1/billing/ledger", params=params)
        items += page["items"]
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]


async def _user_id(api: Api) -> str:
    return str((await _json(api, "GET", "/api/v1/me"))["user_id"])


async def test_ingesting_known_files_writes_one_ledger_row_per_stage_once(new_api: NewApi) -> None:
    api = await new_api()
    files = {"chelsea.png": "image/png", "pasta_recipe.mp3": "audio/mpeg"}
    ids = {name: await api.upload((DEV_MEDIA / name).read_bytes(), name, ctype) for name, ctype in files.items()}
    expected: Counter[tuple[str, str]] = Counter()
    for media_id in ids.values():
        assert (await api.wait_done(media_id))["status"] == "completed"
        stages = (await _json(api, "GET", f"/api/v1/media/{media_id}"))["analysis"]["stages"]
        # Every stage that ran a model is priced; the embedding step reports no cost of its own.
        expected.update(
            (media_id, s["stage"]) for s in stages if s["status"] == "succeeded" and s["stage"] != "embedding"
        )
    assert {s for m, s in expected if m == ids["chelsea.png"]} >= {"probe", "image"}
    assert {s for m, s in expected if m == ids["pasta_recipe.mp3"]} >= {"probe", "transcription", "text"}

    ledger = await _ledger(api)
    assert Counter((e["media_id"], e["stage"]) for e in ledger) == expected
    for entry in ledger:
        assert entry["service"] == "local-compute" and entry["units"] > 0
        # The ledger keeps amounts to 10 decimal places (numeric(20, 10)).
        assert entry["amount"] == pytest.approx(entry["units"] * entry["unit_price"], abs=1e-10)

    # Completing an upload again changes nothing: same media, no new ledger rows, counted once.
    created = await api.create_upload("again.png", "image/png", (DEV_MEDIA / "grass.png").stat().st_size)
    ticket = created.json()
    assert (await api.put(ticket, (DEV_MEDIA / "grass.png").read_bytes())).status_code == 200
    first = await _json(api, "POST", f"/api/v1/uploads/{ticket['upload_id']}/complete", status=202)
    await api.wait_done(first["media_id"])
    rows = len(await _ledger(api))
    again = await _json(api, "POST", f"/api/v1/uploads/{ticket['upload_id']}/complete", status=202)
    assert again["media_id"] == first["media_id"]
    assert len(await _ledger(api)) == rows
    usage = await _json(api, "GET", "/api/v1/billing/usage")
    assert usage["uploads"] == 3
    total = sum(e["amount"] for e in await _ledger(api))
    assert usage["spent"] == pytest.approx(total)
    assert usage["cost_by_service"]["local-compute"] == pytest.approx(total)
    assert usage["processing_minutes"] == pytest.approx(sum(e["units"] for e in await _ledger(api)) / 60, abs=1e-3)


async def test_budget_alerts_once_blocks_at_100_percent_and_resumes_when_raised(new_api: NewApi) -> None:
    api, admin = await new_api(), await new_api(admin=True)
    user_id = await _user_id(api)
    # A budget far smaller than one file's analysis: the first file (queued before it was spent) crosses it.
    await _json(admin, "PUT", f"/api/v1/admin/users/{user_id}/budget", json={"amount": 0.000000001})
    first = await api.upload((DEV_MEDIA / "grace_hopper.jpg").read_bytes(), "grace_hopper.jpg", "image/jpeg")
    assert (await api.wait_done(first))["status"] == "completed"
    alerts = (await _json(api, "GET", "/api/v1/billing/alerts"))["items"]
    assert sorted(a["threshold_pct"] for a in alerts) == [80, 100]
    assert (await _json(api, "GET", "/api/v1/billing/usage"))["budget_exhausted"] is True

    second = await api.upload((DEV_MEDIA / "menu_cafe.png").read_bytes(), "menu_cafe.png", "image/png")
    await asyncio.sleep(3)  # several re-check rounds: still over budget, still waiting
    media = await _json(api, "GET", f"/api/v1/media/{second}")
    assert media["status"] == "blocked_budget" and "budget" in media["error"], media
    listed = (await _json(api, "GET", "/api/v1/media"))["items"]
    assert [m["status"] for m in listed if m["media_id"] == second] == ["blocked_budget"]

    await _json(admin, "PUT", f"/api/v1/admin/users/{user_id}/budget", json={"amount": 100})
    done = await api.wait_done(second, timeout_s=120)
    # It failed once in a full CI run (twice across sessions) and never alone: name the error and the stages.
    if done["status"] != "completed" or done["error"]:
        detail = await _json(api, "GET", f"/api/v1/media/{second}")
        raise AssertionError(f"{done['status']}: {done['error']!r}; progress: {detail['analysis']['progress']}")
    alerts = (await _json(api, "GET", "/api/v1/billing/alerts"))["items"]
    assert sorted(a["threshold_pct"] for a in alerts) == [80, 100]  # once per period, not again


async def test_quota_breaches_return_402_naming_the_limit(new_api: NewApi) -> None:
    # The session's pro tier (tests/conftest.py) allows 480,000-byte files, 500,000 bytes in all, 2 uploads a month.
    api, admin = await new_api(), await new_api(admin=True)
    user_id = await _user_id(api)
    moved = await _json(admin, "PUT", f"/api/v1/admin/users/{user_id}/tier", json={"tier": "pro"})
    assert moved["tier"] == "pro" and moved["limits"]["uploads_per_month"] == 2

    async def refused(size: int, limit: str) -> dict[str, Any]:
        response = await api.create_upload("x.png", "image/png", size)
        assert response.status_code == 402, response.text
        error = response.json()["error"]
        assert error["code"] == "quota_exceeded" and error["details"]["limit"] == limit, error
        return dict(error["details"])

    assert await refused(490_000, "max_file_bytes") == {
        "limit": "max_file_bytes",
        "usage": 490_000,
        "allowed": 480_000,
        "requested_bytes": 490_000,
        "tier": "pro",
    }
    coffee = await api.upload((DEV_MEDIA / "coffee.png").read_bytes(), "coffee.png", "image/png")
    held = (DEV_MEDIA / "coffee.png").stat().st_size
    details = await refused((DEV_MEDIA / "grace_hopper.jpg").stat().st_size, "storage_bytes")
    assert (details["usage"], details["allowed"]) == (held, 500_000)

    await api.wait_done(coffee)
    assert (await api.request("DELETE", f"/api/v1/media/{coffee}")).status_code == 204
    usage = await _json(api, "GET", "/api/v1/billing/usage")
    assert (usage["storage_bytes"], usage["uploads"]) == (0, 1)  # the bytes are freed, the upload still counts
    await api.upload((DEV_MEDIA / "grace_hopper.jpg").read_bytes(), "grace_hopper.jpg", "image/jpeg")
    details = await refused(1000, "uploads_per_month")
    assert (details["usage"], details["allowed"]) == (2, 2)


async def test_uploads_started_at_once_cannot_pass_a_limit_together(new_api: NewApi) -> None:
    """Uploads that are created but not completed yet count: a third upload cannot start while two are open."""
    api, admin = await new_api(), await new_api(admin=True)
    user_id = await _user_id(api)
    assert (await admin.request("PUT", f"/api/v1/admin/users/{user_id}/tier", json={"tier": "pro"})).status_code == 200
    opened = [await api.create_upload(f"open-{n}.png", "image/png", 100_000) for n in range(2)]
    assert [r.status_code for r in opened] == [201, 201]
    third = await api.create_upload("third.png", "image/png", 1000)
    assert third.status_code == 402, third.text
    details = third.json()["error"]["details"]
    assert (details["limit"], details["usage"], details["allowed"]) == ("uploads_per_month", 2, 2)


async def test_admin_routes_refuse_bad_input_and_non_admins(new_api: NewApi) -> None:
    api, admin = await new_api(), await new_api(admin=True)
    user_id = await _user_id(api)
    tier, budget = f"/api/v1/admin/users/{user_id}/tier", f"/api/v1/admin/users/{user_id}/budget"
    for path, body in ((tier, {"tier": "pro"}), (budget, {"amount": 5})):
        assert (await api.request("PUT", path, json=body)).status_code == 403
    assert (await admin.request("PUT", tier, json={"tier": "gold"})).status_code == 400
    for bad in ('{"amount": -1}', '{"amount": 1000001}', '{"amount": NaN}', '{"amount": Infinity}', '{"amount": "5"}',
                "{}", "[5]", "not json"):  # fmt: skip
        response = await admin.request("PUT", budget, content=bad, headers={"content-type": "application/json"})
        assert response.status_code == 400, (bad, response.text)
    for other in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        response = await admin.request("PUT", f"/api/v1/admin/users/{other}/tier", json={"tier": "pro"})
        assert response.status_code == 404, response.text
    assert (await api.request("GET", "/api/v1/me")).json()["tier"] == "free"  # nothing changed
    assert (await _json(admin, "PUT", budget, json={"amount": 2.5}))["amount"] == 2.5
    assert (await _json(api, "GET", "/api/v1/billing/usage"))["budget"] == 2.5

    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"cursor": "!!"}, {"cursor": "bm9wZQ"}):
        assert (await api.request("GET", "/api/v1/billing/ledger", params=params)).status_code == 400, params
