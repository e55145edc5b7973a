"""The extra Starlette routes of oauth mode, to be placed before the SDK's app.

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

from .consent import CONSENT_PATH, MAX_FORM_BYTES, ConsentPage, KeyVerifier
from .metadata import metadata_routes
from .provider import TinyFishOAuthProvider
from .ratelimit import CONSENT_LIMIT, REGISTER_LIMIT, RateLimitedApp, SlidingWindowLimiter
from .revocation import revocation_app

__all__ = ["REGISTER_PATH", "REVOKE_PATH", "jwt_routes", "oauth_routes"]

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
    *,
    sandbox_key: str | None = None,
) -> list[BaseRoute]:
    """Consent page, rate-limited registration, and the metadata overrides."""
    consent = ConsentPage(
        provider,
        verify_key,
        SlidingWindowLimiter(*CONSENT_LIMIT),
        secure_cookie=str(settings.issuer_url).startswith("https://"),
        sandbox_key=sandbox_key,
    )
    registration = RegistrationHandler(
        provider, options=settings.client_registration_options or ClientRegistrationOptions(enabled=True)
    )
    register_app = _cors(
        RateLimitedApp(
            RequestBodyLimitMiddleware(request_response(registration.handle), _MAX_REGISTRATION_BYTES),
            SlidingWindowLimiter(*REGISTER_LIMIT),
        )
    )
    routes: list[BaseRoute] = [
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
