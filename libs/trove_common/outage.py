"""Infrastructure outages as domain errors: PostgreSQL or Redis down, restarting or too slow -> UnavailableError.

A request that meets an outage fails fast with 503 and `retry_after_s` (the gateway turns it into Retry-After)
instead of a 500 or a hang; the caller retries once the outage is over, and every write path is idempotent.
"""

from __future__ import annotations

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from trove_common.errors import UnavailableError

RETRY_AFTER_S = 5

_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # connection lost or refused mid-way
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, statement cancelled
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,  # e.g. the pool or its connection closed under us
    asyncpg.InternalClientError,  # a connection cut mid-transaction ("cannot switch to state ...")
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,  # refused / reset sockets (OSError subclasses)
    TimeoutError,  # asyncpg command_timeout, connect timeouts, asyncio.timeout
)


def as_unavailable(exc: BaseException) -> UnavailableError | None:
    """The UnavailableError an infrastructure outage stands for; None when `exc` is something else."""
    if not isinstance(exc, _OUTAGES):
        return None
    what = (
        "the database"
        if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | asyncpg.InternalClientError)
        else "a backing service"
    )
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        what = "the job queue"
    return UnavailableError(
        f"{what} is unavailable for a moment; try again shortly", details={"retry_after_s": RETRY_AFTER_S}
    )
