"""The gateway's one entry to identity: the startup check, the verifier of the configured mode, the request."""

from __future__ import annotations

from starlette.requests import Request

from trove_gateway.identity._token import bearer_token
from trove_gateway.identity.emulator import EmulatorVerifier, check_emulator_startup
from trove_gateway.identity.firebase import FirebaseVerifier
from trove_gateway.identity.model import Identity, IdentityConfigError, TokenVerifier
from trove_gateway.identity.oidc import OidcProvider, OidcVerifier, check_oidc_startup
from trove_gateway.settings import Settings


def check_startup(settings: Settings) -> None:
    """Raise IdentityConfigError, naming the settings, when the identity mode is unsafe where it is configured."""
    if settings.auth.mode == "emulator":
        check_emulator_startup(http_host=settings.http.host, project_id=settings.firebase.project_id)
    elif settings.auth.mode == "oidc":
        check_oidc_startup(settings.auth.oidc)


class Authenticator:
    """Reads the bearer token of a request and verifies it in the configured mode.

    Args:
        oidc: the issuer (oidc mode only); the web page's configuration reads its endpoints.
    """

    def __init__(self, *, verifier: TokenVerifier, max_token_bytes: int, oidc: OidcProvider | None = None) -> None:
        self.verifier = verifier
        self.oidc = oidc
        self._max_token_bytes = max_token_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        auth = settings.auth
        verifier: TokenVerifier
        oidc = None
        if auth.mode == "emulator":
            if not settings.firebase.auth_emulator_host:
                raise IdentityConfigError(
                    "TROVE_GATEWAY_AUTH__MODE=emulator needs TROVE_GATEWAY_FIREBASE__AUTH_EMULATOR_HOST"
                )
            verifier = EmulatorVerifier(
                emulator_host=settings.firebase.auth_emulator_host,
                project_id=settings.firebase.project_id,
                identity_ttl_s=auth.identity_ttl_s,
            )
        elif auth.mode == "firebase":
            verifier = FirebaseVerifier(
                project_id=settings.firebase.project_id,
                check_revoked=settings.firebase.check_revoked,
                identity_ttl_s=auth.identity_ttl_s,
            )
        else:
            oidc = OidcProvider(auth.oidc)
            verifier = OidcVerifier(settings=auth.oidc, provider=oidc)
        return cls(verifier=verifier, max_token_bytes=auth.max_token_bytes, oidc=oidc)

    async def identify(self, request: Request) -> Identity:
        token = bearer_token(request.headers.get("authorization"), max_bytes=self._max_token_bytes)
        return await self.verifier.verify(token)

    async def aclose(self) -> None:
        await self.verifier.aclose()
