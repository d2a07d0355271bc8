"""SQL for ingest.uploads and ingest.media_files; every function runs inside a user transaction (RLS)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from trove_ingest.models import Media, Pending, Upload

_UPLOAD = (
    "upload_id::text, user_id::text, filename, content_type, size_bytes, storage_key, expires_at, media_id::text, "
    "counted_at"
)
_MEDIA = (
    "media_id::text, user_id::text, filename, content_type, kind, size_bytes, storage_key, status, error, "
    "created_at, updated_at"
)


def _media(row: asyncpg.Record) -> Media:
    return Media(**dict(row))


async def insert_upload(
    conn: asyncpg.Connection,
    *,
    upload_id: str,
    user_id: str,
    filename: str,
    content_type: str,
    size_bytes: int,
    storage_key: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO ingest.uploads (upload_id, user_id, filename, content_type, size_bytes, storage_key, expires_at)
           VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7)""",
        upload_id,
        user_id,
        filename,
        content_type,
        size_bytes,
        storage_key,
        expires_at,
    )


async def lock_user_uploads(conn: asyncpg.Connection, *, user_id: str) -> None:
    """Take the user's upload lock until the transaction ends: quota checks and reservations of one user take turns."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ingest.uploads'), hashtext($1))", user_id)


async def pending_uploads(conn: asyncpg.Connection, *, excluding: str | None = None) -> Pending:
    """The uploads holding a reservation: open ones, and completed ones billing has not counted yet."""
    row = await conn.fetchrow(
        """SELECT count(*) AS uploads, coalesce(sum(size_bytes), 0)::bigint AS size_bytes FROM ingest.uploads
           WHERE ((media_id IS NULL AND expires_at > now()) OR (media_id IS NOT NULL AND counted_at IS NULL))
             AND ($1::uuid IS NULL OR upload_id <> $1::uuid)""",
        excluding,
    )
    return Pending(uploads=row["uploads"], size_bytes=row["size_bytes"])


async def mark_counted(conn: asyncpg.Connection, *, upload_id: str) -> None:
    await conn.execute(
        "UPDATE ingest.uploads SET counted_at = now() WHERE upload_id = $1::uuid AND counted_at IS NULL", upload_id
    )


async def upload_by_key(conn: asyncpg.Connection, *, storage_key: str) -> Upload | None:
    row = await conn.fetchrow(f"SELECT {_UPLOAD} FROM ingest.uploads WHERE storage_key = $1", storage_key)
    return Upload(**dict(row)) if row else None


async def users_with_abandoned_uploads(conn: asyncpg.Connection, *, expired_before: datetime) -> list[str]:
    """Ids of the users with uploads never completed that expired before `expired_before` (a cross-user read)."""
    rows = await conn.fetch("SELECT ingest.users_with_abandoned_uploads($1)::text AS user_id", expired_before)
    return [r["user_id"] for r in rows]


async def delete_abandoned(conn: asyncpg.Connection, *, expired_before: datetime) -> list[str]:
    """Delete the calling user's uploads never completed that expired before `expired_before`; their storage keys."""
    rows = await conn.fetch(
        """DELETE FROM ingest.uploads WHERE media_id IS NULL AND expires_at < $1 RETURNING storage_key""",
        expired_before,
    )
    return [r["storage_key"] for r in rows]


async def known_uploads(conn: asyncpg.Connection, *, upload_ids: list[str]) -> set[str]:
    """Which of `upload_ids` are the calling user's uploads (open or completed)."""
    rows = await conn.fetch("SELECT upload_id::text FROM ingest.uploads WHERE upload_id = ANY($1::uuid[])", upload_ids)
    return {r["upload_id"] for r in rows}


async def lock_upload(conn: asyncpg.Connection, *, upload_id: str) -> Upload | None:
    """The upload row, locked until the transaction ends so two completes of one upload take turns."""
    row = await conn.fetchrow(f"SELECT {_UPLOAD} FROM ingest.uploads WHERE upload_id = $1::uuid FOR UPDATE", upload_id)
    return Upload(**dict(row)) if row else None


