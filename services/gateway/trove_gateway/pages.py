"""The web app: `/` (the page), `/static/…` (its CSS, JS and icons) and `/config.json` (what the page needs to know)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from trove_common.errors import UnavailableError
from trove_common.media_types import ALLOWED_TYPES
from trove_gateway.identity import Authenticator
from trove_gateway.settings import FirebaseSettings, Settings

WEB_DIR = Path(__file__).resolve().parent / "web"


def auth_urls(firebase: FirebaseSettings) -> tuple[str, str]:
    """The base URLs of the Identity Toolkit (sign-up, sign-in) and Secure Token (refresh) REST APIs."""
    if firebase.web_auth_url or firebase.auth_emulator_host:
        # The emulator serves both APIs under one origin, each behind its real host name as the first path part.
        base = (firebase.web_auth_url or f"http://{firebase.auth_emulator_host}").rstrip("/")
        return f"{base}/identitytoolkit.googleapis.com", f"{base}/securetoken.googleapis.com"
    return "https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _sources(*sources: str) -> str:
    return " ".join(dict.fromkeys(s for s in sources if s))


def auth_origins(settings: Settings, auth: Authenticator | None = None) -> list[str]:
    """Origins the page talks to for sign-in: the Firebase Auth REST APIs, or the OIDC issuer and its endpoints."""
    if settings.auth.mode != "oidc":
        return [_origin(url) for url in auth_urls(settings.firebase)]
    origins = [_origin(settings.auth.oidc.issuer)]
    metadata = auth.oidc.cached_metadata if auth is not None and auth.oidc is not None else None
    if metadata is not None:
        origins += [_origin(metadata.authorization_endpoint), _origin(metadata.token_endpoint)]
    return origins


def storage_origin(settings: Settings) -> str:
    """Where the browser sends uploads and reads originals: the gateway's /blobs/, or the S3 bucket."""
    storage = settings.storage
    if storage.backend == "local":
        return _origin(storage.public_url)
    if storage.s3.endpoint_url:  # path-style URLs on the endpoint itself (moto, MinIO)
        return _origin(storage.s3.endpoint_url)
    bucket, region = storage.s3.bucket, storage.s3.region
    # botocore names the regional host, or the global one in us-east-1.
    return f"https://{bucket}.s3.{region}.amazonaws.com https://{bucket}.s3.amazonaws.com"


def content_security_policy(settings: Settings, *, auth: Sequence[str] = ()) -> str:
    """No inline script or style anywhere; network only to ourselves, sign-in (`auth` origins) and the blobs' origin.

    Args:
        auth: the sign-in origins (`auth_origins`); the Firebase Auth REST APIs when not given.
    """
    auth = list(auth) or auth_origins(settings)
    # Signed upload and playback URLs point at the storage's public URL, which may not be where the page is,
    # or (s3 backend) at the bucket.
    blobs = storage_origin(settings)
    connect = _sources("'self'", *auth, blobs)
    media = _sources("'self'", "blob:", blobs)
    # Signing in with OIDC leaves for the issuer's authorization endpoint (and comes back with a redirect).
    form_action = _sources("'self'", *auth) if settings.auth.mode == "oidc" else "'self'"
    images = _sources("'self'", "blob:", "data:", blobs)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            f"media-src {media}",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
        ]
    )


async def page_config(settings: Settings, auth: Authenticator | None = None) -> dict[str, Any]:
    """What the page reads at start: where to sign in, which files the server takes, which sections exist."""
    config: dict[str, Any] = {
        "authMode": settings.auth.mode,
        "maxUploadBytes": settings.max_upload_bytes,
        "allowedTypes": ALLOWED_TYPES,
        "billing": True,  # the Usage section (billing's usage and alerts routes)
    }
    if settings.auth.mode == "oidc":
        assert auth is not None and auth.oidc is not None
        metadata = await auth.oidc.metadata()
        config["oidc"] = {
            "issuer": metadata.issuer,
            "authorizationEndpoint": metadata.authorization_endpoint,
            "tokenEndpoint": metadata.token_endpoint,
            "endSessionEndpoint": metadata.end_session_endpoint,
            "clientId": settings.auth.oidc.client_id,
            "scopes": settings.auth.oidc.scopes,
        }
        return config
    identity_url, token_url = auth_urls(settings.firebase)
    return config | {
        "authBaseUrl": identity_url,
        "tokenBaseUrl": token_url,
        "apiKey": settings.firebase.api_key,
        "projectId": settings.firebase.project_id,
    }


def _authenticator(request: Request) -> Authenticator | None:
    state = getattr(request.app.state, "gateway", None)
    return state.auth if state is not None else None


def _page_headers(request: Request, *, cache: str) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    policy = content_security_policy(settings, auth=auth_origins(settings, _authenticator(request)))
    return {"Content-Security-Policy": policy, "Cache-Control": cache}


async def index(request: Request) -> Response:
    auth = _authenticator(request)
    if auth is not None and auth.oidc is not None:
        # The policy names the issuer's token endpoint, which only its discovery document tells.
        with contextlib.suppress(UnavailableError):
            await auth.oidc.metadata()
    return FileResponse(
        WEB_DIR / "index.html", media_type="text/html", headers=_page_headers(request, cache="no-cache")
    )


async def config(request: Request) -> Response:
    config = await page_config(request.app.state.settings, _authenticator(request))
    return JSONResponse(config, headers={"Cache-Control": "no-store"})


class _StaticFiles(StaticFiles):
    """The page's assets, revalidated on every load (no build step, so no hashed names to cache forever)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        extra = _page_headers(request, cache="no-cache")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


ROUTES = [
    Route("/", index, methods=["GET"]),
    Route("/config.json", config, methods=["GET"]),
    Mount("/static", app=_StaticFiles(directory=WEB_DIR), name="static"),
]
