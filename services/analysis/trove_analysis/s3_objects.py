"""The workers' ObjectStore on the s3 backend: objects downloaded once into a private cache folder, since the
models read files (ffmpeg, PDF and image decoders seek); thumbnails written to the bucket."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

from trove_common.objectstore import ObjectStorage


class S3ObjectStore:
    """Objects of the bucket as local files: `<cache_dir>/<sha256 of key>`, kept while the cache has room.

    Upload keys are never reused, so a cached file never goes stale. Files unused for `max_age_s`, and the
    least recently used beyond `max_bytes`, are removed after each download.
    """

    def __init__(self, *, storage: ObjectStorage, cache_dir: Path, max_bytes: int, max_age_s: float) -> None:
        self._storage = storage
        self._dir = cache_dir
        self._max_bytes = max_bytes
        self._max_age_s = max_age_s
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # per key: its lock, and how many wait on it

    async def local_path(self, key: str) -> Path:
        path = self._dir / hashlib.sha256(key.encode()).hexdigest()
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:  # one download per key, however many stages ask at once
                if await asyncio.to_thread(_touch, path):
                    return path
                await self._download(key, path)
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
        await asyncio.to_thread(self._evict, keep=path)
        return path

    async def _download(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._dir.mkdir, mode=0o700, parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.part")
        try:
            await self._storage.download(key, temp)
            await asyncio.to_thread(os.replace, temp, path)
        finally:
            await asyncio.to_thread(temp.unlink, missing_ok=True)

    async def put(self, key: str, data: bytes) -> None:
        await self._storage.put(key, data)

    async def derived_bytes(self, key: str) -> int:
        return await self._storage.derived_bytes(key)

    def _evict(self, *, keep: Path) -> None:
        entries = []
        for entry in os.scandir(self._dir):
            try:
                info = entry.stat()
            except FileNotFoundError:
                continue
            entries.append((info.st_mtime, info.st_size, Path(entry.path)))
        entries.sort()
        total = sum(size for _, size, _ in entries)
        too_old = time.time() - self._max_age_s
        for mtime, size, path in entries:
            if path != keep and (total > self._max_bytes or mtime < too_old):
                path.unlink(missing_ok=True)
                total -= size


def _touch(path: Path) -> bool:
    """Mark a cached file as just used; False when it is not there."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True
