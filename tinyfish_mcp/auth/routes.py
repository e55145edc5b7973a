"""The extra Starlette routes of oauth mode, to be placed before the SDK's app.

- ``/authorize``: the SDK's handler behind rate limits and size bounds (``auth.authorize``).
- ``/token``: the SDK's handler behind the RFC 8707 resource check (``auth.token``).
- ``/consent`` (GET/POST): the sign-in page (``auth.consent``), body-limited and, for
  POST, rate-limited per client address.
- ``/register``: the SDK's own ``RegistrationHandler`` behind a per-address rate limit
  and a small body limit. Route matching picks this one over the SDK's identical path
  because it comes first.
- ``/revoke``: the SDK's ``RevocationHandler``, reachable by public clients that omit
  ``client_secret`` (see ``auth.revocation``).
- The discovery documents of ``auth.metadata``.
"""

from __future__ import annotations

from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import ASGIApp

from .authorize import MAX_AUTHORIZE_BYTES, AuthorizeEndpoint, AuthorizeLimits
from .consent import CONSENT_PATH, MAX_FORM_BYTES, ConsentPage, KeyVerifier
from .metadata import metadata_routes
from .provider import PENDING_TTL, TinyFishOAuthProvider
from .ratelimit import (
    CONSENT_LIMIT,
    REGISTER_LIMIT,
    Budget,
    RateLimitedApp,
    RateLimiter,
)
from .revocation import revocation_app
from .token import MAX_TOKEN_REQUEST_BYTES, TokenEndpoint

__all__ = ["AUTHORIZE_PATH", "REGISTER_PATH", "REVOKE_PATH", "TOKEN_PATH", "jwt_routes", "oauth_routes"]

AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/token"  # noqa: S105 - a path, not a password
REGISTER_PATH = "/register"
REVOKE_PATH = "/revoke"
_MAX_REGISTRATION_BYTES = 64 * 1024


def _cors(app: ASGIApp) -> ASGIApp:
    """The CORS policy the SDK gives its client-facing endpoints (browser clients such as Inspector)."""
    return CORSMiddleware(
        app,
        allow_origins=["*"],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=[MCP_PROTOCOL_VERSION_HEADER],
    )


def oauth_routes(
    provider: TinyFishOAuthProvider,
    settings: AuthSettings,
    verify_key: KeyVerifier,
    limiter: RateLimiter,
    limits: AuthorizeLimits | None = None,
    *,
    sandbox_key: str | None = None,
) -> list[BaseRoute]:
    """Guarded authorize and token endpoints, consent page, rate-limited registration, metadata."""
    consent = ConsentPage(
        provider,
        verify_key,
        Budget(limiter, "consent", *CONSENT_LIMIT),
        secure_cookie=str(settings.issuer_url).startswith("https://"),
        sandbox_key=sandbox_key,
    )
    registration = RegistrationHandler(
        provider, options=settings.client_registration_options or ClientRegistrationOptions(enabled=True)
    )
    register_app = _cors(
        RateLimitedApp(
            RequestBodyLimitMiddleware(request_response(registration.handle), _MAX_REGISTRATION_BYTES),
            Budget(limiter, "register", *REGISTER_LIMIT),
        )
    )
    limits = limits or AuthorizeLimits()
    authorize = AuthorizeEndpoint(
        provider,
        rate=Budget(limiter, "authorize", limits.per_minute, 60.0),
        pending_per_address=Budget(limiter, "pending", limits.pending_per_address, PENDING_TTL),
        max_pending=limits.pending_max,
    )
    token = TokenEndpoint(provider, identity_assertion_enabled=settings.identity_assertion_enabled)
    routes: list[BaseRoute] = [
        Route(
            AUTHORIZE_PATH,
            # No CORS, as in the SDK: clients send a browser here, they do not fetch it.
            endpoint=RequestBodyLimitMiddleware(request_response(authorize.handle), MAX_AUTHORIZE_BYTES),
            methods=["GET", "POST"],
        ),
        Route(
            TOKEN_PATH,
            endpoint=_cors(
                RequestBodyLimitMiddleware(request_response(token.handle), MAX_TOKEN_REQUEST_BYTES)
            ),
            methods=["POST", "OPTIONS"],
        ),
        Route(
            CONSENT_PATH,
            endpoint=RequestBodyLimitMiddleware(request_response(consent.handle), MAX_FORM_BYTES),
            methods=["GET", "POST"],
        ),
        Route(REGISTER_PATH, endpoint=register_app, methods=["POST", "OPTIONS"]),
        Route(REVOKE_PATH, endpoint=_cors(revocation_app(provider)), methods=["POST", "OPTIONS"]),
    ]
    routes.extend(metadata_routes(settings, authorization_server=True))
    return routes


def jwt_routes(settings: AuthSettings) -> list[BaseRoute]:
    """In jwt mode only the root protected resource metadata is ours to add."""
    return list(metadata_routes(settings, authorization_server=False))
