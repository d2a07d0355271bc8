"""What the pipeline saw in a media file, shaped for people (the media detail page and its API)."""

from __future__ import annotations

from typing import Any

import asyncpg

from trove_analysis import describe, processing, repo
from trove_analysis.models import StageJob, StageResult
from trove_common.db import user_transaction
from trove_common.ids import parse_id


def _picture(facts: dict[str, Any]) -> dict[str, Any]:
    pixels = facts.get("pixels", {})
    faces = facts.get("faces", [])
    return {
        "labels": [{"name": x["name"], "score": x["score"], "broader": x.get("broader", [])} for x in facts["labels"]],
        "description": describe.picture_text(facts),
        "colours": pixels.get("colours", []),
        "style": pixels.get("style", ""),
        "black_and_white": pixels.get("black_and_white", False),
        "brightness": pixels.get("brightness", ""),
        "text": facts.get("ocr", {}).get("text", ""),
        "faces": {"count": len(faces), "boxes": [face["box"] for face in faces]},
    }


def details(stages: list[StageResult]) -> dict[str, Any]:
    """Probe and EXIF, labels, colours, OCR text, faces, scenes, transcript, pages, entities, key phrases."""
    done = {s.stage: s.result for s in stages if s.status == "succeeded"}
    view: dict[str, Any] = {}
    if probe := done.get("probe"):
        view["probe"] = {k: probe.get(k) for k in ("kind", "mime", "duration_s", "width", "height", "codecs")}
        view["exif"] = {k: probe.get(k) for k in ("taken_at", "gps", "camera")}
    if image := done.get("image"):
        view["picture"] = _picture(image)
    if video := done.get("video"):
        view["scenes"] = [
            {"index": s["index"], "start_s": s["start_s"], "end_s": s["end_s"], **_picture(s)} for s in video["scenes"]
        ]
    if transcript := done.get("transcription"):
        view["transcript"] = {
            "language": transcript["language"],
            "duration_s": transcript["duration_s"],
            "segments": [
                {"start_s": s["start_s"], "end_s": s["end_s"], "text": s["text"]} for s in transcript["segments"]
            ],
        }
    if document := done.get("document"):
        view["pages"] = [{"number": p["number"], "text": p["text"], "source": p["source"]} for p in document["pages"]]
        view["page_count"] = document["page_count"]
    if text := done.get("text"):
        view["language"] = text.get("language", "")
        view["entities"] = text.get("entities", [])
        view["key_phrases"] = text.get("key_phrases", [])
    return view


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
