"""Where media bytes live, as the services see it: one async interface over the local blob folder and S3.

`TROVE_<SVC>_STORAGE__BACKEND` picks the store (`open_object_store`). Keys are the blob store's
(`users/<user id>/<upload id>`, derived files `<key>.<suffix>`), so both backends hold the same layout.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from trove_common.blobstore import USERS_PREFIX, LocalBlobStore, SignedUrl
from trove_common.errors import NotFoundError, UnavailableError
from trove_common.settings import StorageSettings


@dataclass(frozen=True, slots=True)
class PresignedPut:
    """Where and how a client sends an upload's bytes: PUT `url` with exactly these `headers`."""

    url: str
    expires_at: int  # unix seconds
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectRange:
    """Part (or all) of an object's bytes, streamed."""

    chunks: AsyncIterator[bytes]
    size: int  # bytes in this range
    total: int  # bytes in the whole object
    start: int
    partial: bool


class ObjectStorage(Protocol):
    """An object store: presigned URLs for clients, reads, writes and deletes for the services."""

    backend: str

    async def check(self) -> None:
        """Fail with a StorageConfigError naming the setting when the store cannot be used."""
        ...

    async def sign_put(self, *, key: str, content_type: str, size_bytes: int, ttl_s: int) -> PresignedPut: ...
    async def sign_get(self, *, key: str, ttl_s: int) -> SignedUrl: ...
    async def size(self, key: str) -> int | None: ...
    async def read_head(self, key: str, n_bytes: int) -> bytes: ...
    async def read(self, key: str) -> bytes | None:
        """A whole (small) object, or None when it does not exist."""
        ...

    async def open_range(self, key: str, *, byte_range: str | None) -> ObjectRange:
        """The object's bytes, or those of one HTTP range (`bytes=0-99`, `bytes=-500`); NotFoundError when absent."""
        ...

    async def download(self, key: str, target: Path) -> None:
        """Stream an object into a new local file; NotFoundError when absent."""
        ...

    async def put(self, key: str, data: bytes) -> None: ...
    async def delete(self, key: str) -> None:
        """Remove an object with its derived files (`<key>.<suffix>`)."""
        ...

    async def derived_bytes(self, key: str) -> int: ...
    async def user_ids(self) -> list[str]:
        """The users that have objects."""
        ...

    async def stale_user_objects(self, user_id: str, *, modified_before: float) -> list[str]:
        """Names (within `users/<user id>/`) of that user's objects last modified before a unix time."""
        ...

    async def remove_user_object(self, user_id: str, name: str) -> None: ...
    async def aclose(self) -> None: ...


class StorageConfigError(UnavailableError):
    """The configured object store cannot be used; the message names the setting to fix (503 / UNAVAILABLE)."""


class LocalObjectStorage:
    """The local blob folder behind the gateway's `/blobs/` URLs, with file work off the event loop."""

    backend = "local"

    def __init__(self, blobs: LocalBlobStore) -> None:
        self.blobs = blobs

    async def check(self) -> None:
        return None

    async def sign_put(self, *, key: str, content_type: str, size_bytes: int, ttl_s: int) -> PresignedPut:
        signed = self.blobs.sign(key=key, method="PUT", ttl_s=ttl_s, max_bytes=size_bytes)
        return PresignedPut(url=signed.url, expires_at=signed.expires_at, headers={"Content-Type": content_type})

    async def sign_get(self, *, key: str, ttl_s: int) -> SignedUrl:
        return self.blobs.sign(key=key, method="GET", ttl_s=ttl_s)

    async def size(self, key: str) -> int | None:
        return await asyncio.to_thread(self.blobs.size, key)

    async def read_head(self, key: str, n_bytes: int) -> bytes:
        return await asyncio.to_thread(self.blobs.read_head, key, n_bytes)

    async def read(self, key: str) -> bytes | None:
        path = self.blobs.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def open_range(self, key: str, *, byte_range: str | None) -> ObjectRange:
        raise NotImplementedError("the gateway serves local files itself (FileResponse, with ranges)")

    async def download(self, key: str, target: Path) -> None:
        source = self.blobs.path(key)
        try:
            await asyncio.to_thread(shutil.copyfile, source, target)
        except FileNotFoundError:
            raise NotFoundError(f"object {key} does not exist") from None

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self.blobs.write, key, data)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.blobs.delete, key)

    async def derived_bytes(self, key: str) -> int:
        return await asyncio.to_thread(self.blobs.derived_bytes, key)

    async def user_ids(self) -> list[str]:
        return await asyncio.to_thread(self.blobs.user_folders)

    async def stale_user_objects(self, user_id: str, *, modified_before: float) -> list[str]:
        files = await asyncio.to_thread(self.blobs.stale_user_files, user_id, modified_before=modified_before)
        return [f.name for f in files]

    async def remove_user_object(self, user_id: str, name: str) -> None:
        path = self.blobs.path(f"{USERS_PREFIX}{user_id}") / name
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def aclose(self) -> None:
        return None


@contextlib.asynccontextmanager
async def open_object_store(settings: StorageSettings, *, env_prefix: str) -> AsyncIterator[ObjectStorage]:
    """The store `settings.backend` names, checked (StorageConfigError names the setting), closed on exit.

    Args:
        env_prefix: the service's variable prefix (`TROVE_INGEST_`), so errors name the variable to fix.
    """
    store: ObjectStorage
    if settings.backend == "s3":
        from trove_common.s3store import S3ObjectStorage  # here: keeps aioboto3 out of local-only processes

        store = await S3ObjectStorage.open(settings.s3, env_prefix=env_prefix)
    else:
        store = LocalObjectStorage(local_blobs(settings))
    try:
        await store.check()
        yield store
    finally:
        await store.aclose()


def local_blobs(settings: StorageSettings) -> LocalBlobStore:
    return LocalBlobStore(
        root=settings.root, signing_key=settings.signing_key.get_secret_value(), public_url=settings.public_url
    )
