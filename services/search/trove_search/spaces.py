"""Embedding spaces: which one searches use, which ones index writes fill, and the embedder of each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_common.errors import TroveError, UnavailableError
from trove_search import space_repo
from trove_search.models import Space, space_name

logger = logging.getLogger(__name__)


class QueryEncoder(Protocol):
    model_name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


# Builds the embedder of a recorded space from its `model_dir` (a local folder, None: the built-in model) or its
# `source` (an OpenAI-compatible server).
EncoderLoader = Callable[[Space], Awaitable[QueryEncoder]]


@dataclass(frozen=True, slots=True)
class EncoderOrigin:
    """Where the configured embedder comes from, as recorded with its space: a local folder or a server's JSON."""

    model_dir: str | None = None
    source: str | None = None


def encoder_space(encoder: QueryEncoder) -> str:
    return space_name(encoder.model_name, encoder.dim)


@dataclass(frozen=True, slots=True)
class PictureSpace:
    """The space of the user-supplied image-text model: pictures' vectors come from analysis, the query's from
    the model's text tower (`encoder`). A similarity from `floor` (unrelated) to `ceil` (a good caption) maps to
    a 0-1 match."""

    encoder: QueryEncoder
    floor: float
    ceil: float

    @property
    def space(self) -> str:
        return encoder_space(self.encoder)

    def match(self, similarity: float) -> float:
        return min(1.0, max(0.0, (similarity - self.floor) / (self.ceil - self.floor)))


class Spaces:
    """The configured embedder (what a re-index builds) and, loaded on demand, the embedders of other spaces.

    Args:
        configured: the embedder the settings name; analysis embeds segments with the same one.
        origin: where it comes from (its model folder, or its server), recorded so any replica can rebuild it.
        load: makes the embedder of another recorded space (the active one during a switch).
    """

    def __init__(
        self, *, pool: asyncpg.Pool, configured: QueryEncoder, origin: EncoderOrigin, load: EncoderLoader
    ) -> None:
        self._pool = pool
        self.configured = configured
        self._origin = origin
        self._load = load
        self._encoders: dict[str, QueryEncoder] = {encoder_space(configured): configured}
        self._loading = asyncio.Lock()

    @property
    def target(self) -> str:
        """The configured embedder's space: the one searches should end up using."""
        return encoder_space(self.configured)

    async def prepare(self) -> None:
        """Record the configured space; with nothing indexed yet, start using it at once (no re-index needed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await space_repo.record_space(
                conn,
                space=self.target,
                model=self.configured.model_name,
                dim=self.configured.dim,
                model_dir=self._origin.model_dir,
                source=self._origin.source,
            )
            await space_repo.abandon_building(conn, keep=self.target)
            active = await space_repo.active_space(conn)
            if active.space != self.target and not await space_repo.has_index_users(conn):
                await space_repo.begin_build(conn, self.target)
                await space_repo.activate(conn, self.target)
                logger.info("empty index: configured space made active", extra={"space": self.target})
            elif active.space != self.target:
                logger.warning(
                    "the configured embedder differs from the active space: searches use the active one until an "
                    "admin re-index (POST /api/v1/admin/reindex) completes",
                    extra={"space": self.target, "active_space": active.space},
                )

    async def active(self) -> tuple[Space, QueryEncoder]:
        """The space searches use now, and its embedder."""
        async with self._pool.acquire() as conn:
            space = await space_repo.active_space(conn)
        return space, await self.encoder(space)

    async def encoder(self, space: Space) -> QueryEncoder:
        """The embedder of a recorded space, loaded once from the folder or server recorded with it."""
        if (found := self._encoders.get(space.space)) is not None:
            return found
        async with self._loading:
            if (found := self._encoders.get(space.space)) is not None:
                return found
            where = space.source or space.model_dir or "the built-in model"
            try:
                encoder = await self._load(space)
            except TroveError:
                raise
            except (OSError, ValueError) as exc:
                raise UnavailableError(f"the model of embedding space {space.space} cannot be loaded: {exc}") from exc
            if encoder_space(encoder) != space.space:
                raise UnavailableError(
                    f"{where} no longer holds embedding space {space.space} (it now holds {encoder_space(encoder)})"
                )
            self._encoders[space.space] = encoder
            return encoder
