"""REST handlers of people: /api/v1/people (list, one, rename, hide, merge) and /api/v1/faces (move, crop)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from trove_common.errors import NotFoundError
from trove_common.ids import parse_id
from trove_gateway import responses as out
from trove_gateway.api import signed_in
from trove_gateway.bodies import MergeBody, MoveFaceBody, PeopleQuery, PersonBody, parse_body, parse_query
from trove_gateway.openapi import ApiRoute, Link, Operation
from trove_protos.search.v1 import search_pb2


def _crop_url(face_id: str) -> str:
    return f"/api/v1/faces/{face_id}/crop"


def _person_out(person: search_pb2.Person) -> out.Person:
    return out.Person(
        person_id=person.person_id,
        name=person.name,
        hidden=person.hidden,
        face_count=person.face_count,
        cover_url=_crop_url(person.cover_face_id) if person.cover_face_id else None,
    )


def _path_id(request: Request, name: str) -> str:
    # A malformed id in a URL is "not found", like someone else's.
    return parse_id(request.path_params[name], what=name.removesuffix("_id"), error=NotFoundError)


async def list_people(request: Request) -> Response:
    state = await signed_in(request)
    query = parse_query(request.query_params, PeopleQuery)
    found = await state.backends.search.ListPeople(search_pb2.ListPeopleRequest(include_hidden=query.hidden))
    return out.respond(out.People(items=[_person_out(p) for p in found.people]))


async def get_person(request: Request) -> Response:
    state = await signed_in(request)
    detail = await state.backends.search.GetPerson(
        search_pb2.GetPersonRequest(person_id=_path_id(request, "person_id"))
    )
    media = [
        out.PersonMediaItem(
            media_id=m.media_id,
            filename=m.filename,
            kind=m.kind,
            thumbnail_url=f"/api/v1/media/{m.media_id}/thumbnail",
            moments=[out.Moment(start_s=s.start_s, end_s=s.end_s) for s in m.moments],
            faces=[out.FaceRef(face_id=f, crop_url=_crop_url(f)) for f in m.face_ids],
        )
        for m in detail.media
    ]
    return out.respond(out.PersonDetail(**_person_out(detail.person).model_dump(), media=media))


async def update_person(request: Request) -> Response:
    state = await signed_in(request)
    person_id = _path_id(request, "person_id")
    body = await parse_body(request, PersonBody)
    update = search_pb2.UpdatePersonRequest(person_id=person_id)
    if body.name is not None:
        update.name = body.name
    if body.hidden is not None:
        update.hidden = body.hidden
    return out.respond(_person_out(await state.backends.search.UpdatePerson(update)))


async def merge_people(request: Request) -> Response:
    state = await signed_in(request)
    person_id = _path_id(request, "person_id")
    body = await parse_body(request, MergeBody)
    merged = await state.backends.search.MergePeople(
        search_pb2.MergePeopleRequest(person_id=person_id, other_person_id=body.other_person_id)
    )
    return out.respond(_person_out(merged))


async def move_face(request: Request) -> Response:
    state = await signed_in(request)
    face_id = _path_id(request, "face_id")
    body = await parse_body(request, MoveFaceBody)
    moved = await state.backends.search.MoveFace(
        search_pb2.MoveFaceRequest(face_id=face_id, person_id=body.person_id or "")
    )
    return out.respond(_person_out(moved))


async def face_crop(request: Request) -> Response:
    state = await signed_in(request)
    crop = await state.backends.search.GetFaceCrop(search_pb2.GetFaceCropRequest(face_id=_path_id(request, "face_id")))
    return Response(crop.jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


_BY_PERSON_ID = {"person_id": "$response.body#/person_id"}
# What a person answer leads to: the person, renaming them.
_PERSON_LINKS = {"get": Link("getPerson", _BY_PERSON_ID), "update": Link("updatePerson", _BY_PERSON_ID)}

ROUTES = [
    ApiRoute(
        "/api/v1/people",
        list_people,
        method="GET",
        operation=Operation(
            operation_id="listPeople",
            summary="The people in the caller's pictures and videos (named first)",
            tag="people",
            query=PeopleQuery,
            response=out.People,
            links={"first": Link("getPerson", {"person_id": "$response.body#/items/0/person_id"})},
        ),
    ),
    ApiRoute(
        "/api/v1/people/{person_id}",
        get_person,
        method="GET",
        operation=Operation(
            operation_id="getPerson",
            summary="One person, with the pictures and video moments they are in",
            tag="people",
            response=out.PersonDetail,
            errors=(404,),
        ),
    ),
    ApiRoute(
        "/api/v1/people/{person_id}",
        update_person,
        method="PATCH",
        operation=Operation(
            operation_id="updatePerson",
            summary="Name (or rename) a person, or hide them",
            tag="people",
            body=PersonBody,
            response=out.Person,
            errors=(404,),
            links=_PERSON_LINKS,
        ),
    ),
    ApiRoute(
        "/api/v1/people/{person_id}/merge",
        merge_people,
        method="POST",
        operation=Operation(
            operation_id="mergePeople",
            summary="Merge another person into this one (they were the same person)",
            tag="people",
            body=MergeBody,
            response=out.Person,
            errors=(404,),
            links=_PERSON_LINKS,
        ),
    ),
    ApiRoute(
        "/api/v1/faces/{face_id}/move",
        move_face,
        method="POST",
        operation=Operation(
            operation_id="moveFace",
            summary="Move a face to another person, or to a new person of its own; answers that person",
            tag="people",
            body=MoveFaceBody,
            response=out.Person,
            errors=(404,),
            links=_PERSON_LINKS,
        ),
    ),
    ApiRoute(
        "/api/v1/faces/{face_id}/crop",
        face_crop,
        method="GET",
        operation=Operation(
            operation_id="getFaceCrop",
            summary="A crop of the face (JPEG)",
            tag="people",
            media_type="image/jpeg",
            errors=(404,),
        ),
    ),
]
