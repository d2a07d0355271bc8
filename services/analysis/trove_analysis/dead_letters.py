"""Dead letters for admins: list the stages that used up their tries, and requeue one once the fault is fixed."""

from __future__ import annotations

import asyncpg
from arq import ArqRedis

from trove_analysis import processing, stages
from trove_analysis.models import DeadLetter
from trove_analysis.providers import MediaStatus
from trove_analysis.queues import RUN_STAGE, stage_job_id
from trove_common.context import require_admin, user_id_var
from trove_common.errors import ConflictError, InvalidArgumentError, NotFoundError
from trove_common.ids import parse_id
from trove_common.jobs import AnalyzeMediaArgs, enqueue_analysis

MAX_LIST = 500


class DeadLetters:
    def __init__(self, *, pool: asyncpg.Pool, redis: ArqRedis, status: MediaStatus) -> None:
        self._pool = pool
        self._redis = redis
        self._status = status

    async def list(self, *, limit: int) -> list[DeadLetter]:
        require_admin(action="list dead letters")
        if not 0 <= limit <= MAX_LIST:
            raise InvalidArgumentError(f"limit must be between 1 and {MAX_LIST}")
        async with processing.all_users_transaction(self._pool) as conn:
            return await processing.dead_letters(conn, limit=limit or 100)

    async def requeue(self, *, dead_letter_id: str) -> DeadLetter:
        """Give the stage fresh tries and queue it; the claim and the enqueue commit together or not at all."""
        require_admin(action="requeue a dead letter")
        dead_letter_id = parse_id(dead_letter_id, what="dead letter", error=NotFoundError)
        async with processing.all_users_transaction(self._pool) as conn:
            letter = await processing.claim_requeue(conn, dead_letter_id=dead_letter_id)
            if letter is None:
                if await processing.dead_letter_exists(conn, dead_letter_id=dead_letter_id):
                    raise ConflictError("this dead letter was requeued already")
                raise NotFoundError("no such dead letter")
            await conn.execute("SELECT set_config('app.user_id', $1, true)", letter.user_id)
            await processing.reset(conn, media_id=letter.media_id, stage=letter.stage)
            # The file reads `queued` again at once (not `failed` until a worker picks the stage up); as its owner,
            # since ingest takes the user from the call's metadata.
            owner = user_id_var.set(letter.user_id)
            try:
                await self._status.set_status(media_id=letter.media_id, status="queued")
            finally:
                user_id_var.reset(owner)
            await enqueue_analysis(
                self._redis,
                function=RUN_STAGE,
                job_id=stage_job_id(letter.media_id, letter.stage, round_id=letter.dead_letter_id),
                queue=stages.queue(letter.stage),
                args=AnalyzeMediaArgs(**letter.job),
                stage=letter.stage,
                round_id=letter.dead_letter_id,
                resume=True,
            )
        return letter
