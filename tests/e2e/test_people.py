"""People over REST: files uploaded and analysed end to end group into people (photos and a video's scenes); the
gateway's /api/v1/people and /api/v1/faces routes on a library whose faces were indexed from real pictures
(tests/face_pictures.py), each user's own; and a person's name in a search."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from face_pictures import jpeg, library_of_two, party_mp4, sample_pictures
from support import Api

NewApi = Callable[..., Awaitable[Api]]
Connect = Callable[[str], grpc.aio.Channel]


async def _json(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    response = await api.request(method, path, **kwargs)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


async def test_people_routes(new_api: NewApi, grpc_channel: Connect) -> None:
    api = await new_api()
    user_id = (await api.request("GET", "/api/v1/me")).json()["user_id"]
    _, ids = await library_of_two(grpc_channel, user_id=user_id)

    people = (await _json(api, "GET", "/api/v1/people"))["items"]
    assert sorted(p["face_count"] for p in people) == [3, 4]
    assert all(p["name"] == "" and not p["hidden"] for p in people)
    hopper = next(p for p in people if p["face_count"] == 4)
    collins = next(p for p in people if p["face_count"] == 3)
    crop = await api.request("GET", hopper["cover_url"])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    assert crop.content[:3] == b"\xff\xd8\xff"

    detail = await _json(api, "GET", f"/api/v1/people/{hopper['person_id']}")
    assert {m["media_id"] for m in detail["media"]} == {
        ids["hopper_portrait"],
        ids["hopper_by_the_lake"],
        ids["hopper_grey"],
        ids["party"],
    }
    party = next(m for m in detail["media"] if m["media_id"] == ids["party"])
    assert party["kind"] == "video" and party["filename"] == "party.mp4"
    assert party["moments"] == [{"start_s": 0.0, "end_s": 4.0}]
    assert party["thumbnail_url"] == f"/api/v1/media/{ids['party']}/thumbnail"

    # Name her; her name in a query finds her media, and says so.
    named = await _json(api, "PATCH", f"/api/v1/people/{hopper['person_id']}", json={"name": "Grace Hopper"})
    assert named["name"] == "Grace Hopper" and named["face_count"] == 4
    found = (await api.search("Grace Hopper")).json()
    assert found["understood"]["people"] == [hopper["person_id"]]
    assert {r["media_id"] for r in found["results"]} == {m["media_id"] for m in detail["media"]}
    by_filter = await _json(api, "GET", "/api/v1/search", params={"q": "moment", "person": collins["person_id"]})
    assert ids["collins_portrait"] in {r["media_id"] for r in by_filter["results"]}
    assert ids["hopper_portrait"] not in {r["media_id"] for r in by_filter["results"]}

    # Move a face out to a person of its own, merge it back, hide someone.
    face_id = next(m for m in detail["media"] if m["media_id"] == ids["hopper_grey"])["faces"][0]["face_id"]
    alone = await _json(api, "POST", f"/api/v1/faces/{face_id}/move", json={})
    assert alone["face_count"] == 1 and alone["person_id"] != hopper["person_id"]
    merged = await _json(
        api, "POST", f"/api/v1/people/{hopper['person_id']}/merge", json={"other_person_id": alone["person_id"]}
    )
    assert merged["face_count"] == 4
    assert (await api.request("GET", f"/api/v1/people/{alone['person_id']}")).status_code == 404
    hidden = await _json(api, "PATCH", f"/api/v1/people/{collins['person_id']}", json={"hidden": True})
    assert hidden["hidden"] and hidden["name"] == ""
    assert [p["person_id"] for p in (await _json(api, "GET", "/api/v1/people"))["items"]] == [hopper["person_id"]]
    everyone = await _json(api, "GET", "/api/v1/people", params={"hidden": "true"})
    assert len(everyone["items"]) == 2

    # Bad input and other users.
    assert (await api.request("GET", "/api/v1/people/not-an-id")).status_code == 404
    bad_merge = await api.request(
        "POST", f"/api/v1/people/{hopper['person_id']}/merge", json={"other_person_id": "nope"}
    )
    assert bad_merge.status_code == 400
    assert (await api.request("PATCH", f"/api/v1/people/{hopper['person_id']}", json={"name": 7})).status_code == 400
    stranger = await new_api()
    assert (await _json(stranger, "GET", "/api/v1/people"))["items"] == []
    for method, path, body in (
        ("GET", f"/api/v1/people/{hopper['person_id']}", None),
        ("PATCH", f"/api/v1/people/{hopper['person_id']}", {"name": "Mine"}),
        ("POST", f"/api/v1/people/{hopper['person_id']}/merge", {"other_person_id": collins["person_id"]}),
        ("POST", f"/api/v1/faces/{face_id}/move", {}),
        ("GET", hopper["cover_url"], None),
    ):
        response = await stranger.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert not (await stranger.search("Grace Hopper")).json()["understood"]["people"]


async def test_uploaded_photos_and_a_video_group_into_people(new_api: NewApi, tmp_path: Path) -> None:
    api = await new_api()
    pictures = sample_pictures()
    files = {
        "hopper.jpg": (jpeg(pictures["hopper_portrait"]), "image/jpeg"),
        "hopper_grey.jpg": (jpeg(pictures["hopper_grey"]), "image/jpeg"),
        "collins.jpg": (jpeg(pictures["collins_portrait"]), "image/jpeg"),
        "collins_at_the_lake.jpg": (jpeg(pictures["collins_by_the_lake"]), "image/jpeg"),
        "party.mp4": (party_mp4(tmp_path / "party.mp4"), "video/mp4"),
    }
    ids = {name: await api.upload(data, name, content_type) for name, (data, content_type) in files.items()}
    done = await asyncio.gather(*(api.wait_done(media_id, timeout_s=300) for media_id in ids.values()))
    assert all(m["status"] == "completed" for m in done), done

    people = (await _json(api, "GET", "/api/v1/people"))["items"]
    assert sorted(p["face_count"] for p in people) == [3, 3], people
    detail = [await _json(api, "GET", f"/api/v1/people/{p['person_id']}") for p in people]
    files_of = {frozenset(m["filename"] for m in d["media"]): d for d in detail}
    hopper = files_of[frozenset({"hopper.jpg", "hopper_grey.jpg", "party.mp4"})]
    collins = files_of[frozenset({"collins.jpg", "collins_at_the_lake.jpg", "party.mp4"})]
    moments = {
        name: next(m for m in person["media"] if m["filename"] == "party.mp4")["moments"]
        for name, person in (("hopper", hopper), ("collins", collins))
    }
    assert len(moments["hopper"]) == 1 and moments["hopper"][0]["start_s"] == 0
    assert moments["hopper"][0]["end_s"] == pytest.approx(3, abs=0.5)
    assert len(moments["collins"]) == 1 and moments["collins"][0]["start_s"] == pytest.approx(6, abs=0.5)
    crop = await api.request("GET", collins["cover_url"])
    assert crop.status_code == 200 and crop.content[:3] == b"\xff\xd8\xff"

    # Named, she is found by name: her photos, and the party at her moment.
    await _json(api, "PATCH", f"/api/v1/people/{collins['person_id']}", json={"name": "Eileen Collins"})
    found = (await api.search("eileen collins")).json()
    assert {r["filename"] for r in found["results"]} == {"collins.jpg", "collins_at_the_lake.jpg", "party.mp4"}
    party = next(r for r in found["results"] if r["filename"] == "party.mp4")
    assert party["segment"]["start_s"] == pytest.approx(6, abs=0.5)
