"""The s3 storage backend end to end: uploads through presigned S3 URLs, analysis reading from the bucket, search,
downloads, deletes, and the refusals S3 makes itself (size, type, expiry, a second write, wrong credentials).

Runs on the session's `s3_stack` (Trove's services with TROVE_<SVC>_STORAGE__BACKEND=s3 against the AWS simulator:
moto behind trove_stack.aws_gate, which checks signatures, expiry and signed headers as S3 does).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from support import DEV_MEDIA, Api, S3Stack

from trove_common.blobstore import thumbnail_key
from trove_common.objectstore import ObjectStorage, StorageConfigError, open_object_store
from trove_common.settings import S3Settings, StorageSettings
from trove_stack import aws_sim
from trove_stack.config import REPO_ROOT, process_env

CORPUS = {
    "chelsea.png": "image/png",
    "menu_cafe.png": "image/png",
    "weather_report.wav": "audio/wav",
}


def _settings(s3: S3Settings, **changes: object) -> StorageSettings:
    return StorageSettings(backend="s3", s3=S3Settings.model_validate({**s3.model_dump(), **changes}))


@pytest.fixture
async def bucket(s3_stack: S3Stack) -> AsyncIterator[ObjectStorage]:
    """The stack's bucket, seen through the same store the services use."""
    async with open_object_store(_settings(s3_stack.s3), env_prefix="TROVE_TEST_") as store:
        yield store


async def _storage_key(api: Api, media_id: str, *, s3_stack: S3Stack) -> str:
    """The media's object key, read back from its presigned content URL (the REST API does not show keys)."""
    url = (await api.request("GET", f"/api/v1/media/{media_id}/content-url")).json()["url"]
    assert url.startswith(f"{s3_stack.s3.endpoint_url}/{s3_stack.s3.bucket}/users/")
    path = httpx.URL(url).path
    return path.removeprefix(f"/{s3_stack.s3.bucket}/")


@pytest.fixture(scope="module")
async def library(s3_stack: S3Stack) -> tuple[Api, dict[str, str]]:
    api = await s3_stack.api()
    ids = {name: await api.upload((DEV_MEDIA / name).read_bytes(), name, ctype) for name, ctype in CORPUS.items()}
    for media_id in ids.values():
        media = await api.wait_done(media_id, timeout_s=300)
        assert media["status"] == "completed", media
    return api, ids


async def test_uploads_through_presigned_urls_are_analysed_and_searchable(
    library: tuple[Api, dict[str, str]], s3_stack: S3Stack, bucket: ObjectStorage
) -> None:
    api, ids = library
    results = (await api.search("which soups can I get for lunch")).json()["results"]
    assert results[0]["filename"] == "menu_cafe.png"
    spoken = (await api.search("rain tomorrow weather")).json()["results"]
    assert "weather_report.wav" in [r["filename"] for r in spoken]
    for name, media_id in ids.items():
        key = await _storage_key(api, media_id, s3_stack=s3_stack)
        assert await bucket.size(key) == (DEV_MEDIA / name).stat().st_size
    # Thumbnails were written to the bucket beside the original and are served from there.
    key = await _storage_key(api, ids["chelsea.png"], s3_stack=s3_stack)
    thumb = await bucket.read(thumbnail_key(key))
    assert thumb is not None and thumb.startswith(b"\xff\xd8")
    served = await api.request("GET", f"/api/v1/media/{ids['chelsea.png']}/thumbnail")
    assert served.status_code == 200 and served.content == thumb


async def test_originals_are_served_from_the_bucket_whole_in_ranges_and_presigned(
    library: tuple[Api, dict[str, str]],
) -> None:
    api, ids = library
    original = (DEV_MEDIA / "weather_report.wav").read_bytes()
    path = f"/api/v1/media/{ids['weather_report.wav']}/content"
    whole = await api.request("GET", path)
    assert whole.status_code == 200 and whole.content == original
    assert whole.headers["content-type"].startswith("audio/")
    part = await api.request("GET", path, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == original[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(original)}"
    url = (await api.request("GET", f"/api/v1/media/{ids['weather_report.wav']}/content-url")).json()["url"]
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).content == original


