"""A running job's lease: ARQ's in-progress key, kept short and renewed while the job runs.

ARQ marks a running job with an in-progress key that expires after the job timeout (30 min here), and no
worker takes the job while the key exists. A worker killed with SIGKILL leaves its job in the queue with that
key; renewing a short key instead means the job runs again within `lease_s` of its worker vanishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from arq import ArqRedis
from arq.constants import in_progress_key_prefix

logger = logging.getLogger(__name__)


async def _renew(redis: ArqRedis, key: str, lease_s: float) -> None:
    while True:
        try:
            await redis.pexpire(key, int(lease_s * 1000))
        except Exception as exc:  # Redis away for a moment: the next beat tries again
            logger.warning("could not renew the job lease", extra={"error": str(exc)})
        await asyncio.sleep(lease_s / 3)


@contextlib.asynccontextmanager
async def lease(redis: ArqRedis, *, job_id: str, lease_s: float) -> AsyncIterator[None]:
    """Hold the job's in-progress key for `lease_s` at a time while the body runs."""
    if not job_id:
        yield
        return
    beat = asyncio.create_task(_renew(redis, in_progress_key_prefix + job_id, lease_s))
    try:
        yield
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
