"""The API contract document and its reference page, served by the running gateway."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from trove_gateway import admin_api, api, billing_api, blobs, health, jobs_api, openapi, pages, people_api, search_api
from trove_gateway.openapi import ApiRoute, build_document, undocumented

ALL_ROUTES = [
    *health.ROUTES,
    *api.ROUTES,
    *jobs_api.ROUTES,
    *search_api.ROUTES,
    *people_api.ROUTES,
    *billing_api.ROUTES,
    *admin_api.ROUTES,
    *blobs.ROUTES,
    *openapi.ROUTES,
    *pages.ROUTES,
]


def test_every_api_route_is_in_the_document() -> None:
    assert undocumented(ALL_ROUTES) == []
    document = build_document(ALL_ROUTES)
    for route in ALL_ROUTES:
        if isinstance(route, ApiRoute):
            path = route.path.replace(":path}", "}")
            assert route.method in document["paths"][path], route.path
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    # A plain Route under /api/v1 would be missed: the check notices.
    assert undocumented([Route("/api/v1/secret", health.healthz)]) == ["/api/v1/secret"]


async def test_the_document_describes_routes_errors_and_security(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "request_id"} and "details" in error["properties"]
    upload = document["paths"]["/api/v1/uploads"]["post"]
    assert upload["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CreateUploadBody")
    assert {"201", "400", "401", "403", "413", "415", "429"} <= set(upload["responses"])
    assert "Retry-After" in upload["responses"]["429"]["headers"]
    assert upload["responses"]["201"]["links"]["complete"]["operationId"] == "completeUpload"
    size = document["components"]["schemas"]["CreateUploadBody"]["properties"]["size_bytes"]
    assert size["maximum"] == 2**63 - 1
    search = {p["name"]: p for p in document["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert search["q"]["required"] and search["limit"]["schema"]["maximum"] == 100
    assert search["kind"]["schema"]["items"]["enum"] == ["image", "video", "audio", "document"]
    assert document["paths"]["/api/v1/media/{media_id}"]["delete"]["responses"]["404"]
    assert document["paths"]["/healthz"]["get"]["security"] == []


async def test_the_reference_page_is_served_from_packaged_assets(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        page = await client.get("/api/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "http" not in policy and "unsafe" not in policy
        for asset in ("/api/docs/assets/swagger-ui-bundle.js", "/api/docs/assets/swagger-ui.css", "/api/docs/init.js"):
            response = await client.get(asset)
            assert response.status_code == 200 and len(response.content) > 100, asset
            assert response.headers["content-security-policy"] == policy
        assert "/api/v1/openapi.json" in (await client.get("/api/docs/init.js")).text


async def test_a_405_lists_every_method_of_the_path(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        response = await client.patch("/api/v1/media/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    assert response.json()["error"]["code"] == "method_not_allowed"
