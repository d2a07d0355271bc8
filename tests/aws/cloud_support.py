"""Helpers of the AWS providers' tests: the simulator's test routes and settings pointing at the simulated cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from support import DEV_MEDIA

from trove_analysis.aws.settings import AwsSettings
from trove_awssim.launch import Cloud

SECRET = "simulated-secret-access-key"


class Sim:
    """The simulator's test routes: throttle the next calls, read the calls it answered."""

    def __init__(self, url: str) -> None:
        self._http = httpx.AsyncClient(base_url=url, timeout=10.0)

    async def throttle(self, calls: int, target: str = "") -> None:
        (await self._http.post("/_sim/throttle", json={"calls": calls, "target": target})).raise_for_status()

    async def calls(self) -> list[dict[str, Any]]:
        answer = (await self._http.get("/_sim/calls")).json()
        calls: list[dict[str, Any]] = answer["calls"]
        return calls

    async def reset(self) -> None:
        (await self._http.post("/_sim/reset")).raise_for_status()

    async def close(self) -> None:
        await self._http.aclose()


def settings_for(cloud: Cloud, *, bucket: str = "", access_key_id: str | None = None, **extra: Any) -> AwsSettings:
    return AwsSettings.model_validate(
        {
            "region": cloud.region,
            "access_key_id": access_key_id or cloud.access_key_id,
            "secret_access_key": SECRET,
            "endpoints": {"rekognition": cloud.sim, "transcribe": cloud.sim, "comprehend": cloud.sim, "s3": cloud.s3},
            "staging_bucket": bucket,
            "transcribe_poll_s": 0.2,
            "transcribe_poll_max_s": 1.0,
            "min_label_confidence": 1.0,  # the simulator's confidences are the local classifier's probabilities
            "max_attempts": 4,
            **extra,
        }
    )


def media(name: str) -> Path:
    return DEV_MEDIA / name
