"""Ingest rules: who may upload what, when an upload is complete, and how media records change."""

from __future__ import annotations

import base64
import logging
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg

from trove_common.blobstore import object_of, parse_upload_key, upload_key
from trove_common.db import user_transaction
from trove_common.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)
from trove_common.ids import parse_id
from trove_common.jobs import AnalyzeMediaArgs
from trove_common.objectstore import ObjectStorage
from trove_ingest import filetypes, repo
from trove_ingest.models import STATUSES, Budget, Media, MediaPage, Pending, UploadTicket

logger = logging.getLogger(__name__)

MAX_FILENAME_CHARS = 255
MAX_PAGE = 100

# Puts one analysis job on the queue; must be safe to call twice for one media file.
Enqueue = Callable[[AnalyzeMediaArgs], Awaitable[None]]


class Accounts(Protocol):
    """The billing side of uploads (see trove_ingest.accounts)."""

    async def check_quota(self, *, user_id: str, size_bytes: int, pending: Pending) -> None: ...
    async def budget(self, *, user_id: str) -> Budget: ...
    async def record_upload(self, *, user_id: str, media_id: str, size_bytes: int) -> None: ...
    async def record_deletion(self, *, user_id: str, media_id: str) -> None: ...


def blocked_message(budget: Budget) -> str:
    return (
        f"Waiting: this month's analysis budget is used up ({budget.spent:.4f} of {budget.amount:.4f} "
        f"{budget.currency} spent). Analysis starts by itself when the budget is raised or next month begins."
    )


def _check_filename(filename: str) -> str:
    name = unicodedata.normalize("NFC", filename.strip())
    if not name:
        raise InvalidArgumentError("filename must not be empty")
    if len(name) > MAX_FILENAME_CHARS:
        raise InvalidArgumentError(f"filename must be at most {MAX_FILENAME_CHARS} characters")
    if "/" in name or "\\" in name or any(unicodedata.category(c) == "Cc" for c in name) or name in (".", ".."):
        raise InvalidArgumentError("filename must be a plain file name without path separators or control characters")
    return name


def encode_cursor(media: Media) -> str:
    raw = f"{media.created_at.isoformat()}|{media.media_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, media_id = raw.split("|")
        return datetime.fromisoformat(created), str(uuid.UUID(media_id))
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgumentError("cursor is malformed") from None


