"""gRPC adapter of the search service."""

from __future__ import annotations

import json
from datetime import datetime

import grpc
import numpy as np

from trove_common.context import require_admin, user_id_var
from trove_common.errors import InvalidArgumentError
from trove_protos.search.v1 import search_pb2, search_pb2_grpc
from trove_search.models import Face, MediaFacts, Moment, Person, Segment, Space
from trove_search.people import People
from trove_search.reindexer import Reindexer, ReindexStatus
from trove_search.search import Query, Results, Search, parse_filters
from trove_search.understand import Understood


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _moment_pb(moment: Moment) -> search_pb2.Segment:
    return search_pb2.Segment(
        kind=moment.kind,
        start_s=moment.start_s,
        end_s=moment.end_s,
        text=moment.text,
        page=moment.page,
        snippet=moment.snippet,
        frame=moment.frame,
        reason=moment.reason,
    )


def _understood_pb(understood: Understood | None) -> search_pb2.Understood | None:
    if understood is None:
        return None
    return search_pb2.Understood(
        kinds=list(understood.kinds),
        date_from=understood.date_from.isoformat() if understood.date_from else "",
        date_to=understood.date_to.isoformat() if understood.date_to else "",
        people=list(understood.people),
        text=understood.text,
        excluded=list(understood.excluded),
    )


def _response(found: Results) -> search_pb2.SearchResponse:
    hits = [
        search_pb2.SearchHit(
            media_id=r.hit.media_id,
            score=r.hit.score,
            segment=_moment_pb(r.hit.best),
            moments=[_moment_pb(m) for m in r.hit.moments],
            filename=r.media.filename,
            media_kind=r.media.kind,
            content_type=r.media.content_type,
            created_at=r.media.created_at,
            taken_at=r.hit.taken_at.isoformat() if r.hit.taken_at else "",
            duration_s=r.hit.duration_s or 0.0,
        )
        for r in found.results
    ]
    return search_pb2.SearchResponse(
        hits=hits,
        took_ms=found.took_ms,
        next_cursor=found.next_cursor,
        cached=found.cached,
        space=found.space,
        understood=_understood_pb(found.understood),
    )


def _space_pb(space: Space | None) -> search_pb2.EmbeddingSpace | None:
    if space is None:
        return None
    return search_pb2.EmbeddingSpace(
        space=space.space,
        model=space.model,
        dim=space.dim,
        state=space.state,
        segments_total=space.segments_total,
        segments_done=space.segments_done,
        started_at=space.started_at.isoformat() if space.started_at else "",
        finished_at=space.finished_at.isoformat() if space.finished_at else "",
        last_error=space.last_error,
    )


def _reindex_pb(status: ReindexStatus, *, started: bool) -> search_pb2.ReindexStatus:
    return search_pb2.ReindexStatus(
        started=started,
        running=status.running,
        active=_space_pb(status.active),
        target=_space_pb(status.target or status.active),
    )


def _person_pb(person: Person) -> search_pb2.Person:
    return search_pb2.Person(
        person_id=person.person_id,
        name=person.name,
        hidden=person.hidden,
        face_count=person.face_count,
        cover_face_id=person.cover_face_id,
    )


