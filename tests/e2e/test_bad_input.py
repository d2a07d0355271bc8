"""Bad input gets a clear error and loses nothing."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
from PIL import Image
from support import DEV_MEDIA, Api, expired_token

NewApi = Callable[[], Awaitable[Api]]


async def test_missing_invalid_or_expired_token_is_401(new_api: NewApi, gateway_url: str) -> None:
    api = await new_api()
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        for headers in (
            {},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": "Basic abc"},
            {"Authorization": f"Bearer {expired_token(api.token)}"},
        ):
            response = await client.get("/api/v1/media", headers=headers)
            assert response.status_code == 401, (headers, response.text)
            error = response.json()["error"]
            assert error["code"] == "unauthenticated" and error["message"] and error["request_id"]
    expired = await client_get(gateway_url, expired_token(api.token))
    assert "expired" in expired.json()["error"]["message"]


async def client_get(gateway_url: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        return await client.get("/api/v1/media", headers={"Authorization": f"Bearer {token}"})


async def test_content_type_outside_allow_list_is_415(new_api: NewApi) -> None:
    api = await new_api()
    response = await api.create_upload("notes.txt", "text/plain", 10)
    assert response.status_code == 415
    assert "text/plain" in response.json()["error"]["message"]


async def test_size_over_limit_is_413(new_api: NewApi) -> None:
    api = await new_api()
    response = await api.create_upload("huge.mp4", "video/mp4", 10**13)
    assert response.status_code == 413
    assert "bytes" in response.json()["error"]["message"]


async def test_malformed_json_and_missing_fields_are_400(new_api: NewApi) -> None:
    api = await new_api()
    bad_json = await api.request(
        "POST", "/api/v1/uploads", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]["message"]
    missing = await api.request("POST", "/api/v1/uploads", json={"filename": "a.png", "content_type": "image/png"})
    assert missing.status_code == 400 and "size_bytes" in missing.json()["error"]["message"]
    wrong_type = await api.request(
        "POST", "/api/v1/uploads", json={"filename": "a.png", "content_type": "image/png", "size_bytes": "ten"}
    )
    assert wrong_type.status_code == 400 and "size_bytes" in wrong_type.json()["error"]["message"]
    bad_limit = await api.request("GET", "/api/v1/media", params={"limit": "many"})
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["error"]["message"]
    bad_cursor = await api.request("GET", "/api/v1/media", params={"cursor": "%%%"})
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["error"]["message"]
    traversal = await api.create_upload("../etc/passwd.png", "image/png", 10)
    assert traversal.status_code == 400 and "filename" in traversal.json()["error"]["message"]


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_put_with_wrong_signature_or_after_expiry_is_403(new_api: NewApi) -> None:
    api = await new_api()
    data = (DEV_MEDIA / "grass.png").read_bytes()
    ticket = (await api.create_upload("grass.png", "image/png", len(data))).json()
    for url in (
        _with_query(ticket["upload_url"], signature="0" * 64),
        _with_query(ticket["upload_url"], expires="1000"),
        _with_query(ticket["upload_url"], max_bytes=str(10 * len(data))),
    ):
        response = await api.put({**ticket, "upload_url": url}, data)
        assert response.status_code == 403, response.text
    # Nothing was stored: completing now is a conflict, and the genuine URL still works.
    early = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert early.status_code == 409 and "not been uploaded" in early.json()["error"]["message"]
    assert (await api.put(ticket, data)).status_code == 200
    assert (await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")).status_code == 202


async def test_more_bytes_than_declared_is_413(new_api: NewApi) -> None:
    api = await new_api()
    ticket = (await api.create_upload("grass.png", "image/png", 100)).json()
    response = await api.put(ticket, (DEV_MEDIA / "grass.png").read_bytes())
    assert response.status_code == 413


async def test_bytes_not_matching_declared_type_are_422(new_api: NewApi) -> None:
    api = await new_api()
    data = b"%PDF-1.4\n" + b"x" * 200
    ticket = (await api.create_upload("photo.png", "image/png", len(data))).json()
    assert (await api.put(ticket, data)).status_code == 200
    response = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert response.status_code == 422
    assert "application/pdf" in response.json()["error"]["message"]


async def test_complete_twice_is_one_media(new_api: NewApi) -> None:
    api = await new_api()
    data = (DEV_MEDIA / "grass.png").read_bytes()
    ticket = (await api.create_upload("grass.png", "image/png", len(data))).json()
    await api.put(ticket, data)
    path = f"/api/v1/uploads/{ticket['upload_id']}/complete"
    first, second = await asyncio.gather(api.request("POST", path), api.request("POST", path))
    assert first.status_code == second.status_code == 202
    assert first.json()["media_id"] == second.json()["media_id"]
    assert len((await api.request("GET", "/api/v1/media")).json()["items"]) == 1


async def test_corrupt_image_fails_with_a_reason_and_the_worker_goes_on(new_api: NewApi) -> None:
    api = await new_api()
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "orange").save(buffer, "JPEG")
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 3]
    broken = await api.upload(truncated, "broken.jpg", "image/jpeg")
    media = await api.wait_done(broken)
    assert media["status"] == "failed"
    assert "truncated" in media["error"] or "corrupt" in media["error"]

    good = await api.upload((DEV_MEDIA / "rocket.jpg").read_bytes(), "rocket.jpg", "image/jpeg")
    assert (await api.wait_done(good))["status"] == "completed"


def _assert_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["request_id"], error
    for word in words:
        assert word in error["message"], error


async def test_integers_out_of_range_are_400(new_api: NewApi) -> None:
    api = await new_api()
    for size in (10**30, 2**63, -1, 0):
        _assert_error(await api.create_upload("a.png", "image/png", size), 400, "size_bytes")
    for limit in ("10" + "0" * 30, "-5", "0", "١٢", "²", "1e3", "4" * 5000):
        _assert_error(await api.request("GET", "/api/v1/media", params={"limit": limit}), 400, "limit")
        _assert_error(await api.search("cat", limit=limit), 400, "limit")


async def test_nul_and_lone_surrogates_are_400(new_api: NewApi, gateway_url: str) -> None:
    api = await new_api()
    _assert_error(await api.request("GET", "/api/v1/search?q=%00"), 400, "NUL")
    _assert_error(await api.request("GET", "/api/v1/search?q=cat%00dog"), 400, "NUL")
    _assert_error(await api.request("GET", "/api/v1/media?cursor=%00"), 400, "NUL")
    _assert_error(await api.request("GET", "/api/v1/media/%00"), 400, "NUL")
    for name in ("a\x00.png", "\ud800.png"):
        # Sent as JSON escapes (\u0000, \ud800), which json.loads turns into the bad characters.
        raw = json.dumps({"filename": name, "content_type": "image/png", "size_bytes": 10})
        response = await api.request(
            "POST", "/api/v1/uploads", content=raw.encode(), headers={"Content-Type": "application/json"}
        )
        _assert_error(response, 400, "filename")
    # Percent-encoded invalid UTF-8 in a query is replaced (U+FFFD), never a server error.
    response = await api.request("GET", "/api/v1/search?q=%ED%A0%80")
    assert response.status_code == 200, response.text


async def test_deeply_nested_or_oversized_json_is_refused(new_api: NewApi) -> None:
    api = await new_api()
    headers = {"Content-Type": "application/json"}
    for depth in (40, 5000, 100_000):
        nested = ("[" * depth + "]" * depth).encode()
        body = b'{"filename": "a.png", "content_type": "image/png", "size_bytes": 10, "x": ' + nested + b"}"
        response = await api.request("POST", "/api/v1/uploads", content=body, headers=headers)
        _assert_error(response, 413 if len(body) > 64 * 1024 else 400)
    big = b'{"filename": "' + b"a" * 70_000 + b'.png", "content_type": "image/png", "size_bytes": 10}'
    _assert_error(await api.request("POST", "/api/v1/uploads", content=big, headers=headers), 413, "at most")


async def test_body_is_bounded_while_streaming(new_api: NewApi) -> None:
    """Chunked, with no Content-Length and no end: the gateway answers 413 as soon as it has read past the limit."""
    api = await new_api()
    chunks = [b'{"filename": "', *[b"a" * 8192] * 10]
    never_ending = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    status = await _raw_status(
        api, "POST /api/v1/uploads", "Transfer-Encoding: chunked", "Content-Type: application/json", body=never_ending
    )
    assert status == 413
    # A declared Content-Length over the limit is refused before any of the body is sent.
    assert await _raw_status(api, "POST /api/v1/uploads", f"Content-Length: {10**12}") == 413
    for path in ("/api/v1/uploads", "/api/v1/admin/users/x/tier"):
        _assert_error(await api.request("POST", path, content=b"x" * (65 * 1024)), 413)


async def test_blob_url_with_non_ascii_digits_is_403(new_api: NewApi) -> None:
    api = await new_api()
    data = (DEV_MEDIA / "grass.png").read_bytes()
    ticket = (await api.create_upload("grass.png", "image/png", len(data))).json()
    for changes in ({"expires": "١٢٣"}, {"expires": "²"}, {"max_bytes": "٣"}, {"expires": "9" * 5000}):
        response = await api.put({**ticket, "upload_url": _with_query(ticket["upload_url"], **changes)}, data)
        assert response.status_code in (400, 403), response.text
        assert response.json()["error"]["code"] in ("invalid_argument", "permission_denied")


async def _raw_status(api: Api, request_line: str, *headers: str, body: bytes = b"") -> int:
    """The status of a request sent as raw HTTP/1.1: headers and the start of a body the server must answer within."""
    url = httpx.URL(api.base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = [f"{request_line} HTTP/1.1", f"Host: {url.host}", f"Authorization: Bearer {api.token}", *headers]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=30)
    writer.close()
    return int(status_line.split()[1])