class Ingest:
    """Upload sessions and media records of the calling user."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        store: ObjectStorage,
        enqueue: Enqueue,
        accounts: Accounts,
        max_upload_bytes: int,
        url_ttl_s: int,
    ) -> None:
        self._pool = pool
        self._store = store
        self._enqueue = enqueue
        self._accounts = accounts
        self._max_upload_bytes = max_upload_bytes
        self._url_ttl_s = url_ttl_s

    async def create_upload(self, *, user_id: str, filename: str, content_type: str, size_bytes: int) -> UploadTicket:
        name = _check_filename(filename)
        if not content_type:
            raise InvalidArgumentError("content_type must not be empty")
        if filetypes.kind_of(content_type) is None:
            raise UnsupportedMediaTypeError(
                f"content type {content_type!r} is not supported; Trove accepts images, videos, audio and PDF documents"
            )
        if size_bytes <= 0:
            raise InvalidArgumentError("size_bytes must be a positive number of bytes")
        if size_bytes > self._max_upload_bytes:
            raise PayloadTooLargeError(
                f"the file is {size_bytes} bytes; the largest accepted is {self._max_upload_bytes} bytes"
            )
        upload_id = str(uuid.uuid4())
        key = upload_key(user_id=user_id, upload_id=upload_id)
        signed = await self._store.sign_put(
            key=key, content_type=content_type, size_bytes=size_bytes, ttl_s=self._url_ttl_s
        )
        expires_at = datetime.fromtimestamp(signed.expires_at, UTC)
        async with user_transaction(self._pool, user_id) as conn:
            # Checking and reserving are one step per user: concurrent creates take turns, and each one sees
            # the reservations of those before it.
            await repo.lock_user_uploads(conn, user_id=user_id)
            pending = await repo.pending_uploads(conn)
            await self._accounts.check_quota(user_id=user_id, size_bytes=size_bytes, pending=pending)
            await repo.insert_upload(
                conn,
                upload_id=upload_id,
                user_id=user_id,
                filename=name,
                content_type=content_type.lower(),
                size_bytes=size_bytes,
                storage_key=key,
                expires_at=expires_at,
            )
        return UploadTicket(
            upload_id=upload_id,
            url=signed.url,
            method="PUT",
            headers=signed.headers,
            expires_at=expires_at,
        )

    async def complete_upload(self, *, user_id: str, upload_id: str) -> Media:
        """Check the stored bytes and the quota, create the media record and queue its analysis (or hold it while
        the month's budget is used up). Safe to repeat: usage is counted and the job queued once."""
        upload_id = parse_id(upload_id, what="upload", error=NotFoundError)
        budget: Budget | None = None
        async with user_transaction(self._pool, user_id) as conn:
            await repo.lock_user_uploads(conn, user_id=user_id)
            upload = await repo.lock_upload(conn, upload_id=upload_id)
            if upload is None:
                raise NotFoundError("upload not found")
            if upload.media_id is not None:
                media = await repo.get_media(conn, media_id=upload.media_id)
                if media is None:
                    raise NotFoundError("upload not found")
            else:
                if upload.expires_at <= datetime.now(UTC):
                    raise ConflictError(
                        f"the upload expired at {upload.expires_at.isoformat()}; start a new upload",
                        details={"reason": "upload_expired", "expired_at": upload.expires_at.isoformat()},
                    )
                content_type, kind = await self._check_object(
                    upload.storage_key, upload.content_type, upload.size_bytes
                )
                # Again, as the limits or the usage may have changed since the upload was created.
                pending = await repo.pending_uploads(conn, excluding=upload.upload_id)
                await self._accounts.check_quota(user_id=user_id, size_bytes=upload.size_bytes, pending=pending)
                budget = await self._accounts.budget(user_id=user_id)
                status, error = ("blocked_budget", blocked_message(budget)) if budget.exhausted else ("queued", "")
                media = await repo.insert_media(
                    conn, upload=upload, content_type=content_type, kind=kind, status=status, error=error
                )
        # After commit, so the worker always finds the record; a failed call is retried by completing again.
        # Until it is counted the upload keeps its reservation (see repo.pending_uploads).
        if upload.counted_at is None:
            await self._accounts.record_upload(user_id=user_id, media_id=media.media_id, size_bytes=media.size_bytes)
            async with user_transaction(self._pool, user_id) as conn:
                await repo.mark_counted(conn, upload_id=upload.upload_id)
        if media.status == "queued":
            budget = budget or await self._accounts.budget(user_id=user_id)
            await self._enqueue(_job(media, user_id=user_id, priority=budget.queue_priority))
        logger.info("upload completed", extra={"media_id": media.media_id, "kind": media.kind, "status": media.status})
        return media

    async def check_writable(self, *, user_id: str, storage_key: str) -> None:
        """Succeed only while the upload owning `storage_key` is open: not completed, swept, deleted or expired."""
        owner = parse_upload_key(storage_key)
        if owner is None or owner[0] != user_id:
            raise NotFoundError("no upload has this storage key")
        async with user_transaction(self._pool, user_id) as conn:
            upload = await repo.upload_by_key(conn, storage_key=storage_key)
        if upload is None:
            raise NotFoundError("the upload no longer exists")
        if upload.media_id is not None:
            raise ConflictError("the upload is completed; its bytes cannot be written again")
        if upload.expires_at <= datetime.now(UTC):
            raise ConflictError("the upload has expired; start a new upload")

    async def sweep(self, *, grace_s: float) -> int:
        """Remove uploads never completed that expired more than `grace_s` ago, with their bytes, and files
        left in users' folders by no upload (a write that raced a delete); returns how many uploads went."""
        expired_before = datetime.now(UTC) - timedelta(seconds=grace_s)
        async with self._pool.acquire() as conn:
            user_ids = await repo.users_with_abandoned_uploads(conn, expired_before=expired_before)
        swept = 0
        for user_id in user_ids:
            async with user_transaction(self._pool, user_id) as conn:
                keys = await repo.delete_abandoned(conn, expired_before=expired_before)
            for key in keys:
                await self._store.delete(key)
            swept += len(keys)
            logger.info("abandoned uploads swept", extra={"event": "uploads_swept", "user_id": user_id, "n": len(keys)})
        for user_id in await self._store.user_ids():
            await self._sweep_orphans(user_id, older_than=time.time() - grace_s)
        return swept

    async def _sweep_orphans(self, user_id: str, *, older_than: float) -> None:
        names = await self._store.stale_user_objects(user_id, modified_before=older_than)
        ids = {i for i in (object_of(name) for name in names) if _is_uuid(i)}
        if not ids:
            return
        async with user_transaction(self._pool, user_id) as conn:
            known = await repo.known_uploads(conn, upload_ids=sorted(ids))
        for name in names:
            upload_id = object_of(name)
            if upload_id in ids and upload_id not in known:
                await self._store.remove_user_object(user_id, name)
                logger.info("orphan blob removed", extra={"event": "orphan_swept", "user_id": user_id})

    async def requeue_stale(self, *, older_than_s: float) -> int:
        """Queue again media left `queued` for `older_than_s` (its enqueue was lost); returns how many.

        A job that still waits in Redis keeps its id, so queueing it again is a no-op there.
        """
        before = datetime.now(UTC) - timedelta(seconds=older_than_s)
        async with self._pool.acquire() as conn:
            user_ids = await repo.users_with_stale_queued_media(conn, updated_before=before)
        requeued = 0
        for user_id in user_ids:
            async with user_transaction(self._pool, user_id) as conn:
                media = await repo.stale_queued_media(conn, updated_before=before)
            if not media:
                continue
            budget = await self._accounts.budget(user_id=user_id)
            for item in media:
                await self._enqueue(_job(item, user_id=user_id, priority=budget.queue_priority))
            requeued += len(media)
            logger.info("stale queued media queued again", extra={"event": "stale_requeued", "n": len(media)})
        return requeued

    async def resume_blocked(self) -> int:
        """Queue the media of every user whose budget allows analysis again; returns how many were queued."""
        async with self._pool.acquire() as conn:
            user_ids = await repo.users_with_blocked_media(conn)
        resumed = 0
        for user_id in user_ids:
            budget = await self._accounts.budget(user_id=user_id)
            if budget.exhausted:
                continue
            async with user_transaction(self._pool, user_id) as conn:
                media = await repo.unblock_media(conn)
                # Inside the transaction: if queueing fails the media stays blocked and the next round retries;
                # a worker that starts at once waits on the row lock for this commit.
                for item in media:
                    await self._enqueue(_job(item, user_id=user_id, priority=budget.queue_priority))
            resumed += len(media)
            logger.info("analysis resumed", extra={"event": "budget_resumed", "user_id": user_id, "media": len(media)})
        return resumed

    async def _check_object(self, key: str, declared_type: str, declared_size: int) -> tuple[str, str]:
        size = await self._store.size(key)
        if size is None:
            raise ConflictError("the file has not been uploaded yet: PUT the bytes to the upload URL first")
        if size != declared_size:
            raise UnprocessableError(f"the upload has {size} bytes but {declared_size} were declared")
        declared_kind = filetypes.kind_of(declared_type)
        sniffed = filetypes.sniff(await self._store.read_head(key, filetypes.SNIFF_BYTES))
        if sniffed is None or declared_kind is None:
            raise UnprocessableError(f"the file's content is not a supported {declared_type} file")
        sniffed_type, sniffed_kind = sniffed
        if not filetypes.compatible(declared_kind=declared_kind, sniffed_type=sniffed_type, sniffed_kind=sniffed_kind):
            raise UnprocessableError(f"the file's content is {sniffed_type}, which does not match {declared_type}")
        return sniffed_type, declared_kind

    async def get(self, *, user_id: str, media_id: str) -> Media:
        media_id = parse_id(media_id, what="media", error=NotFoundError)
        async with user_transaction(self._pool, user_id) as conn:
            media = await repo.get_media(conn, media_id=media_id)
        if media is None:
            raise NotFoundError("media not found")
        return media

    async def get_many(self, *, user_id: str, media_ids: list[str]) -> list[Media]:
        """The caller's media among `media_ids`; ids that are malformed or not the caller's are left out."""
        valid = []
        for media_id in media_ids[:1000]:
            try:
                valid.append(str(uuid.UUID(media_id)))
            except ValueError:
                continue
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.get_many(conn, media_ids=valid)

    async def list(self, *, user_id: str, limit: int, cursor: str) -> MediaPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidArgumentError(f"limit must be between 1 and {MAX_PAGE}")
        after = decode_cursor(cursor) if cursor else None
        async with user_transaction(self._pool, user_id) as conn:
            items = await repo.list_media(conn, limit=limit + 1, after=after)
        more = len(items) > limit
        items = items[:limit]
        return MediaPage(items=items, next_cursor=encode_cursor(items[-1]) if more else "")

    async def set_status(self, *, user_id: str, media_id: str, status: str, error: str) -> Media:
        if status not in STATUSES:
            raise InvalidArgumentError(f"status must be one of {', '.join(STATUSES)}")
        media_id = parse_id(media_id, what="media", error=NotFoundError)
        async with user_transaction(self._pool, user_id) as conn:
            media = await repo.set_status(conn, media_id=media_id, status=status, error=error[:2000])
        if media is None:
            raise NotFoundError("media not found")
        return media

    async def delete(self, *, user_id: str, media_id: str) -> Media:
        media_id = parse_id(media_id, what="media", error=NotFoundError)
        async with user_transaction(self._pool, user_id) as conn:
            media = await repo.delete_media(conn, media_id=media_id)
            if media is None:
                raise NotFoundError("media not found")
            # Before commit: if billing cannot be told, the delete rolls back and can be repeated (counted once).
            await self._accounts.record_deletion(user_id=user_id, media_id=media_id)
        await self._store.delete(media.storage_key)
        return media


def _job(media: Media, *, user_id: str, priority: str) -> AnalyzeMediaArgs:
    return AnalyzeMediaArgs(
        media_id=media.media_id,
        user_id=user_id,
        storage_key=media.storage_key,
        content_type=media.content_type,
        uploaded_at=media.created_at.isoformat(),
        filename=media.filename,
        kind=media.kind,
        priority=priority,
    )


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
