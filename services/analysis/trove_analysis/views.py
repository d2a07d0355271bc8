"""What the pipeline saw in a media file, shaped for people (the media detail page and its API)."""

from __future__ import annotations

from typing import Any

import asyncpg

from trove_analysis import processing, repo, stages
from trove_analysis.models import StageJob, StageResult
from trove_analysis.stages.image import IMAGE
from trove_analysis.stages.picture import Picture
from trove_analysis.stages.video import VIDEO
from trove_common.db import user_transaction
from trove_common.ids import parse_id


def analysed(results: list[StageResult]) -> stages.Done:
    """The typed results of the stages that succeeded."""
    return stages.done((s.stage, s.result) for s in results if s.status == "succeeded")


def details(found: stages.Done) -> dict[str, Any]:
    """Probe and EXIF, labels, colours, OCR text, faces, scenes, transcript, pages, entities, key phrases."""
    return stages.view(found)


def headline(found: stages.Done) -> Picture | None:
    """The picture that stands for the file: the photo, or a video's first scene."""
    if (image := found.get(IMAGE)) is not None:
        return image
    video = found.get(VIDEO)
    return video.scenes[0] if video is not None and video.scenes else None


def progress(jobs: list[StageJob]) -> dict[str, Any]:
    """Stage-by-stage progress: done/total, the stage running or next (with its tries so far)."""
    current = next((j for j in jobs if j.status != "succeeded"), None)
    return {
        "done": sum(j.status == "succeeded" for j in jobs),
        "total": len(jobs),
        "current_stage": current.stage if current is not None else "",
        "attempts": current.attempts if current is not None else 0,
    }


class Analyses:
    """What the pipeline saw, for the calling user."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, *, user_id: str, media_id: str) -> tuple[list[StageResult], list[StageJob]]:
        """The stored stage results and the stage jobs of one file."""
        media_id = parse_id(media_id, what="media_id")
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.stages(conn, media_id=media_id), await processing.jobs(conn, media_id=media_id)

    async def delete(self, *, user_id: str, media_id: str) -> None:
        media_id = parse_id(media_id, what="media_id")
        async with user_transaction(self._pool, user_id) as conn:
            await repo.delete_media(conn, media_id=media_id)
            await processing.delete_media(conn, media_id=media_id)
