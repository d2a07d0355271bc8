"""The API contract: an OpenAPI 3.1 document built from the routes themselves (`ApiRoute`s carry their
`Operation`: the pydantic models the handler parses and answers with), served at /api/v1/openapi.json, and an
interactive reference at /api/docs from the Swagger UI assets packaged with swagger-ui-py (no CDN)."""

from __future__ import annotations

import copy
import importlib.resources
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from trove_gateway import responses

TITLE = "Trove API"
VERSION = "1"
REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "The request is malformed: a parameter or the body is invalid (the message names it).",
    401: "No valid ID token: missing, malformed, expired or revoked.",
    402: "A quota or budget of the account's tier is used up (details name it).",
    403: "Not allowed: an administrators' route, a disabled account, or a signed URL that does not match.",
    404: "No such resource (or not the caller's).",
    409: "The resource is not in a state that allows this (e.g. the upload's bytes are not there yet).",
    413: "Too large: the body, the declared file size or the bytes sent exceed a limit.",
    415: "The content type is not one Trove takes.",
    416: "The Range cannot be satisfied.",
    422: "The bytes are not what they claim to be.",
    429: "Too many requests; Retry-After (and details.retry_after_s) say when to try again.",
    503: "A backend is unavailable; try again later.",
}
# Every operation can answer these: bad input is refused at the edge, and every route has a rate-limit bucket.
COMMON_ERRORS = (400, 429, 503)
SIGNED_IN_ERRORS = (401, 403)


@dataclass(frozen=True, slots=True)
class Link:
    """An OpenAPI link: a value of this answer (a runtime expression) fills a parameter of another operation."""

    operation_id: str
    parameters: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Operation:
    """What one route takes and answers, for the document; the handler parses and answers with the same models.

    Args:
        response: the JSON body of the success answer; None with `media_type` for bytes, or for no body.
        errors: statuses besides COMMON_ERRORS (and 401/403 when `signed_in`).
    """

    operation_id: str
    summary: str
    tag: str
    status: int = 200
    response: type[BaseModel] | None = None
    media_type: str | None = None
    body: type[BaseModel] | None = None
    body_media_type: str | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    signed_in: bool = True
    admin: bool = False
    description: str = ""
    links: Mapping[str, Link] = field(default_factory=dict)
    statuses: tuple[int, ...] = ()  # further success statuses with the same body (e.g. 200 beside 202)


