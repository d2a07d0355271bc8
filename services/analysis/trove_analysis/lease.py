"""A running job's lease: ARQ's in-progress key, kept short and renewed while the job runs.

ARQ marks a running job with an in-progress key that expires after the job timeout (30 min here), and no
worker takes the job while the key exists. A worker killed with SIGKILL leaves its job in the queue with that
key; renewing a short key instead means the job runs again within `lease_s` of its worker vanishing. A worker
killed between ARQ taking a job and the job's first renewal leaves a long key behind: the sweeper expires keys
that stay longer than any lease for a whole sweep.
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


async def sweep(redis: ArqRedis, *, lease_s: float) -> None:
    """Forever: expire in-progress keys that outlive every lease for a whole sweep (their worker vanished)."""
    suspects: set[bytes] = set()
    while True:
        await asyncio.sleep(lease_s)
        try:
            suspects = await _sweep_once(redis, suspects, lease_ms=int(lease_s * 1000))
        except Exception as exc:  # Redis away for a moment: sweep again later
            logger.warning("could not sweep job leases", extra={"error": str(exc)})


async def _sweep_once(redis: ArqRedis, suspects: set[bytes], *, lease_ms: int) -> set[bytes]:
    long_lived = set()
    async for key in redis.scan_iter(match=f"{in_progress_key_prefix}*", count=500):
        if await redis.pttl(key) > lease_ms:
            long_lived.add(key)
    for key in long_lived & suspects:
        logger.warning("job lease abandoned by a vanished worker: releasing it", extra={"key": key.decode()})
        await redis.delete(key)
    return long_lived - suspects
