"""Thumbnails the vision stages make: stored beside the object, their bytes counted against the uploader's storage."""

from __future__ import annotations

from trove_analysis.stages.base import StageRun
from trove_common.blobstore import thumbnail_key


async def keep_thumbnail(run: StageRun, thumbnail: bytes) -> None:
    store = run.providers.store
    await store.put(thumbnail_key(run.job.storage_key), thumbnail)
    await run.accounts.record_derived_bytes(
        media_id=run.job.media_id, size_bytes=await store.derived_bytes(run.job.storage_key)
    )
