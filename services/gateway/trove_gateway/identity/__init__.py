"""Identity modes of the gateway (emulator, firebase, oidc) behind one TokenVerifier protocol."""

from __future__ import annotations

from trove_gateway.identity.authenticator import Authenticator, check_startup
from trove_gateway.identity.model import Identity, IdentityConfigError, TokenVerifier
from trove_gateway.identity.users import UserDirectory

__all__ = ["Authenticator", "Identity", "IdentityConfigError", "TokenVerifier", "UserDirectory", "check_startup"]
