"""Stage families and their ARQ queues: each family has its own worker pool and concurrency.

`analyze_media` (what ingest enqueues) lands on the text family's queue, the shared ANALYSIS_QUEUE; it probes
the file, and each stage job then enqueues the next stage on that stage's family queue (each stage names its
family: trove_analysis.stages).
"""

from __future__ import annotations

from typing import Literal

from trove_common.jobs import ANALYSIS_QUEUE

Family = Literal["image", "video", "text", "embedding"]
FAMILIES: tuple[Family, ...] = ("image", "video", "text", "embedding")
RUN_STAGE = "run_stage"


def family_queue(family: Family) -> str:
    return ANALYSIS_QUEUE if family == "text" else f"{ANALYSIS_QUEUE}:{family}"


def stage_job_id(media_id: str, stage: str, *, round_id: str = "") -> str:
    """One job per (media, stage); a requeue from a dead letter is a new round with its own id."""
    base = f"{RUN_STAGE}:{media_id}:{stage}"
    return f"{base}:{round_id}" if round_id else base
