"""REST handlers of search: /api/v1/search, /api/v1/media/{id}/similar and /api/v1/search/history."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trove_gateway.api import signed_in
from trove_gateway.bodies import int_param
from trove_protos.search.v1 import search_pb2


def _segment_json(segment: search_pb2.Segment) -> dict[str, Any]:
    return {
        "kind": segment.kind,
        "start_s": segment.start_s,
        "end_s": segment.end_s,
        "text": segment.text,
        "snippet": segment.snippet,
        "page": segment.page,
    }


def _results_json(response: search_pb2.SearchResponse) -> dict[str, Any]:
    results = [
        {
            "media_id": hit.media_id,
            "filename": hit.filename,
            "kind": hit.media_kind,
            "content_type": hit.content_type,
            "created_at": hit.created_at,
            "taken_at": hit.taken_at or None,
            "duration_s": hit.duration_s or None,
            "thumbnail_url": f"/api/v1/media/{hit.media_id}/thumbnail",
            "score": round(hit.score, 4),
            "segment": _segment_json(hit.segment),
            "moments": [_segment_json(m) for m in hit.moments],
        }
        for hit in response.hits
    ]
    return {
        "results": results,
        "next_cursor": response.next_cursor or None,
        "took_ms": round(response.took_ms, 2),
        "space": response.space,
    }


def _search_request(params: QueryParams) -> search_pb2.SearchRequest:
    kinds = [k.strip() for value in params.getlist("kind") for k in value.split(",") if k.strip()]
    return search_pb2.SearchRequest(
        query=params.get("q", ""),
        limit=int_param(params, "limit", default=20),
        cursor=params.get("cursor", ""),
        kinds=kinds,
        date_field=params.get("date_field", ""),
        date_from=params.get("from", ""),
        date_to=params.get("to", ""),
        has_faces=params.get("has_faces", ""),
        language=params.get("language", ""),
        sort=params.get("sort", ""),
    )


async def search(request: Request) -> Response:
    state = await signed_in(request)
    response = await state.backends.search.Search(_search_request(request.query_params))
    return JSONResponse(_results_json(response))


async def similar(request: Request) -> Response:
    state = await signed_in(request)
    response = await state.backends.search.Similar(
        search_pb2.SimilarRequest(
            media_id=request.path_params["media_id"], limit=int_param(request.query_params, "limit", default=20)
        )
    )
    return JSONResponse(_results_json(response))


async def history(request: Request) -> Response:
    state = await signed_in(request)
    response = await state.backends.search.ListHistory(
        search_pb2.ListHistoryRequest(limit=int_param(request.query_params, "limit", default=50))
    )
    entries = [
        {
            "query": e.query,
            "filters": json.loads(e.filters_json or "{}"),
            "result_count": e.result_count,
            "latency_ms": round(e.latency_ms, 2),
            "created_at": e.created_at,
        }
        for e in response.entries
    ]
    return JSONResponse({"items": entries})


async def delete_history(request: Request) -> Response:
    state = await signed_in(request)
    await state.backends.search.DeleteHistory(search_pb2.DeleteHistoryRequest())
    return Response(status_code=204)


ROUTES = [
    Route("/api/v1/search", search, methods=["GET"]),
    Route("/api/v1/search/history", history, methods=["GET"]),
    Route("/api/v1/search/history", delete_history, methods=["DELETE"]),
    Route("/api/v1/media/{media_id}/similar", similar, methods=["GET"]),
]
