"""What the gateway serves for the web app (page, assets, /config.json, headers) and the media-content routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from support import DEV_MEDIA, Api

from trove_common.media_types import ALLOWED_TYPES
from trove_stack.infra import Infra

NewApi = Callable[[], Awaitable[Api]]


async def test_page_has_a_strict_content_security_policy(gateway_url: str, infra: Infra) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        page = await client.get("/")
        script = await client.get("/static/app.js")
        escape = await client.get("/static/../pages.py")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert policy["img-src"].startswith("'self' blob: data:")
    assert policy["media-src"].startswith("'self' blob:")
    assert policy["connect-src"].split()[:2] == ["'self'", f"http://{infra.auth_emulator_host}"]
    assert policy["frame-ancestors"] == "'none'"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-request-id"]
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert escape.status_code == 404


async def test_config_tells_the_page_where_to_sign_in_and_what_the_server_takes(gateway_url: str, infra: Infra) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        response = await client.get("/config.json")
    assert response.status_code == 200
    config = response.json()
    assert config["authBaseUrl"] == f"http://{infra.auth_emulator_host}/identitytoolkit.googleapis.com"
    assert config["tokenBaseUrl"] == f"http://{infra.auth_emulator_host}/securetoken.googleapis.com"
    assert config["apiKey"] == "fake-api-key"
    assert config["projectId"] == "demo-trove"
    assert config["allowedTypes"] == ALLOWED_TYPES
    assert config["maxUploadBytes"] == 2 * 1024**3  # TROVE_INGEST_MAX_UPLOAD_BYTES's default, which ingest enforces
    assert config["billing"] is True


async def test_media_content_streams_ranges_to_its_owner_only(new_api: NewApi) -> None:
    alice, bob = await new_api(), await new_api()
    data = (DEV_MEDIA / "chelsea.png").read_bytes()
    media_id = await alice.upload(data, "chelsea.png", "image/png")

    whole = await alice.request("GET", f"/api/v1/media/{media_id}/content")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "image/png"
    assert whole.headers["accept-ranges"] == "bytes"
    part = await alice.request("GET", f"/api/v1/media/{media_id}/content", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert part.content == data[100:200]

    assert (await bob.request("GET", f"/api/v1/media/{media_id}/content")).status_code == 404
    async with httpx.AsyncClient(base_url=alice.base_url) as anonymous:
        assert (await anonymous.get(f"/api/v1/media/{media_id}/content")).status_code == 401


async def test_content_url_is_a_signed_expiring_get_url(new_api: NewApi) -> None:
    alice, bob = await new_api(), await new_api()
    data = (DEV_MEDIA / "weather_report.wav").read_bytes()
    media_id = await alice.upload(data, "weather_report.wav", "audio/wav")

    response = await alice.request("GET", f"/api/v1/media/{media_id}/content-url")
    assert response.status_code == 200
    body = response.json()
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now().astimezone()
    assert (await bob.request("GET", f"/api/v1/media/{media_id}/content-url")).status_code == 404

    async with httpx.AsyncClient() as browser:  # no Authorization header, as a <video> element sends none
        part = await browser.get(body["url"], headers={"Range": "bytes=0-43"})
        assert part.status_code == 206 and part.content == data[:44]
        parts = urlsplit(body["url"])
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        later = urlencode({**params, "expires": int(params["expires"]) + 60})
        forged = await browser.get(f"{parts.scheme}://{parts.netloc}{parts.path}?{later}")
        assert forged.status_code == 403