def _face(face: search_pb2.Face) -> Face:
    box = tuple(face.box)
    if len(box) != 4:
        raise InvalidArgumentError("a face's box must have 4 values: x0, y0, x1, y1")
    return Face(
        box=(box[0], box[1], box[2], box[3]),
        score=face.score,
        embedding=np.asarray(face.embedding, dtype=np.float32),
        start_s=face.start_s,
        end_s=face.end_s,
        crop=face.crop,
    )


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, search: Search, reindexer: Reindexer, people: People) -> None:
        self._search = search
        self._reindexer = reindexer
        self._people = people

    async def IndexSegments(
        self, request: search_pb2.IndexSegmentsRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.IndexSegmentsResponse:
        segments = [
            Segment(
                kind=s.kind,
                start_s=s.start_s,
                end_s=s.end_s,
                text=s.text,
                page=s.page,
                keywords=s.keywords,
                caption=s.caption,
                frame=s.frame,
                vector=np.asarray(s.vector, dtype=np.float32),
                image_vector=np.asarray(s.image_vector, dtype=np.float32) if s.image_vector else None,
            )
            for s in request.segments
        ]
        f = request.facts
        facts = MediaFacts(
            kind=f.kind,
            taken_at=_when(f.taken_at),
            uploaded_at=_when(f.uploaded_at),
            duration_s=f.duration_s or None,
            has_faces=f.has_faces,
            language=f.language,
            filename=f.filename,
            content_type=f.content_type,
        )
        indexed = await self._search.index(
            user_id=user_id_var.get(),
            media_id=request.media_id,
            model=request.model,
            dim=request.dim,
            segments=segments,
            facts=facts,
            image_model=request.image_model,
            image_dim=request.image_dim,
            first=request.first,
            faces=[_face(face) for face in request.faces],
        )
        return search_pb2.IndexSegmentsResponse(indexed=indexed)

    async def Search(
        self, request: search_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.SearchResponse:
        filters = parse_filters(
            kinds=list(request.kinds),
            date_field=request.date_field,
            date_from=request.date_from,
            date_to=request.date_to,
            has_faces=request.has_faces,
            language=request.language,
            people=list(request.people),
        )
        query = Query(
            text=request.query,
            limit=request.limit,
            cursor=request.cursor,
            filters=filters,
            sort=request.sort or "relevance",
            tz=request.tz,
            literal=tuple(request.literal),
        )
        return _response(await self._search.search(user_id=user_id_var.get(), query=query))

    async def Similar(
        self, request: search_pb2.SimilarRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.SearchResponse:
        found = await self._search.similar(user_id=user_id_var.get(), media_id=request.media_id, limit=request.limit)
        return _response(found)

    async def DeleteMedia(
        self, request: search_pb2.DeleteMediaRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.DeleteMediaResponse:
        deleted = await self._search.delete_media(user_id=user_id_var.get(), media_id=request.media_id)
        return search_pb2.DeleteMediaResponse(deleted=deleted)

    async def ListHistory(
        self, request: search_pb2.ListHistoryRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.ListHistoryResponse:
        entries = await self._search.history(user_id=user_id_var.get(), limit=request.limit)
        return search_pb2.ListHistoryResponse(
            entries=[
                search_pb2.HistoryEntry(
                    query=e.query,
                    filters_json=json.dumps(e.filters),
                    result_count=e.result_count,
                    latency_ms=e.latency_ms,
                    created_at=e.created_at.isoformat() if e.created_at else "",
                )
                for e in entries
            ]
        )

    async def DeleteHistory(
        self, request: search_pb2.DeleteHistoryRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.DeleteHistoryResponse:
        return search_pb2.DeleteHistoryResponse(deleted=await self._search.delete_history(user_id=user_id_var.get()))

    async def StartReindex(
        self, request: search_pb2.StartReindexRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.ReindexStatus:
        require_admin(action="start a re-index")
        started = await self._reindexer.start()
        return _reindex_pb(await self._reindexer.status(), started=started)

    async def GetReindex(
        self, request: search_pb2.GetReindexRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.ReindexStatus:
        require_admin(action="read the re-index status")
        return _reindex_pb(await self._reindexer.status(), started=False)

    async def ListPeople(
        self, request: search_pb2.ListPeopleRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.ListPeopleResponse:
        found = await self._people.all(user_id=user_id_var.get(), include_hidden=request.include_hidden)
        return search_pb2.ListPeopleResponse(people=[_person_pb(p) for p in found])

    async def GetPerson(
        self, request: search_pb2.GetPersonRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.PersonDetail:
        person, media = await self._people.get(user_id=user_id_var.get(), person_id=request.person_id)
        return search_pb2.PersonDetail(
            person=_person_pb(person),
            media=[
                search_pb2.PersonMedia(
                    media_id=m.media_id,
                    filename=m.filename,
                    kind=m.kind,
                    moments=[search_pb2.PersonMoment(start_s=s, end_s=e) for s, e in m.moments],
                    face_ids=m.face_ids,
                )
                for m in media
            ],
        )

    async def UpdatePerson(
        self, request: search_pb2.UpdatePersonRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.Person:
        person = await self._people.update(
            user_id=user_id_var.get(),
            person_id=request.person_id,
            name=request.name if request.HasField("name") else None,
            hidden=request.hidden if request.HasField("hidden") else None,
        )
        return _person_pb(person)

    async def MergePeople(
        self, request: search_pb2.MergePeopleRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.Person:
        person = await self._people.merge(
            user_id=user_id_var.get(), person_id=request.person_id, other_person_id=request.other_person_id
        )
        return _person_pb(person)

    async def MoveFace(
        self, request: search_pb2.MoveFaceRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.Person:
        person = await self._people.move_face(
            user_id=user_id_var.get(), face_id=request.face_id, person_id=request.person_id
        )
        return _person_pb(person)

    async def GetFaceCrop(
        self, request: search_pb2.GetFaceCropRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.FaceCrop:
        return search_pb2.FaceCrop(jpeg=await self._people.crop(user_id=user_id_var.get(), face_id=request.face_id))

    async def ClusterFaces(
        self, request: search_pb2.ClusterFacesRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.ClusterFacesResponse:
        report = await self._people.cluster(user_id=user_id_var.get())
        return search_pb2.ClusterFacesResponse(assigned=report.assigned, created=report.created)