class ApiRoute(Route):
    """A Route that carries its Operation (one method per route)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, method: str, operation: Operation) -> None:
        super().__init__(path, endpoint, methods=[method])
        self.method = method.lower()
        self.operation = operation


def documented_prefixes() -> tuple[str, ...]:
    return ("/api/v1/", "/blobs/", "/healthz", "/readyz")


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        # Optional parameters are left out, never sent as null.
        if "anyOf" in prop:
            kept = [s for s in prop["anyOf"] if s.get("type") != "null"]
            if len(kept) == 1:
                prop.pop("anyOf")
                prop.update(kept[0])
        if prop.get("default") is None:
            prop.pop("default", None)
        description = prop.pop("description", "")
        prop.pop("title", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        if prop.get("type") == "array":
            parameter |= {"style": "form", "explode": True}
        parameters.append(parameter)
    return parameters


def _path_parameters(path: str, names: Iterable[str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}} for name in names
    ]


def _error(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": _ERROR_TEXT[status],
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
    }
    if status in (429, 503):
        answer["headers"] = {
            "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "string"}}
        }
    return answer


def _operation(route: ApiRoute) -> dict[str, Any]:
    op = route.operation
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    parameters = _path_parameters(route.path, route.param_convertors)
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=op.body.__name__)}}},
        }
    elif op.body_media_type is not None:
        out["requestBody"] = {
            "required": True,
            "content": {op.body_media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        success["content"] = {"application/json": {"schema": {"$ref": REF.format(model=op.response.__name__)}}}
    elif op.media_type is not None:
        success["content"] = {op.media_type: {"schema": {"type": "string", "format": "binary"}}}
    if op.links:
        success["links"] = {
            name: {"operationId": link.operation_id, "parameters": dict(link.parameters)}
            for name, link in op.links.items()
        }
    answers: dict[str, Any] = {str(op.status): success}
    for status in op.statuses:
        answers[str(status)] = {k: v for k, v in success.items() if k != "links"}
    errors = set(COMMON_ERRORS) | set(op.errors) | (set(SIGNED_IN_ERRORS) if op.signed_in else set())
    if op.body is not None:
        errors.add(413)
    for status in sorted(errors):
        answers[str(status)] = _error(status)
    out["responses"] = answers
    if not op.signed_in:
        out["security"] = []
    return out


def _walk(routes: Sequence[BaseRoute]) -> Iterable[Route]:
    for route in routes:
        if isinstance(route, Mount):
            continue
        if isinstance(route, Route):
            yield route


def undocumented(routes: Sequence[BaseRoute]) -> list[str]:
    """API routes that carry no Operation (the document would miss them)."""
    return [
        route.path
        for route in _walk(routes)
        if route.path.startswith(documented_prefixes()) and not isinstance(route, ApiRoute)
    ]


def build_document(routes: Sequence[BaseRoute], *, server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every ApiRoute in `routes`."""
    api_routes = [r for r in _walk(routes) if isinstance(r, ApiRoute)]
    models: dict[type[BaseModel], str] = {responses.ErrorBody: "serialization"}
    for route in api_routes:
        if route.operation.body is not None:
            models[route.operation.body] = "validation"
        if route.operation.response is not None:
            models[route.operation.response] = "serialization"
    _, defs = models_json_schema(
        [(model, mode) for model, mode in models.items()],  # type: ignore[misc]
        ref_template=REF,
        by_alias=True,
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes:
        paths.setdefault(route.path.replace(":path}", "}"), {})[route.method] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Trove's REST API. Every call but the health probes and signed blob URLs needs "
                '`Authorization: Bearer <ID token>`. Errors are `{"error": {code, message, request_id, details?}}`.'
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "the ID token of the identity mode (Firebase or your OIDC issuer)",
                }
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    cached = getattr(request.app.state, "openapi_document", None)
    if cached is None:
        cached = build_document(request.app.routes)
        request.app.state.openapi_document = cached
    return JSONResponse(copy.deepcopy(cached), headers={"Cache-Control": "no-cache"})


def swagger_ui_dir() -> Path:
    """Swagger UI's static files, as packaged by swagger-ui-py."""
    return Path(str(importlib.resources.files("swagger_ui").joinpath("static")))


# No inline script or style: the page loads its initializer from /api/docs/init.js.
_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Trove API reference</title>
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
"""
_DOCS_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
};
"""
# Only our own origin; Swagger UI's stylesheet draws a few icons from data: URIs.
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_DOCS_HEADERS = {"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"}


async def docs_page(request: Request) -> Response:
    return HTMLResponse(_DOCS_PAGE, headers=_DOCS_HEADERS)


async def docs_init(request: Request) -> Response:
    return Response(_DOCS_INIT, media_type="text/javascript", headers=_DOCS_HEADERS)


class _DocsAssets(StaticFiles):
    """Swagger UI's files with the docs page's policy."""

    async def get_response(self, path: str, scope: Any) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_DOCS_HEADERS)
        return response


ROUTES: list[BaseRoute] = [
    ApiRoute(
        "/api/v1/openapi.json",
        openapi_json,
        method="GET",
        operation=Operation(
            operation_id="getOpenApi",
            summary="This document",
            tag="meta",
            media_type="application/json",
            signed_in=False,
        ),
    ),
    Route("/api/docs", docs_page, methods=["GET"]),
    Route("/api/docs/init.js", docs_init, methods=["GET"]),
    Mount("/api/docs/assets", app=_DocsAssets(directory=swagger_ui_dir()), name="api-docs-assets"),
]
