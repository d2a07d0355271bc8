"""The workers' object store on the s3 backend: originals downloaded once into the cache, the cache bounded, and a
credential S3 refuses turned into an error naming the setting (which fails the stage with that message)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import sim_s3_settings

from trove_analysis.s3_objects import S3ObjectStore
from trove_common.blobstore import frame_key, thumbnail_key
from trove_common.objectstore import ObjectStorage, StorageConfigError
from trove_common.s3store import S3ObjectStorage
from trove_stack.config import StackConfig
from trove_stack.infra import Infra


@pytest.fixture
async def bucket(infra: Infra, aws_sim_config: StackConfig) -> AsyncIterator[ObjectStorage]:
    store = await S3ObjectStorage.open(sim_s3_settings(aws_sim_config, infra), env_prefix="TROVE_ANALYSIS_")
    yield store
    await store.aclose()


async def test_an_object_is_downloaded_once_and_the_cache_stays_bounded(bucket: ObjectStorage, tmp_path: Path) -> None:
    keys = [f"users/cache-test/{n}" for n in range(3)]
    for n, key in enumerate(keys):
        await bucket.put(key, bytes([n]) * 1000)
    store = S3ObjectStore(storage=bucket, cache_dir=tmp_path / "cache", max_bytes=2500, max_age_s=3600)
    first, again = await asyncio.gather(store.local_path(keys[0]), store.local_path(keys[0]))
    assert first == again and first.read_bytes() == b"\0" * 1000
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    await bucket.delete(keys[0])
    assert (await store.local_path(keys[0])).read_bytes() == b"\0" * 1000  # cached: no second download
    os.utime(first, (1, 1))  # the least recently used
    await store.local_path(keys[1])
    await store.local_path(keys[2])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        [(await store.local_path(keys[1])).name, (await store.local_path(keys[2])).name]
    )


async def test_thumbnails_go_to_the_bucket_beside_the_original(bucket: ObjectStorage, tmp_path: Path) -> None:
    store = S3ObjectStore(storage=bucket, cache_dir=tmp_path, max_bytes=10**6, max_age_s=60)
    await bucket.put("users/thumbs/one", b"original")
    await store.put("users/thumbs/one.thumb.jpg", b"\xff\xd8tiny")
    assert await store.derived_bytes("users/thumbs/one") == 6


async def test_scene_frames_are_counted_and_deleted_with_the_video(bucket: ObjectStorage, tmp_path: Path) -> None:
    store = S3ObjectStore(storage=bucket, cache_dir=tmp_path, max_bytes=10**6, max_age_s=60)
    await bucket.put("users/frames/one", b"original")
    await store.put(thumbnail_key("users/frames/one"), b"\xff\xd8tiny")
    for number in (1, 2):
        await store.put(frame_key("users/frames/one", number), b"\xff\xd8" + b"f" * 10)
    assert await store.derived_bytes("users/frames/one") == 6 + 2 * 12
    assert await bucket.read(frame_key("users/frames/one", 2)) == b"\xff\xd8" + b"f" * 10
    await bucket.delete("users/frames/one")
    assert await bucket.read(frame_key("users/frames/one", 1)) is None
    assert await bucket.derived_bytes("users/frames/one") == 0


async def test_a_refused_credential_names_the_setting(
    infra: Infra, aws_sim_config: StackConfig, tmp_path: Path
) -> None:
    wrong = sim_s3_settings(aws_sim_config, infra, secret_access_key="not-the-secret")
    storage = await S3ObjectStorage.open(wrong, env_prefix="TROVE_ANALYSIS_")
    try:
        store = S3ObjectStore(storage=storage, cache_dir=tmp_path, max_bytes=10**6, max_age_s=60)
        with pytest.raises(StorageConfigError, match="TROVE_ANALYSIS_STORAGE__S3__SECRET_ACCESS_KEY"):
            await store.local_path("users/any/thing")
    finally:
        await storage.aclose()
