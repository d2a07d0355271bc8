"""People: faces grouped into people as files arrive, named, merged, split (a face moved) and hidden.

Grouping is incremental. A new face joins the person most of its nearest assigned faces belong to, when they lie
within `max_distance` (dlib's descriptors: same person below a Euclidean distance of 0.6); the faces, not a
centroid, so a person seen from several angles keeps all of them. A face near nobody stays unassigned, and a density
pass (DBSCAN: a face with at least `min_faces` faces, itself included, within `max_distance` is a core; cores within
reach of each other and the faces they reach form a group) turns groups of unassigned faces into new people. The
pass runs after every index and, for the leftovers of every user, as a command:

    python -m trove_search.people            # every user with an index
    python -m trove_search.people <user-id>  # one user

Per user, grouping holds an advisory lock until its transaction commits, so two files indexed at once cannot make
two people of the same faces. A face the user moved (or merged) is pinned: grouping only ever places unassigned
faces, and never moves one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_common.db import user_transaction
from trove_common.errors import InvalidArgumentError, NotFoundError
from trove_common.ids import parse_id
from trove_search import people_repo, space_repo
from trove_search.cache import SearchCache
from trove_search.models import FACE_DIM, ClusterReport, Face, MediaInfo, Person, PersonMedia
from trove_search.settings import PeopleSettings
from trove_search.shown import ShownMedia

logger = logging.getLogger(__name__)

MAX_FACES = 2000  # per index call
MAX_CROP_BYTES = 64 * 1024
MAX_NAME_CHARS = 100
_BLOCK = 1024  # rows of the distance matrix computed at once


def check_faces(faces: Sequence[Face]) -> None:
    if len(faces) > MAX_FACES:
        raise InvalidArgumentError(f"at most {MAX_FACES} faces per call")
    for i, face in enumerate(faces):
        x0, y0, x1, y1 = face.box
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise InvalidArgumentError(f"faces[{i}].box must be x0 < x1 and y0 < y1, as fractions between 0 and 1")
        if face.embedding.shape != (FACE_DIM,) or not np.isfinite(face.embedding).all():
            raise InvalidArgumentError(f"faces[{i}].embedding must have {FACE_DIM} finite values")
        if not np.isfinite(face.score) or not 0 <= face.start_s <= face.end_s:
            raise InvalidArgumentError(f"faces[{i}] must have a finite score and 0 <= start_s <= end_s")
        if len(face.crop) > MAX_CROP_BYTES:
            raise InvalidArgumentError(f"faces[{i}].crop must be at most {MAX_CROP_BYTES} bytes")


def density_groups(vectors: npt.NDArray[np.float32], *, max_distance: float, min_faces: int) -> list[list[int]]:
    """DBSCAN over `vectors` (Euclidean): the groups of row indexes; rows in no group are left out."""
    n = len(vectors)
    if n < min_faces:
        return []
    squares = (vectors.astype(np.float64) ** 2).sum(axis=1)
    neighbours: list[npt.NDArray[np.intp]] = []
    for start in range(0, n, _BLOCK):
        block = vectors[start : start + _BLOCK].astype(np.float64)
        distances = squares[start : start + _BLOCK, None] + squares[None, :] - 2 * block @ vectors.T.astype(np.float64)
        neighbours.extend(np.nonzero(row < max_distance**2)[0] for row in distances)
    core = [len(near) >= min_faces for near in neighbours]
    label = [-1] * n
    groups: list[list[int]] = []
    for seed in range(n):
        if not core[seed] or label[seed] >= 0:
            continue
        group, todo = [], [seed]
        label[seed] = len(groups)
        while todo:
            i = todo.pop()
            group.append(i)
            if not core[i]:
                continue  # a border face joins the group but does not extend it
            for j in neighbours[i]:
                if label[j] < 0:
                    label[j] = len(groups)
                    todo.append(int(j))
        groups.append(sorted(group))
    return groups


def _vote(near: list[tuple[str, float]]) -> str | None:
    """The person most of the nearest faces belong to; a tie goes to the nearer one."""
    if not near:
        return None
    votes = Counter(person for person, _ in near)
    best = {person: min(d for p, d in near if p == person) for person in votes}
    return min(votes, key=lambda person: (-votes[person], best[person]))


async def cluster(
    conn: asyncpg.Connection, *, user_id: str, settings: PeopleSettings, face_ids: list[str] | None = None
) -> ClusterReport:
    """One grouping pass in the caller's user transaction: unassigned faces (those among `face_ids`, or all of them)
    join their nearest person, then groups of the faces still unassigned become new people."""
    await people_repo.lock_people(conn, user_id=user_id)
    assigned = 0
    candidates = await people_repo.unassigned_faces(conn, limit=settings.max_pass_faces, face_ids=face_ids)
    for face_id, embedding in candidates:
        near = await people_repo.nearest_people(
            conn, embedding=embedding, limit=settings.neighbours, max_distance=settings.max_distance
        )
        person_id = _vote(near)
        if person_id is not None:
            await people_repo.assign(conn, face_ids=[face_id], person_id=person_id)
            assigned += 1
    leftovers = await people_repo.unassigned_faces(conn, limit=settings.max_pass_faces)
    created = 0
    if leftovers:
        vectors = np.stack([embedding for _, embedding in leftovers])
        for group in density_groups(vectors, max_distance=settings.max_distance, min_faces=settings.min_faces):
            person_id = await people_repo.create_person(conn, user_id=user_id)
            await people_repo.assign(conn, face_ids=[leftovers[i][0] for i in group], person_id=person_id)
            assigned += len(group)
            created += 1
    return ClusterReport(assigned=assigned, created=created)


class People:
    """The calling user's people."""

    def __init__(self, *, pool: asyncpg.Pool, settings: PeopleSettings, shown: ShownMedia, cache: SearchCache) -> None:
        self._pool = pool
        self._settings = settings
        self._shown = shown
        self._cache = cache

    async def cluster(self, *, user_id: str, face_ids: list[str] | None = None) -> ClusterReport:
        async with user_transaction(self._pool, user_id) as conn:
            report = await cluster(conn, user_id=user_id, settings=self._settings, face_ids=face_ids)
        if report.assigned:
            await self._cache.bump(user_id)
        return report

    async def all(self, *, user_id: str, include_hidden: bool) -> list[Person]:
        async with user_transaction(self._pool, user_id) as conn:
            return await people_repo.list_people(conn, include_hidden=include_hidden)

    async def get(self, *, user_id: str, person_id: str) -> tuple[Person, list[PersonMedia]]:
        """The person and the media they are in (with file names; media the user no longer has are left out)."""
        person_id = parse_id(person_id, what="person_id")
        async with user_transaction(self._pool, user_id) as conn:
            person = await people_repo.get_person(conn, person_id=person_id)
            if person is None:
                raise NotFoundError("person not found")
            media = await people_repo.person_media(conn, person_id=person_id)
        kept = {m.media_id: MediaInfo(filename=m.filename, kind=m.kind, content_type="", created_at="") for m in media}
        found = await self._shown.complete(user_id, kept)
        return person, [replace(m, filename=found[m.media_id].filename) for m in media if m.media_id in found]

    async def update(self, *, user_id: str, person_id: str, name: str | None, hidden: bool | None) -> Person:
        person_id = parse_id(person_id, what="person_id")
        if name is not None:
            name = " ".join(name.split())
            if len(name) > MAX_NAME_CHARS or "\x00" in name:
                raise InvalidArgumentError(f"name must be at most {MAX_NAME_CHARS} characters")
        async with user_transaction(self._pool, user_id) as conn:
            if not await people_repo.update_person(conn, person_id=person_id, name=name, hidden=hidden):
                raise NotFoundError("person not found")
            person = await people_repo.get_person(conn, person_id=person_id)
        await self._cache.bump(user_id)  # a name is read from queries
        assert person is not None
        return person

    async def merge(self, *, user_id: str, person_id: str, other_person_id: str) -> Person:
        person_id = parse_id(person_id, what="person_id")
        other_person_id = parse_id(other_person_id, what="other_person_id")
        if person_id == other_person_id:
            raise InvalidArgumentError("a person cannot be merged into themselves")
        async with user_transaction(self._pool, user_id) as conn:
            await people_repo.lock_people(conn, user_id=user_id)
            person = await people_repo.get_person(conn, person_id=person_id)
            if person is None or await people_repo.get_person(conn, person_id=other_person_id) is None:
                raise NotFoundError("person not found")
            await people_repo.merge_people(conn, person_id=person_id, other_person_id=other_person_id)
            person = await people_repo.get_person(conn, person_id=person_id)
        await self._cache.bump(user_id)
        assert person is not None
        return person

    async def move_face(self, *, user_id: str, face_id: str, person_id: str) -> Person:
        """Moves one face to `person_id`, or to a new person when it is empty; the face stays there (pinned)."""
        face_id = parse_id(face_id, what="face_id")
        target = parse_id(person_id, what="person_id") if person_id else ""
        async with user_transaction(self._pool, user_id) as conn:
            await people_repo.lock_people(conn, user_id=user_id)
            exists, _ = await people_repo.face_person(conn, face_id=face_id)
            if not exists:
                raise NotFoundError("face not found")
            if target and await people_repo.get_person(conn, person_id=target) is None:
                raise NotFoundError("person not found")
            target = target or await people_repo.create_person(conn, user_id=user_id)
            await people_repo.assign(conn, face_ids=[face_id], person_id=target, pinned=True)
            await people_repo.delete_empty_people(conn)
            person = await people_repo.get_person(conn, person_id=target)
        await self._cache.bump(user_id)
        assert person is not None
        return person

    async def crop(self, *, user_id: str, face_id: str) -> bytes:
        face_id = parse_id(face_id, what="face_id")
        async with user_transaction(self._pool, user_id) as conn:
            crop = await people_repo.face_crop(conn, face_id=face_id)
        if not crop:
            raise NotFoundError("face not found, or it has no picture")
        return crop

    async def vocabulary(self, *, user_id: str) -> dict[str, str]:
        """Named people, for reading names in queries: lower-cased name -> person id."""
        async with user_transaction(self._pool, user_id) as conn:
            return await people_repo.named_people(conn)


async def cluster_everyone(
    pool: asyncpg.Pool, *, settings: PeopleSettings, cache: SearchCache, users: Sequence[str] = ()
) -> int:
    """The pass for leftovers: every user with an index (or the given ones), each in their own user transaction.
    A user whose faces moved gets their cached result lists dropped, as after any change to people. Returns the
    number of new people."""
    if not users:
        async with pool.acquire() as conn:
            users = await space_repo.index_users(conn)
    created = 0
    for user_id in users:
        async with user_transaction(pool, user_id) as conn:
            report = await cluster(conn, user_id=user_id, settings=settings)
        if report.assigned:
            await cache.bump(user_id)
        logger.info("people pass", extra={"faces_assigned": report.assigned, "people_created": report.created})
        created += report.created
    return created


async def _main(users: list[str]) -> None:
    from trove_common.db import create_pool
    from trove_search.settings import Settings

    settings = Settings()
    pool = await create_pool(settings.postgres, vectors=True)
    cache = SearchCache.open(settings)
    try:
        created = await cluster_everyone(pool, settings=settings.people, cache=cache, users=users)
    finally:
        await cache.aclose()
        await pool.close()
    print(f"{created} new {'person' if created == 1 else 'people'}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main(sys.argv[1:]))