async def test_s3_refuses_other_sizes_types_and_a_second_write_and_lets_the_page_upload(s3_stack: S3Stack) -> None:
    api = await s3_stack.api()
    data = (DEV_MEDIA / "grass.png").read_bytes()
    ticket = (await api.create_upload("grass.png", "image/png", len(data))).json()
    assert ticket["upload_url"].startswith(s3_stack.s3.endpoint_url)
    assert ticket["headers"] == {"Content-Type": "image/png", "If-None-Match": "*"}
    async with httpx.AsyncClient() as client:
        # The web page PUTs from the gateway's origin: the bucket's CORS rules let it.
        preflight = await client.options(
            ticket["upload_url"],
            headers={
                "Origin": s3_stack.gateway_url,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type,if-none-match",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == s3_stack.gateway_url
        bigger = await client.put(ticket["upload_url"], content=data + b"x", headers=ticket["headers"])
        assert bigger.status_code == 403 and "SignatureDoesNotMatch" in bigger.text
        other_type = await client.put(ticket["upload_url"], content=data, headers={"Content-Type": "image/jpeg"})
        assert other_type.status_code == 403
    incomplete = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert incomplete.status_code == 409  # nothing was stored
    assert (await api.put(ticket, data)).status_code == 200
    again = await api.put(ticket, data[::-1])
    assert again.status_code == 412  # If-None-Match: the bytes `complete` checks are never replaced
    done = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 202, done.text


async def test_an_expired_presigned_url_is_refused(s3_stack: S3Stack, bucket: ObjectStorage) -> None:
    put = await bucket.sign_put(key="users/expiry/probe", content_type="image/png", size_bytes=3, ttl_s=1)
    get = await bucket.sign_get(key="users/expiry/probe", ttl_s=1)
    await asyncio.sleep(2.1)
    async with httpx.AsyncClient() as client:
        refused = await client.put(put.url, content=b"abc", headers=put.headers)
        assert refused.status_code == 403 and "Request has expired" in refused.text
        assert (await client.get(get.url)).status_code == 403
    assert await bucket.size("users/expiry/probe") is None


async def test_deleting_media_removes_its_objects(s3_stack: S3Stack, bucket: ObjectStorage) -> None:
    api = await s3_stack.api()
    media_id = await api.upload((DEV_MEDIA / "coffee.png").read_bytes(), "coffee.png", "image/png")
    assert (await api.wait_done(media_id))["status"] == "completed"
    key = await _storage_key(api, media_id, s3_stack=s3_stack)
    assert await bucket.size(key) is not None and await bucket.size(thumbnail_key(key)) is not None
    assert (await api.request("DELETE", f"/api/v1/media/{media_id}")).status_code == 204
    assert await bucket.size(key) is None
    assert await bucket.size(thumbnail_key(key)) is None


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"secret_access_key": "not-the-secret"}, "TROVE_TEST_STORAGE__S3__SECRET_ACCESS_KEY"),
        ({"access_key_id": "AKIANOTAKEYATALL000"}, "TROVE_TEST_STORAGE__S3__ACCESS_KEY_ID"),
        ({"bucket": "no-such-bucket"}, "TROVE_TEST_STORAGE__S3__BUCKET"),
        ({"endpoint_url": "http://127.0.0.1:9"}, "TROVE_TEST_STORAGE__S3__ENDPOINT_URL"),
    ],
)
async def test_a_store_that_cannot_be_used_names_the_setting(
    s3_stack: S3Stack, changes: dict[str, str], named: str
) -> None:
    with pytest.raises(StorageConfigError, match=named):
        async with open_object_store(_settings(s3_stack.s3, **changes, timeout_s=2.0), env_prefix="TROVE_TEST_"):
            pass


def test_a_service_with_a_wrong_secret_stops_at_start_naming_it(s3_stack: S3Stack) -> None:
    env = process_env(
        "ingest",
        s3_stack.config,
        s3_stack.infra.secrets,
        overrides={**s3_stack.overrides, "TROVE_INGEST_STORAGE__S3__SECRET_ACCESS_KEY": "wrong-secret"},
    )
    done = subprocess.run(
        [sys.executable, "-m", "trove_ingest.main"],
        env=env | {"TROVE_INGEST_GRPC__PORT": "0", "TROVE_INGEST_METRICS__PORT": "0", "PATH": os.environ["PATH"]},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "TROVE_INGEST_STORAGE__S3__SECRET_ACCESS_KEY" in done.stdout + done.stderr


async def test_a_bucket_refusing_reads_answers_503_naming_the_settings(s3_stack: S3Stack) -> None:
    """S3 denying access while running (a policy, a revoked key) is not the client's fault: 503 with the settings."""
    api = await s3_stack.api()
    data = (DEV_MEDIA / "grass.png").read_bytes()
    ticket = (await api.create_upload("grass.png", "image/png", len(data))).json()
    assert (await api.put(ticket, data)).status_code == 200
    folder = httpx.URL(ticket["upload_url"]).path.removeprefix(f"/{s3_stack.s3.bucket}/").rsplit("/", 1)[0]
    s3 = aws_sim.client(s3_stack.config, s3_stack.infra.secrets)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:HeadObject"],
                "Resource": f"arn:aws:s3:::{s3_stack.s3.bucket}/{folder}/*",
            }
        ],
    }
    await asyncio.to_thread(s3.put_bucket_policy, Bucket=s3_stack.s3.bucket, Policy=json.dumps(policy))
    try:
        refused = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    finally:
        await asyncio.to_thread(s3.delete_bucket_policy, Bucket=s3_stack.s3.bucket)
    assert refused.status_code == 503, refused.text
    assert "TROVE_INGEST_STORAGE__S3__" in refused.text
    done = await api.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 202, done.text
