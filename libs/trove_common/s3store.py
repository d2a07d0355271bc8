"""Media bytes in an S3 bucket through aioboto3: presigned PUT/GET, HEAD for sizes, ranged GETs, deletes.

An upload's presigned PUT signs its Content-Length, Content-Type and `If-None-Match: *`, so S3 itself refuses a
body of another size or type, and a second write over bytes already stored (what `complete` checked and analysis
reads). Credentials, bucket or endpoint that do not work raise StorageConfigError naming the variable to fix.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from trove_common.blobstore import USERS_PREFIX, SignedUrl
from trove_common.errors import InvalidArgumentError, NotFoundError
from trove_common.objectstore import ObjectRange, PresignedPut, StorageConfigError
from trove_common.settings import S3Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_BAD_KEY = {"InvalidAccessKeyId", "InvalidClientTokenId", "UnrecognizedClientException"}
_BAD_SECRET = {"SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature"}


class S3ObjectStorage:
    """One bucket; keys as in trove_common.blobstore. Build with `open`, close with `aclose`."""

    backend = "s3"

    def __init__(self, *, client: S3Client, stack: contextlib.AsyncExitStack, settings: S3Settings, env_prefix: str):
        self._s3 = client
        self._stack = stack
        self._bucket = settings.bucket
        self._settings = settings
        self._prefix = f"{env_prefix}STORAGE__S3__"

    @classmethod
    async def open(cls, settings: S3Settings, *, env_prefix: str) -> S3ObjectStorage:
        """A client of the bucket's endpoint (not yet checked: see `check`)."""
        credentials: dict[str, Any] = {}
        if settings.access_key_id.get_secret_value():
            credentials = {
                "aws_access_key_id": settings.access_key_id.get_secret_value(),
                "aws_secret_access_key": settings.secret_access_key.get_secret_value(),
            }
        config = AioConfig(
            signature_version="s3v4",
            connect_timeout=settings.timeout_s,
            read_timeout=settings.timeout_s,
            retries={"max_attempts": 3, "mode": "adaptive"},
            # Path style on a custom endpoint (moto, MinIO on an address); virtual hosts on AWS.
            s3={"addressing_style": "path" if settings.endpoint_url else "virtual"},
            # Plain bodies (no aws-chunked trailers), which every S3 implementation reads.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        stack = contextlib.AsyncExitStack()
        session = aioboto3.Session(region_name=settings.region)
        client = await stack.enter_async_context(
            session.client("s3", endpoint_url=settings.endpoint_url or None, config=config, **credentials)
        )
        return cls(client=client, stack=stack, settings=settings, env_prefix=env_prefix)

    async def aclose(self) -> None:
        await self._stack.aclose()

    def config_error(self, exc: Exception) -> StorageConfigError | None:
        """The setting to blame for a failed call, or None when the error is about the object itself."""
        p = self._prefix
        if isinstance(exc, NoCredentialsError):
            return StorageConfigError(f"no S3 credentials: set {p}ACCESS_KEY_ID and {p}SECRET_ACCESS_KEY")
        if isinstance(exc, EndpointConnectionError):
            where = self._settings.endpoint_url or "AWS"
            return StorageConfigError(f"S3 at {where} cannot be reached: check {p}ENDPOINT_URL and {p}REGION")
        if not isinstance(exc, ClientError):
            return None
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _BAD_KEY:
            return StorageConfigError(f"S3 does not know the access key: check {p}ACCESS_KEY_ID")
        if code in _BAD_SECRET:
            return StorageConfigError(f"S3 refused the request signature: check {p}SECRET_ACCESS_KEY")
        if code == "NoSuchBucket":
            return StorageConfigError(f"the bucket {self._bucket!r} does not exist: check {p}BUCKET")
        if code in ("AccessDenied", "403"):
            return StorageConfigError(
                f"S3 denied access to the bucket {self._bucket!r}: check {p}ACCESS_KEY_ID, {p}SECRET_ACCESS_KEY "
                f"and the key's permissions on {p}BUCKET"
            )
        return None

    def _raise(self, exc: Exception) -> None:
        error = self.config_error(exc)
        if error is not None:
            raise error from exc

    async def check(self) -> None:
        """List one key: credentials, endpoint and bucket all have to work (a GET, unlike HEAD, says what failed;
        the sweeper needs s3:ListBucket anyway)."""
        try:
            await self._s3.list_objects_v2(Bucket=self._bucket, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc)
            raise

    async def sign_put(self, *, key: str, content_type: str, size_bytes: int, ttl_s: int) -> PresignedPut:
        expires_at = int(datetime.now().timestamp()) + ttl_s
        url = await self._s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": size_bytes,
                "IfNoneMatch": "*",
            },
            ExpiresIn=ttl_s,
        )
        # The browser sets Content-Length itself (from the file); these two it must send as signed.
        return PresignedPut(
            url=url, expires_at=expires_at, headers={"Content-Type": content_type, "If-None-Match": "*"}
        )

    async def sign_get(self, *, key: str, ttl_s: int) -> SignedUrl:
        expires_at = int(datetime.now().timestamp()) + ttl_s
        url = await self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=ttl_s
        )
        return SignedUrl(url=url, method="GET", expires_at=expires_at)

    async def size(self, key: str) -> int | None:
        try:
            head = await self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _NOT_FOUND:
                return None
            self._raise(exc)
            raise
        return int(head["ContentLength"])

    async def _get(self, key: str, **kwargs: Any) -> Any:
        try:
            return await self._s3.get_object(Bucket=self._bucket, Key=key, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                raise NotFoundError(f"object {key} does not exist") from exc
            if code == "InvalidRange":
                raise InvalidArgumentError("the requested range is not satisfiable") from exc
            self._raise(exc)
            raise
        except BotoCoreError as exc:
            self._raise(exc)
            raise

    async def read_head(self, key: str, n_bytes: int) -> bytes:
        response = await self._get(key, Range=f"bytes=0-{max(n_bytes, 1) - 1}")
        body = response["Body"]
        async with body:  # closes the connection; reads go through the StreamingBody
            data: bytes = await body.read()
        return data

    async def read(self, key: str) -> bytes | None:
        try:
            response = await self._get(key)
        except NotFoundError:
            return None
        body = response["Body"]
        async with body:  # closes the connection; reads go through the StreamingBody
            data: bytes = await body.read()
        return data

    async def open_range(self, key: str, *, byte_range: str | None) -> ObjectRange:
        response = await self._get(key, **({"Range": byte_range} if byte_range else {}))
        size = int(response["ContentLength"])
        total, first = size, 0
        if content_range := response.get("ContentRange"):  # bytes first-last/total
            span, _, whole = str(content_range).removeprefix("bytes ").partition("/")
            first, total = int(span.split("-")[0]), int(whole)

        async def chunks() -> AsyncIterator[bytes]:
            body = response["Body"]
            async with body:  # closes the connection; reads go through the StreamingBody
                async for chunk in body.iter_chunks(CHUNK_BYTES):
                    yield chunk

        return ObjectRange(chunks=chunks(), size=size, total=total, start=first, partial="ContentRange" in response)

    async def download(self, key: str, target: Path) -> None:
        response = await self._get(key)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            body = response["Body"]
            async with body:  # closes the connection; reads go through the StreamingBody
                async for chunk in body.iter_chunks(CHUNK_BYTES):
                    fh.write(chunk)

    async def put(self, key: str, data: bytes) -> None:
        try:
            await self._s3.put_object(Bucket=self._bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc)
            raise

    async def _list(self, prefix: str, *, delimiter: str = "") -> AsyncIterator[dict[str, Any]]:
        paginator = self._s3.get_paginator("list_objects_v2")
        pages = (
            paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter=delimiter)
            if delimiter
            else paginator.paginate(Bucket=self._bucket, Prefix=prefix)
        )
        try:
            async for page in pages:
                yield dict(page)
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc)
            raise

    async def _family(self, key: str) -> list[tuple[str, int]]:
        """The object and its derived files (`<key>.<suffix>`), with their sizes."""
        found = []
        async for page in self._list(key):
            for item in page.get("Contents", []):
                name = str(item["Key"])
                if name == key or name.startswith(f"{key}."):
                    found.append((name, int(item["Size"])))
        return found

    async def delete(self, key: str) -> None:
        keys = [name for name, _ in await self._family(key)] or [key]
        try:
            await self._s3.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc)
            raise

    async def derived_bytes(self, key: str) -> int:
        return sum(size for name, size in await self._family(key) if name != key)

    async def user_ids(self) -> list[str]:
        ids = []
        async for page in self._list(USERS_PREFIX, delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                ids.append(str(common["Prefix"]).removeprefix(USERS_PREFIX).rstrip("/"))
        return ids

    async def stale_user_objects(self, user_id: str, *, modified_before: float) -> list[str]:
        folder = f"{USERS_PREFIX}{user_id}/"
        stale = []
        async for page in self._list(folder):
            for item in page.get("Contents", []):
                if item["LastModified"].timestamp() < modified_before:
                    stale.append(str(item["Key"]).removeprefix(folder))
        return stale

    async def remove_user_object(self, user_id: str, name: str) -> None:
        try:
            await self._s3.delete_object(Bucket=self._bucket, Key=f"{USERS_PREFIX}{user_id}/{name}")
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc)
            raise
