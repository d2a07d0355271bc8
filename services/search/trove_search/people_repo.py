"""SQL for faces and people; every function runs inside a user transaction (row-level security)."""

from __future__ import annotations

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_search.models import Face, Person, PersonMedia

# A face's identity within its media across re-runs of the analysis: its moment and its box, rounded.
FaceKey = tuple[float, float, tuple[float, ...]]

_PERSON = """p.person_id::text AS person_id, p.name, p.hidden,
    (SELECT count(*) FROM search.faces f WHERE f.person_id = p.person_id)::int AS face_count,
    coalesce((SELECT f.face_id::text FROM search.faces f WHERE f.person_id = p.person_id
              ORDER BY f.crop IS NULL, f.score DESC, f.face_id LIMIT 1), '') AS cover_face_id"""


def face_key(*, start_s: float, end_s: float, box: tuple[float, ...] | list[float]) -> FaceKey:
    return (round(start_s, 2), round(end_s, 2), tuple(round(float(v), 2) for v in box))


def _person(row: asyncpg.Record) -> Person:
    return Person(**dict(row))


async def lock_people(conn: asyncpg.Connection, *, user_id: str) -> None:
    """Until commit, no other transaction groups this user's faces: two indexes at once cannot both make a person
    of the same faces."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('search.people'), hashtext($1))", user_id)


async def replace_faces(
    conn: asyncpg.Connection, *, user_id: str, media_id: str, faces: list[Face], append: bool
) -> list[str]:
    """Make `faces` the media's faces (or add them, `append`); returns the ids of the faces not seen before.

    A face found again (same moment, same box) keeps its id and its person, so re-analysing a file loses no name.
    """
    kept: dict[FaceKey, str] = {}
    if not append:
        rows = await conn.fetch(
            "SELECT face_id::text, start_s, end_s, box FROM search.faces WHERE media_id = $1::uuid", media_id
        )
        kept = {face_key(start_s=r["start_s"], end_s=r["end_s"], box=r["box"]): r["face_id"] for r in rows}
    new_ids: list[str] = []
    seen: set[str] = set()
    for face in faces:
        key = face_key(start_s=face.start_s, end_s=face.end_s, box=face.box)
        face_id = kept.get(key)
        if face_id is not None and face_id not in seen:
            seen.add(face_id)
            await conn.execute(
                """UPDATE search.faces SET score = $2, embedding = $3, crop = $4
                   WHERE face_id = $1::uuid AND user_id = $5::uuid""",
                face_id,
                face.score,
                face.embedding,
                face.crop or None,
                user_id,
            )
            continue
        new_ids.append(
            await conn.fetchval(
                """INSERT INTO search.faces (user_id, media_id, start_s, end_s, box, score, embedding, crop)
                   VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8) RETURNING face_id::text""",
                user_id,
                media_id,
                face.start_s,
                face.end_s,
                list(face.box),
                face.score,
                face.embedding,
                face.crop or None,
            )
        )
    gone = [face_id for face_id in kept.values() if face_id not in seen]
    if gone:
        await conn.execute("DELETE FROM search.faces WHERE face_id = ANY($1::uuid[])", gone)
        await delete_empty_people(conn)
    return new_ids


async def unassigned_faces(
    conn: asyncpg.Connection, *, limit: int, face_ids: list[str] | None = None
) -> list[tuple[str, npt.NDArray[np.float32]]]:
    """Faces in no person (the newest `limit`, or those among `face_ids`), with their descriptors."""
    rows = await conn.fetch(
        """SELECT face_id::text, embedding FROM search.faces
           WHERE person_id IS NULL AND ($2::uuid[] IS NULL OR face_id = ANY($2::uuid[]))
           ORDER BY created_at DESC, face_id LIMIT $1""",
        limit,
        face_ids,
    )
    return [(r["face_id"], np.asarray(r["embedding"].to_numpy(), dtype=np.float32)) for r in rows]


async def nearest_people(
    conn: asyncpg.Connection, *, embedding: npt.NDArray[np.float32], limit: int, max_distance: float
) -> list[tuple[str, float]]:
    """(person id, distance) of the `limit` nearest faces that belong to a person, within `max_distance`."""
    await conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
    rows = await conn.fetch(
        """SELECT person_id::text, distance FROM (
               SELECT person_id, embedding <-> $1 AS distance FROM search.faces
               WHERE person_id IS NOT NULL ORDER BY embedding <-> $1 LIMIT $2
           ) near WHERE distance < $3 ORDER BY distance""",
        embedding,
        limit,
        max_distance,
    )
    return [(r["person_id"], float(r["distance"])) for r in rows]


async def assign(conn: asyncpg.Connection, *, face_ids: list[str], person_id: str, pinned: bool = False) -> None:
    await conn.execute(
        "UPDATE search.faces SET person_id = $2::uuid, pinned = pinned OR $3 WHERE face_id = ANY($1::uuid[])",
        face_ids,
        person_id,
        pinned,
    )


async def create_person(conn: asyncpg.Connection, *, user_id: str) -> str:
    person_id: str = await conn.fetchval(
        "INSERT INTO search.people (user_id) VALUES ($1::uuid) RETURNING person_id::text", user_id
    )
    return person_id


async def delete_empty_people(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """DELETE FROM search.people p
           WHERE NOT EXISTS (SELECT 1 FROM search.faces f WHERE f.person_id = p.person_id)"""
    )


async def list_people(conn: asyncpg.Connection, *, include_hidden: bool) -> list[Person]:
    """Named people first (by name), then the others with the most faces first."""
    rows = await conn.fetch(
        f"""SELECT * FROM (SELECT {_PERSON} FROM search.people p WHERE $1 OR NOT p.hidden) people
            WHERE face_count > 0
            ORDER BY name = '', lower(name), face_count DESC, person_id""",
        include_hidden,
    )
    return [_person(r) for r in rows]


async def get_person(conn: asyncpg.Connection, *, person_id: str) -> Person | None:
    row = await conn.fetchrow(f"SELECT {_PERSON} FROM search.people p WHERE p.person_id = $1::uuid", person_id)
    return None if row is None else _person(row)


async def person_media(conn: asyncpg.Connection, *, person_id: str) -> list[PersonMedia]:
    """The media a person is in, newest (taken, else uploaded) first."""
    rows = await conn.fetch(
        """SELECT f.media_id::text AS media_id, m.kind, m.filename,
               array_agg(f.face_id::text ORDER BY f.start_s) AS face_ids,
               array_agg(f.start_s ORDER BY f.start_s) AS starts, array_agg(f.end_s ORDER BY f.start_s) AS ends
           FROM search.faces f JOIN search.media m ON m.media_id = f.media_id
           WHERE f.person_id = $1::uuid
           GROUP BY f.media_id, m.kind, m.filename, m.taken_at, m.uploaded_at
           ORDER BY COALESCE(m.taken_at, m.uploaded_at) DESC, f.media_id""",
        person_id,
    )
    found = []
    for r in rows:
        spans = sorted({(s, e) for s, e in zip(r["starts"], r["ends"], strict=True) if e > s})
        found.append(
            PersonMedia(
                media_id=r["media_id"],
                kind=r["kind"],
                moments=spans,
                face_ids=list(r["face_ids"]),
                filename=r["filename"],
            )
        )
    return found


async def update_person(conn: asyncpg.Connection, *, person_id: str, name: str | None, hidden: bool | None) -> bool:
    result: str = await conn.execute(
        """UPDATE search.people SET name = coalesce($2, name), hidden = coalesce($3, hidden)
           WHERE person_id = $1::uuid""",
        person_id,
        name,
        hidden,
    )
    return result != "UPDATE 0"


async def merge_people(conn: asyncpg.Connection, *, person_id: str, other_person_id: str) -> None:
    """Every face of the other person joins `person_id`; the other person is deleted."""
    await conn.execute(
        "UPDATE search.faces SET person_id = $1::uuid, pinned = true WHERE person_id = $2::uuid",
        person_id,
        other_person_id,
    )
    await conn.execute("DELETE FROM search.people WHERE person_id = $1::uuid", other_person_id)


async def face_person(conn: asyncpg.Connection, *, face_id: str) -> tuple[bool, str | None]:
    """(whether the face exists, its person id)."""
    row = await conn.fetchrow("SELECT person_id::text FROM search.faces WHERE face_id = $1::uuid", face_id)
    return (False, None) if row is None else (True, row["person_id"])


async def face_crop(conn: asyncpg.Connection, *, face_id: str) -> bytes | None:
    crop: bytes | None = await conn.fetchval("SELECT crop FROM search.faces WHERE face_id = $1::uuid", face_id)
    return crop


async def named_people(conn: asyncpg.Connection) -> dict[str, str]:
    """Lower-cased name -> person id of every named person (of two with one name, the one with more faces)."""
    rows = await conn.fetch(
        """SELECT lower(p.name) AS name, p.person_id::text AS person_id FROM search.people p
           WHERE p.name <> ''
           ORDER BY (SELECT count(*) FROM search.faces f WHERE f.person_id = p.person_id), p.person_id"""
    )
    return {r["name"]: r["person_id"] for r in rows}  # later rows (more faces) win
