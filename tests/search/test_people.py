"""People through the running search server: faces of real pictures (tests/face_pictures.py) sent with IndexSegments
group into one person per real person, photos and a video alike; naming, merging, moving, hiding and searching by
name, each the caller's own."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import uuid

import numpy as np
import pytest
from face_pictures import Connect, Library, library_of_two, sample_faces
from support import as_user, billing_user

from trove_common.context import USER_ID_KEY
from trove_common.errors import InvalidArgumentError, NotFoundError
from trove_protos.search.v1 import search_pb2
from trove_search.people import density_groups
from trove_stack.infra import Infra

FACES = sample_faces()


def _of(people: list[search_pb2.Person], detail: dict[str, search_pb2.PersonDetail], media_id: str) -> str:
    return next(p.person_id for p in people if media_id in {m.media_id for m in detail[p.person_id].media})


def test_every_sample_face_is_found_once() -> None:
    assert all(len(faces) == 1 for faces in FACES.values()), {k: len(v) for k, v in FACES.items()}


def test_density_groups_chain_close_faces_and_leave_strays() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=128), rng.normal(size=128)
    vectors = np.stack(
        [a, a + 0.01, a + 0.02, b, b + 0.01, rng.normal(size=128) * 3]  # two groups and a stray
    ).astype(np.float32)
    groups = density_groups(vectors, max_distance=0.6, min_faces=2)
    assert sorted(groups) == [[0, 1, 2], [3, 4]]
    assert density_groups(vectors, max_distance=0.6, min_faces=4) == []


async def test_faces_of_photos_and_a_video_group_into_one_person_each(grpc_channel: Connect) -> None:
    library, ids = await library_of_two(grpc_channel)
    people = await library.people()
    assert len(people) == 2, people
    detail = {p.person_id: await library.person(p.person_id) for p in people}
    hopper = _of(people, detail, ids["hopper_portrait"])
    collins = _of(people, detail, ids["collins_portrait"])
    assert hopper != collins
    assert {m.media_id for m in detail[hopper].media} == {
        ids["hopper_portrait"],
        ids["hopper_by_the_lake"],
        ids["hopper_grey"],
        ids["party"],
    }
    assert {m.media_id for m in detail[collins].media} == {
        ids["collins_portrait"],
        ids["collins_by_the_lake"],
        ids["party"],
    }
    assert detail[hopper].person.face_count == 4 and detail[collins].person.face_count == 3
    party = {p: next(m for m in detail[p].media if m.media_id == ids["party"]) for p in (hopper, collins)}
    assert [(m.start_s, m.end_s) for m in party[hopper].moments] == [(0, 4)]
    assert [(m.start_s, m.end_s) for m in party[collins].moments] == [(4, 9)]
    assert party[hopper].kind == "video" and party[hopper].filename == "party.mp4"
    photo = next(m for m in detail[hopper].media if m.media_id == ids["hopper_grey"])
    assert photo.moments == [] and photo.filename == "hopper_grey.jpg"
    crop = await library.search.GetFaceCrop(
        search_pb2.GetFaceCropRequest(face_id=detail[hopper].person.cover_face_id), metadata=library.user
    )
    assert crop.jpeg[:3] == b"\xff\xd8\xff"

    # Another user sees none of it.
    stranger = as_user(await billing_user(grpc_channel("billing")))
    assert not (await library.search.ListPeople(search_pb2.ListPeopleRequest(), metadata=stranger)).people
    with pytest.raises(NotFoundError):
        await library.search.GetPerson(search_pb2.GetPersonRequest(person_id=hopper), metadata=stranger)
    with pytest.raises(NotFoundError):
        await library.search.GetFaceCrop(
            search_pb2.GetFaceCropRequest(face_id=detail[hopper].person.cover_face_id), metadata=stranger
        )
    for call in (
        library.search.UpdatePerson(search_pb2.UpdatePersonRequest(person_id=hopper, name="Mine"), metadata=stranger),
        library.search.MergePeople(
            search_pb2.MergePeopleRequest(person_id=hopper, other_person_id=collins), metadata=stranger
        ),
        library.search.MoveFace(
            search_pb2.MoveFaceRequest(face_id=detail[hopper].person.cover_face_id), metadata=stranger
        ),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert (await library.person(hopper)).person.name == ""


async def test_a_name_in_a_query_finds_that_persons_media(grpc_channel: Connect) -> None:
    library, ids = await library_of_two(grpc_channel)
    people = await library.people()
    detail = {p.person_id: await library.person(p.person_id) for p in people}
    hopper = _of(people, detail, ids["hopper_portrait"])
    collins = _of(people, detail, ids["collins_portrait"])
    named = await library.search.UpdatePerson(
        search_pb2.UpdatePersonRequest(person_id=hopper, name="  Grace   Hopper "), metadata=library.user
    )
    assert named.name == "Grace Hopper"
    await library.search.UpdatePerson(
        search_pb2.UpdatePersonRequest(person_id=collins, name="Eileen"), metadata=library.user
    )
    assert [p.name for p in await library.people()] == ["Eileen", "Grace Hopper"]

    found = await library.found("grace hopper")
    assert list(found.understood.people) == [hopper]
    assert {h.media_id for h in found.hits} == {
        ids["hopper_portrait"],
        ids["hopper_by_the_lake"],
        ids["hopper_grey"],
        ids["party"],
    }
    party = next(h for h in found.hits if h.media_id == ids["party"])
    assert (party.segment.start_s, party.segment.end_s) == (0, 4)  # the moment she is in

    found = await library.found("videos of Eileen")
    assert list(found.understood.people) == [collins] and list(found.understood.kinds) == ["video"]
    assert [(h.media_id, h.segment.start_s) for h in found.hits] == [(ids["party"], 4)]

    # The explicit filter, and the name taken literally.
    found = await library.found("moment", people=[collins])
    assert {h.media_id for h in found.hits} == {ids["collins_portrait"], ids["collins_by_the_lake"], ids["party"]}
    assert not (await library.found("grace hopper", literal=["people"])).understood.people
    with pytest.raises(InvalidArgumentError):
        await library.found("moment", people=["not-an-id"])

    # Once every file with her is deleted, Eileen is gone, and so is her name from queries.
    for name in ("collins_portrait", "collins_by_the_lake", "party"):
        await library.search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=ids[name]), metadata=library.user)
    assert [p.name for p in await library.people()] == ["Grace Hopper"]
    assert not (await library.found("videos of Eileen")).understood.people


async def test_merge_move_hide_and_reindex(grpc_channel: Connect) -> None:
    library, ids = await library_of_two(grpc_channel)
    people = await library.people()
    detail = {p.person_id: await library.person(p.person_id) for p in people}
    hopper = _of(people, detail, ids["hopper_portrait"])
    collins = _of(people, detail, ids["collins_portrait"])
    await library.search.UpdatePerson(
        search_pb2.UpdatePersonRequest(person_id=hopper, name="Grace"), metadata=library.user
    )

    # Move one of Hopper's faces out, to a person of its own; grouping again leaves it there.
    grey = next(m for m in detail[hopper].media if m.media_id == ids["hopper_grey"]).face_ids[0]
    alone = await library.search.MoveFace(search_pb2.MoveFaceRequest(face_id=grey), metadata=library.user)
    assert alone.person_id not in (hopper, collins) and alone.face_count == 1
    assert (await library.person(hopper)).person.face_count == 3
    await library.search.ClusterFaces(search_pb2.ClusterFacesRequest(), metadata=library.user)
    assert (await library.person(alone.person_id)).person.face_count == 1
    # ... and back into Hopper, emptying (and so removing) the person of its own.
    back = await library.search.MoveFace(
        search_pb2.MoveFaceRequest(face_id=grey, person_id=hopper), metadata=library.user
    )
    assert back.person_id == hopper and back.face_count == 4
    with pytest.raises(NotFoundError):
        await library.person(alone.person_id)

    # Hide Collins: gone from the list unless hidden people are asked for.
    await library.search.UpdatePerson(
        search_pb2.UpdatePersonRequest(person_id=collins, hidden=True), metadata=library.user
    )
    assert [p.person_id for p in await library.people()] == [hopper]
    assert {p.person_id for p in await library.people(include_hidden=True)} == {hopper, collins}

    # Merge Collins into Hopper (a wrong grouping the user fixes): one person with every face, the name kept.
    merged = await library.search.MergePeople(
        search_pb2.MergePeopleRequest(person_id=hopper, other_person_id=collins), metadata=library.user
    )
    assert (merged.person_id, merged.name, merged.face_count) == (hopper, "Grace", 7)
    with pytest.raises(NotFoundError):
        await library.person(collins)
    with pytest.raises(InvalidArgumentError):
        await library.search.MergePeople(
            search_pb2.MergePeopleRequest(person_id=hopper, other_person_id=hopper), metadata=library.user
        )

    # Indexing a file again keeps its faces (and so their person); a face no longer found goes; deleting the
    # file deletes its faces.
    await library.index(ids["hopper_portrait"], FACES["hopper_portrait"])
    assert (await library.person(hopper)).person.face_count == 7
    await library.index(ids["hopper_portrait"], [])
    assert (await library.person(hopper)).person.face_count == 6
    await library.search.DeleteMedia(search_pb2.DeleteMediaRequest(media_id=ids["party"]), metadata=library.user)
    after = await library.person(hopper)
    assert after.person.face_count == 4 and ids["party"] not in {m.media_id for m in after.media}


async def test_files_indexed_at_once_make_one_person(grpc_channel: Connect) -> None:
    library = await Library(grpc_channel).start()
    names = ["hopper_portrait", "hopper_by_the_lake", "hopper_grey", "hopper_at_the_cafe"]
    media = [await library.media(f"{name}.jpg") for name in names]
    await asyncio.gather(*(library.index(m, FACES[n]) for m, n in zip(media, names, strict=True)))
    people = await library.people()
    assert [p.face_count for p in people] == [4]


async def test_a_lone_face_waits_for_a_second(grpc_channel: Connect) -> None:
    library = await Library(grpc_channel).start()
    first = await library.media("one.jpg")
    await library.index(first, FACES["collins_portrait"])
    assert await library.people() == []  # one face is no person yet (min_faces 2)
    second = await library.media("two.jpg")
    await library.index(second, FACES["collins_by_the_lake"])
    assert [p.face_count for p in await library.people()] == [2]


async def test_bad_faces_are_invalid_argument(grpc_channel: Connect) -> None:
    library = await Library(grpc_channel).start()
    media_id = str(uuid.uuid4())
    good = FACES["hopper_portrait"][0]
    bad = [
        search_pb2.Face(box=[0.5, 0.1, 0.4, 0.3], score=1, embedding=good.embedding),
        search_pb2.Face(box=[0.1, 0.1, 0.4], score=1, embedding=good.embedding),
        search_pb2.Face(box=good.box, score=1, embedding=[0.1] * 12),
        search_pb2.Face(box=good.box, score=1, embedding=good.embedding, start_s=3, end_s=1),
    ]
    for face in bad:
        with pytest.raises(InvalidArgumentError):
            await library.index(media_id, [face])


async def test_the_pass_for_leftovers_runs_as_a_command(grpc_channel: Connect, infra: Infra) -> None:
    """`python -m trove_search.people <user>`: here with one face enough for a person, the lone face becomes one."""
    library = await Library(grpc_channel).start()
    await library.index(await library.media("alone.jpg"), FACES["collins_portrait"])
    assert await library.people() == []
    await library.found("portrait")
    assert (await library.found("portrait")).cached
    env = {
        **os.environ,
        "TROVE_SEARCH_POSTGRES__DSN": infra.dsns["search"],
        "TROVE_SEARCH_REDIS__DSN": infra.redis_dsn,
        "TROVE_SEARCH_SERVICE_AUTH__TOKEN": secrets.token_hex(32),
        "TROVE_SEARCH_PEOPLE__MIN_FACES": "1",
    }
    user_id = dict(library.user)[USER_ID_KEY]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trove_search.people",
        user_id,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()
    assert "1 new person" in output.decode()
    assert [p.face_count for p in await library.people()] == [1]
    assert not (await library.found("portrait")).cached  # the face moved: the cached list went with it
