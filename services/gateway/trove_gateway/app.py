"""The gateway's Starlette application: routes, middleware and error handlers as plain lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from trove_common.objectstore import LocalObjectStorage, open_object_store
from trove_gateway import admin_api, api, billing_api, blobs, health, jobs_api, openapi, pages, people_api, search_api
from trove_gateway.backends import Backends
from trove_gateway.errors import EXCEPTION_HANDLERS
from trove_gateway.identity import Authenticator, UserDirectory, check_startup
from trove_gateway.middleware import AddressRateLimitMiddleware, EdgeLimitMiddleware, RequestContextMiddleware
from trove_gateway.rate_limit import RateLimiter
from trove_gateway.settings import Settings
from trove_gateway.state import GatewayState


def create_app(settings: Settings) -> Starlette:
    """The gateway; raises IdentityConfigError when the identity mode is unsafe where it is configured."""
    check_startup(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resources = AsyncExitStack()
        # First: an object store that cannot be used (credentials, bucket) stops the start, naming the setting.
        storage = await resources.enter_async_context(open_object_store(settings.storage, env_prefix="TROVE_GATEWAY_"))
        backends = Backends.connect(settings)
        auth = Authenticator.from_settings(settings)
        # Short socket timeouts: a hung Redis costs each request at most this, then the limiter lets it through.
        redis = Redis.from_url(settings.redis.dsn.get_secret_value(), socket_timeout=0.5, socket_connect_timeout=0.5)
        app.state.gateway = GatewayState(
            auth=auth,
            # A disabled or deleted account must lose access within the identity TTL: no cache outlives it.
            users=UserDirectory(backends.billing, ttl_s=min(settings.user_cache_ttl_s, settings.auth.identity_ttl_s)),
            backends=backends,
            storage=storage,
            blobs=storage.blobs if isinstance(storage, LocalObjectStorage) else None,
            limiter=RateLimiter(redis=redis, settings=settings.rate_limits),
        )
        try:
            yield
        finally:
            await backends.close()
            await redis.aclose()
            await auth.aclose()
            await resources.aclose()

    app = Starlette(
        routes=[
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
        ],
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PUT", "DELETE"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id", "retry-after"],
            ),
            Middleware(AddressRateLimitMiddleware),
            Middleware(EdgeLimitMiddleware),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    # The web page's routes read /config.json and the Content-Security-Policy from here.
    app.state.settings = settings
    StarletteInstrumentor.instrument_app(app)
    return app
