"""What results show of a file: its name, kind, type and upload time.

Search keeps these with the file's facts (sent with its segments), so a page of results needs no call to ingest.
Files indexed before search kept them have an empty name; the first time one is shown, ingest is asked (media the
user no longer has there are left out, as then) and the answer is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from trove_common.db import user_transaction
from trove_search import repo
from trove_search.models import Hit, MediaInfo

# Metadata of the caller's media among the given ids, from ingest; media the caller no longer has are absent.
LookupMedia = Callable[[list[str]], Awaitable[dict[str, MediaInfo]]]


def of_hit(hit: Hit) -> MediaInfo:
    return MediaInfo(
        filename=hit.filename,
        kind=hit.media_kind,
        content_type=hit.content_type,
        created_at=hit.uploaded_at.isoformat() if hit.uploaded_at else "",
    )


class ShownMedia:
    def __init__(self, *, pool: asyncpg.Pool, lookup: LookupMedia) -> None:
        self._pool = pool
        self._lookup = lookup

    async def complete(self, user_id: str, known: dict[str, MediaInfo]) -> dict[str, MediaInfo]:
        """`known` (media id -> what search keeps) with the files indexed before names were kept filled in."""
        older = [media_id for media_id, info in known.items() if not info.filename]
        if not older:
            return known
        found = await self._lookup(older)
        if found:
            async with user_transaction(self._pool, user_id) as conn:
                await repo.fill_shown(conn, media=found)
        return {
            media_id: found.get(media_id, info)
            for media_id, info in known.items()
            if info.filename or media_id in found
        }
