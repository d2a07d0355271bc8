"""Whole traces: an upload and a search each make one trace across every process they touch, sent by the real
OTLP/HTTP exporters to the receiver the session runs (see conftest's `traces`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from otlp_receiver import ReceivedSpan, TraceReceiver
from support import DEV_MEDIA, Api

NewApi = Callable[[], Awaitable[Api]]
REQUEST_ID = "trove.request_id"
# An image's stages (trove_analysis.stages.plan): each is one job, and its span a child of the one before.
IMAGE_STAGES = ("probe", "image", "text", "embedding")


def _trace_of(spans: list[ReceivedSpan], request_id: str, root: str) -> list[ReceivedSpan]:
    """Every span of the trace whose gateway request span `root` carries `request_id`; [] while it is not in yet.

    (An upload's three requests share the caller's correlation id; each is a trace of its own.)
    """
    roots = [
        s
        for s in spans
        if s.service == "trove-gateway" and s.name == root and s.attributes.get(REQUEST_ID) == request_id
    ]
    if not roots:
        return []
    return [s for s in spans if s.trace_id == roots[0].trace_id]


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_span_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def _wait_for(
    traces: TraceReceiver,
    request_id: str,
    root: str,
    done: Callable[[list[ReceivedSpan]], bool],
    timeout_s: float = 30,
) -> list[ReceivedSpan]:
    """The request's trace once `done` holds for it and every span's parent has arrived (exports are batched)."""
    deadline = time.monotonic() + timeout_s
    trace: list[ReceivedSpan] = []
    while time.monotonic() < deadline:
        trace = _trace_of(traces.spans(), request_id, root)
        ids = {s.span_id for s in trace}
        if trace and done(trace) and all(not s.parent_span_id or s.parent_span_id in ids for s in trace):
            return trace
        time.sleep(0.3)
    names = sorted({f"{s.service}: {s.name}" for s in trace})
    raise AssertionError(f"trace of {request_id} incomplete after {timeout_s} s; spans so far: {names}")


def _server_span(trace: list[ReceivedSpan], service: str, method: str) -> ReceivedSpan:
    found = [s for s in trace if s.service == service and s.kind == "SPAN_KIND_SERVER" and s.name == method]
    assert found, f"no {service} server span {method}"
    return found[0]


def _one_root(trace: list[ReceivedSpan], name: str) -> ReceivedSpan:
    roots = [s for s in trace if not s.parent_span_id]
    assert len(roots) == 1, [f"{s.service}: {s.name}" for s in roots]
    assert roots[0].service == "trove-gateway" and roots[0].name == name
    return roots[0]


async def test_an_upload_is_one_trace_from_complete_through_every_stage_to_index_segments(
    new_api: NewApi, traces: TraceReceiver
) -> None:
    api = await new_api()
    request_id = f"trace-upload-{uuid.uuid4().hex[:12]}"
    media_id = await api.upload(
        (DEV_MEDIA / "menu_cafe.png").read_bytes(), "menu_cafe.png", "image/png", headers={"x-request-id": request_id}
    )
    assert (await api.wait_done(media_id))["status"] == "completed"

    index = "/trove.search.v1.SearchService/IndexSegments"

    def complete(trace: list[ReceivedSpan]) -> bool:
        return any(s.service == "trove-search" and s.name == index for s in trace)

    name = "POST /api/v1/uploads/{upload_id}/complete"
    trace = _wait_for(traces, request_id, name, complete)
    by_id = {s.span_id: s for s in trace}
    assert len(by_id) == len(trace)
    root = _one_root(trace, name)
    assert root.attributes[REQUEST_ID] == request_id

    # From IndexSegments in search back up: the embedding job, each earlier stage's job, ingest's CompleteUpload
    # (which enqueued the first), the gateway's request.
    chain = _ancestors(_server_span(trace, "trove-search", index), by_id)
    jobs = [s for s in chain if s.service == "trove-analysis-worker" and s.kind == "SPAN_KIND_CONSUMER"]
    assert [s.attributes["stage"] for s in reversed(jobs)] == list(IMAGE_STAGES)
    assert [s.name for s in reversed(jobs)] == ["analyze_media"] + ["run_stage"] * (len(IMAGE_STAGES) - 1)
    assert all(s.attributes["media_id"] == media_id and s.attributes[REQUEST_ID] == request_id for s in jobs)
    complete_upload = _server_span(trace, "trove-ingest", "/trove.ingest.v1.IngestService/CompleteUpload")
    assert complete_upload in chain and chain.index(complete_upload) > chain.index(jobs[-1])
    assert complete_upload.attributes[REQUEST_ID] == request_id
    assert chain[-1] == root

    # The stages call the other services inside the same trace, each gRPC server span carrying the correlation id.
    servers = [s for s in trace if s.kind == "SPAN_KIND_SERVER" and s.service != "trove-gateway"]
    assert {s.service for s in servers} >= {"trove-ingest", "trove-search", "trove-billing"}
    assert all(s.attributes.get(REQUEST_ID) == request_id for s in servers)


async def test_a_search_is_one_trace_through_search_into_its_database(new_api: NewApi, traces: TraceReceiver) -> None:
    api = await new_api()
    media_id = await api.upload((DEV_MEDIA / "menu_cafe.png").read_bytes(), "menu_cafe.png", "image/png")
    assert (await api.wait_done(media_id))["status"] == "completed"
    request_id = f"trace-search-{uuid.uuid4().hex[:12]}"
    response = await api.search("coffee menu prices", headers={"x-request-id": request_id})
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["filename"] == "menu_cafe.png"

    call = "/trove.search.v1.SearchService/Search"

    def queries(trace: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return [s for s in trace if s.service == "trove-search" and s.attributes.get("db.system") == "postgresql"]

    trace = _wait_for(traces, request_id, "GET /api/v1/search", lambda t: len(queries(t)) >= 2)
    by_id = {s.span_id: s for s in trace}
    root = _one_root(trace, "GET /api/v1/search")
    search = _server_span(trace, "trove-search", call)
    for query in queries(trace):  # the vector and full-text statements, each under the search call
        chain = _ancestors(query, by_id)
        assert search in chain and chain[-1] == root
    for span in (root, search):
        assert span.attributes[REQUEST_ID] == request_id
    # Search keeps what results show of a file, so ingest is not asked.
    assert not [s for s in trace if s.service == "trove-ingest"]
