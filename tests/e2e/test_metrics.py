"""Every process of the session's stack serves Prometheus metrics on its own port, and traffic moves the series."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support import DEV_MEDIA, Api

from trove_stack.infra import Infra, ServiceGroup

NewApi = Callable[..., Awaitable[Api]]
PROCESSES = ("gateway", "billing", "ingest", "analysis", "search", "worker")
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _scrape(infra: Infra, process: str, wait_s: float = 90) -> Series:
    """The process' series; waits for its port (nothing waits for the worker to be up: it opens no other port)."""
    url = infra.config.metrics_url(process)
    deadline = time.monotonic() + wait_s
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            try:
                response = await client.get(url)
                break
            except httpx.ConnectError as exc:
                if time.monotonic() > deadline:
                    logs = infra.config.log_path("analysis-worker" if process == "worker" else process)
                    raise AssertionError(f"{process} serves no metrics at {url}; see {logs}") from exc
                await asyncio.sleep(0.5)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


async def _scrape_all(infra: Infra) -> dict[str, Series]:
    scraped = await asyncio.gather(*(_scrape(infra, p) for p in PROCESSES))
    return dict(zip(PROCESSES, scraped, strict=True))


async def test_every_process_serves_metrics_on_its_own_port_and_not_on_the_public_one(
    infra: Infra, services: ServiceGroup, gateway_url: str
) -> None:
    scraped = await _scrape_all(infra)
    ports = {getattr(infra.config, f"{p}_metrics_port") for p in PROCESSES}
    assert len(ports) == len(PROCESSES)
    assert all(any(name.startswith("process_") for name, _ in series) for series in scraped.values())
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{gateway_url}/metrics")).status_code == 404


async def test_traffic_moves_the_series_of_every_process(infra: Infra, new_api: NewApi, gateway_url: str) -> None:
    before = await _scrape_all(infra)
    api = await new_api()
    admin = await new_api(admin=True)
    media_id = await api.upload((DEV_MEDIA / "menu_cafe.png").read_bytes(), "menu_cafe.png", "image/png")
    assert (await api.wait_done(media_id))["status"] == "completed"
    query = f"coffee menu prices {uuid.uuid4().hex[:6]}"
    for _ in range(2):  # the second one is answered from the cache
        response = await api.search(query)
        assert response.status_code == 200, response.text
    assert (await api.request("GET", f"/api/v1/media/{media_id}")).status_code == 200
    assert (await api.request("GET", "/no/such/page")).status_code == 404
    assert (await admin.request("GET", "/api/v1/jobs/dead")).status_code == 200
    after = await _scrape_all(infra)

    def moved(process: str, name: str, by: float = 1, **labels: str) -> bool:
        return _value(after[process], name, **labels) - _value(before[process], name, **labels) >= by

    http = "trove_http_request_duration_seconds_count"
    assert moved("gateway", http, by=2, route="/api/v1/search", method="GET", status="200")
    assert moved("gateway", http, route="/api/v1/media/{media_id}", method="GET", status="200")
    assert moved("gateway", http, route="<unmatched>", method="GET", status="404")
    assert not any(dict(labels).get("route") == "/no/such/page" for _, labels in after["gateway"])

    grpc = "trove_grpc_server_handling_seconds_count"
    assert moved("ingest", grpc, method="/trove.ingest.v1.IngestService/CompleteUpload", code="OK")
    assert moved("search", grpc, by=2, method="/trove.search.v1.SearchService/Search", code="OK")
    assert moved("search", grpc, method="/trove.search.v1.SearchService/IndexSegments", code="OK")
    assert moved("analysis", grpc, method="/trove.analysis.v1.AnalysisService/ListDeadLetters", code="OK")
    assert moved("billing", grpc, method="/trove.billing.v1.BillingService/RecordCost", code="OK")

    assert moved("search", "trove_search_duration_seconds_count", cached="false")
    assert moved("search", "trove_search_duration_seconds_count", cached="true")
    assert moved("search", "trove_search_results_count", by=2)
    assert moved("search", "trove_search_cache_hits_total", kind="results")
    assert moved("search", "trove_search_cache_misses_total", kind="results")

    assert moved("billing", "trove_cost_units_total", by=0.0001, service="local-compute")

    for stage, family in (("probe", "text"), ("image", "image"), ("text", "text"), ("embedding", "embedding")):
        assert moved("worker", "trove_stage_duration_seconds_count", stage=stage, outcome="ok"), stage
        assert moved("worker", "trove_jobs_done_total", family=family), family
    assert _value(after["worker"], "trove_jobs_running", family="embedding") == 0


async def test_the_worker_reports_its_queue_lengths(infra: Infra, services: ServiceGroup) -> None:
    deadline = time.monotonic() + 15
    while True:
        series = await _scrape(infra, "worker")
        queued = {dict(labels)["family"] for name, labels in series if name == "trove_jobs_queued"}
        if queued == {"image", "video", "text", "embedding"} or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert queued == {"image", "video", "text", "embedding"}
