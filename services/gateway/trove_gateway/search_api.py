"""REST handlers of search: /api/v1/search, /api/v1/media/{id}/similar and /api/v1/search/history."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from trove_gateway import responses as out
from trove_gateway.api import signed_in
from trove_gateway.bodies import LimitQuery, SearchQuery, SimilarQuery, parse_query
from trove_gateway.openapi import ApiRoute, Operation
from trove_protos.search.v1 import search_pb2


def _segment_out(segment: search_pb2.Segment, *, media_id: str) -> out.Segment:
    return out.Segment(
        kind=segment.kind,
        start_s=segment.start_s,
        end_s=segment.end_s,
        text=segment.text,
        snippet=segment.snippet,
        page=segment.page,
        frame_url=f"/api/v1/media/{media_id}/frames/{segment.frame}" if segment.frame > 0 else None,
        reason=segment.reason or None,
    )


def _results_out(response: search_pb2.SearchResponse) -> out.SearchResults:
    results = [
        out.Hit(
            media_id=hit.media_id,
            filename=hit.filename,
            kind=hit.media_kind,
            content_type=hit.content_type,
            created_at=hit.created_at,
            taken_at=hit.taken_at or None,
            duration_s=hit.duration_s or None,
            thumbnail_url=f"/api/v1/media/{hit.media_id}/thumbnail",
            score=round(hit.score, 4),
            segment=_segment_out(hit.segment, media_id=hit.media_id),
            moments=[_segment_out(m, media_id=hit.media_id) for m in hit.moments],
        )
        for hit in response.hits
    ]
    understood = None
    if response.HasField("understood"):
        u = response.understood
        understood = out.Understood(
            kinds=list(u.kinds),
            date_from=u.date_from or None,
            date_to=u.date_to or None,
            people=list(u.people),
            text=u.text,
            excluded=list(u.excluded),
        )
    return out.SearchResults(
        results=results,
        next_cursor=response.next_cursor or None,
        took_ms=round(response.took_ms, 2),
        space=response.space,
        understood=understood,
    )


def _search_request(query: SearchQuery) -> search_pb2.SearchRequest:
    return search_pb2.SearchRequest(
        query=query.q,
        limit=query.limit,
        cursor=query.cursor,
        kinds=list(query.kind),
        date_field=query.date_field or "",
        date_from=query.date_from,
        date_to=query.date_to,
        has_faces=query.has_faces or "",
        language=query.language,
        sort=query.sort,
        tz=query.tz,
        literal=list(query.literal),
        people=list(query.person),
    )


async def search(request: Request) -> Response:
    state = await signed_in(request)
    query = parse_query(request.query_params, SearchQuery)
    response = await state.backends.search.Search(_search_request(query))
    return out.respond(_results_out(response))


async def similar(request: Request) -> Response:
    state = await signed_in(request)
    query = parse_query(request.query_params, SimilarQuery)
    response = await state.backends.search.Similar(
        search_pb2.SimilarRequest(media_id=request.path_params["media_id"], limit=query.limit)
    )
    return out.respond(_results_out(response))


async def history(request: Request) -> Response:
    state = await signed_in(request)
    query = parse_query(request.query_params, LimitQuery)
    response = await state.backends.search.ListHistory(search_pb2.ListHistoryRequest(limit=query.limit))
    entries = [
        out.HistoryEntry(
            query=e.query,
            filters=json.loads(e.filters_json or "{}"),
            result_count=e.result_count,
            latency_ms=round(e.latency_ms, 2),
            created_at=e.created_at,
        )
        for e in response.entries
    ]
    return out.respond(out.History(items=entries))


async def delete_history(request: Request) -> Response:
    state = await signed_in(request)
    await state.backends.search.DeleteHistory(search_pb2.DeleteHistoryRequest())
    return Response(status_code=204)


ROUTES = [
    ApiRoute(
        "/api/v1/search",
        search,
        method="GET",
        operation=Operation(
            operation_id="search",
            summary="Search the caller's media by meaning: words, speech, text in pictures and pages",
            tag="search",
            query=SearchQuery,
            response=out.SearchResults,
        ),
    ),
    ApiRoute(
        "/api/v1/search/history",
        history,
        method="GET",
        operation=Operation(
            operation_id="searchHistory",
            summary="The caller's recent searches",
            tag="search",
            query=LimitQuery,
            response=out.History,
        ),
    ),
    ApiRoute(
        "/api/v1/search/history",
        delete_history,
        method="DELETE",
        operation=Operation(
            operation_id="deleteSearchHistory", summary="Forget the caller's searches", tag="search", status=204
        ),
    ),
    ApiRoute(
        "/api/v1/media/{media_id}/similar",
        similar,
        method="GET",
        operation=Operation(
            operation_id="similarMedia",
            summary="Media that look or sound like this one",
            tag="search",
            query=SimilarQuery,
            response=out.SearchResults,
            errors=(404,),
        ),
    ),
]
