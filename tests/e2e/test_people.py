"""People over REST: the gateway's /api/v1/people and /api/v1/faces routes on a library whose faces were indexed
from real pictures (tests/face_pictures.py), each user's own; and a person's name in a search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from face_pictures import library_of_two
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
