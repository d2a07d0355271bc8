"""Pictures the vision stages make (thumbnails, a video's scene keyframes): stored beside the object, their bytes
counted against the uploader's storage. Deleting the object deletes them (they are `<key>.<suffix>` files)."""

from __future__ import annotations

from trove_analysis.stages.base import StageRun
from trove_common.blobstore import frame_key, thumbnail_key


async def keep_thumbnail(run: StageRun, thumbnail: bytes, *, frames: dict[int, bytes] | None = None) -> None:
    """Store the thumbnail and any scene keyframes (frame number -> JPEG), then bill the derived bytes once."""
    store = run.providers.store
    await store.put(thumbnail_key(run.job.storage_key), thumbnail)
    for number, jpeg in (frames or {}).items():
        await store.put(frame_key(run.job.storage_key, number), jpeg)
    await run.accounts.record_derived_bytes(
        media_id=run.job.media_id, size_bytes=await store.derived_bytes(run.job.storage_key)
    )