async def insert_media(
    conn: asyncpg.Connection, *, upload: Upload, content_type: str, kind: str, status: str, error: str
) -> Media:
    row = await conn.fetchrow(
        f"""INSERT INTO ingest.media_files
                (user_id, upload_id, filename, content_type, kind, size_bytes, storage_key, status, error)
            VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9) RETURNING {_MEDIA}""",
        upload.user_id,
        upload.upload_id,
        upload.filename,
        content_type,
        kind,
        upload.size_bytes,
        upload.storage_key,
        status,
        error,
    )
    await conn.execute(
        "UPDATE ingest.uploads SET media_id = $2::uuid WHERE upload_id = $1::uuid", upload.upload_id, row["media_id"]
    )
    return _media(row)


async def get_media(conn: asyncpg.Connection, *, media_id: str) -> Media | None:
    row = await conn.fetchrow(f"SELECT {_MEDIA} FROM ingest.media_files WHERE media_id = $1::uuid", media_id)
    return _media(row) if row else None


async def get_many(conn: asyncpg.Connection, *, media_ids: list[str]) -> list[Media]:
    rows = await conn.fetch(f"SELECT {_MEDIA} FROM ingest.media_files WHERE media_id = ANY($1::uuid[])", media_ids)
    return [_media(r) for r in rows]


async def list_media(conn: asyncpg.Connection, *, limit: int, after: tuple[datetime, str] | None) -> list[Media]:
    """Newest first; `after` is the (created_at, media_id) of the last item of the previous page."""
    if after is None:
        rows = await conn.fetch(
            f"SELECT {_MEDIA} FROM ingest.media_files ORDER BY created_at DESC, media_id DESC LIMIT $1", limit
        )
    else:
        rows = await conn.fetch(
            f"""SELECT {_MEDIA} FROM ingest.media_files WHERE (created_at, media_id) < ($2, $3::uuid)
                ORDER BY created_at DESC, media_id DESC LIMIT $1""",
            limit,
            after[0],
            after[1],
        )
    return [_media(r) for r in rows]


async def set_status(conn: asyncpg.Connection, *, media_id: str, status: str, error: str) -> Media | None:
    row = await conn.fetchrow(
        f"""UPDATE ingest.media_files SET status = $2, error = $3, updated_at = now()
            WHERE media_id = $1::uuid RETURNING {_MEDIA}""",
        media_id,
        status,
        error,
    )
    return _media(row) if row else None


async def delete_media(conn: asyncpg.Connection, *, media_id: str) -> Media | None:
    """Deletes the media record and its upload session; returns what was deleted."""
    row = await conn.fetchrow(f"DELETE FROM ingest.media_files WHERE media_id = $1::uuid RETURNING {_MEDIA}", media_id)
    if row is not None:
        await conn.execute("DELETE FROM ingest.uploads WHERE media_id = $1::uuid", media_id)
    return _media(row) if row else None


async def users_with_blocked_media(conn: asyncpg.Connection) -> list[str]:
    """Ids of the users who have media waiting for budget (the one cross-user read; see migration 002)."""
    rows = await conn.fetch("SELECT ingest.users_with_blocked_media()::text AS user_id")
    return [r["user_id"] for r in rows]


async def users_with_stale_queued_media(conn: asyncpg.Connection, *, updated_before: datetime) -> list[str]:
    """Ids of the users with media queued since before `updated_before` (a cross-user read; see migration 004)."""
    rows = await conn.fetch("SELECT ingest.users_with_stale_queued_media($1)::text AS user_id", updated_before)
    return [r["user_id"] for r in rows]


async def stale_queued_media(conn: asyncpg.Connection, *, updated_before: datetime) -> list[Media]:
    """The calling user's media queued since before `updated_before`."""
    rows = await conn.fetch(
        f"""SELECT {_MEDIA} FROM ingest.media_files WHERE status = 'queued' AND updated_at < $1
            ORDER BY updated_at LIMIT 500""",
        updated_before,
    )
    return [_media(r) for r in rows]


async def unblock_media(conn: asyncpg.Connection) -> list[Media]:
    """The calling user's media waiting for budget, now queued again."""
    rows = await conn.fetch(
        f"""UPDATE ingest.media_files SET status = 'queued', error = '', updated_at = now()
            WHERE status = 'blocked_budget' RETURNING {_MEDIA}"""
    )
    return [_media(r) for r in rows]
