"""Result lists to and from JSON, for the Redis cache."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from trove_search.models import Hit, Moment


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def hits_to_json(hits: list[Hit]) -> bytes:
    return json.dumps([asdict(h) for h in hits], default=lambda v: v.isoformat()).encode()


def hits_from_json(raw: bytes) -> list[Hit]:
    def hit(d: dict[str, Any]) -> Hit:
        return Hit(
            media_id=d["media_id"],
            score=d["score"],
            best=Moment(**d["best"]),
            moments=[Moment(**m) for m in d["moments"]],
            taken_at=_when(d["taken_at"]),
            uploaded_at=_when(d["uploaded_at"]),
            duration_s=d["duration_s"],
        )

    return [hit(d) for d in json.loads(raw)]
