"""The authorization layer of the HTTP server: ``oauth`` and ``jwt`` modes.

``build_auth(settings, verify_key=...)`` returns an :class:`AuthSetup`, everything the
HTTP app needs:

- ``MCPServer(auth_server_provider=setup.provider, token_verifier=setup.token_verifier,
  auth=setup.auth_settings)`` — the SDK then adds the bearer middleware, the 401
  challenge with ``resource_metadata``, the protected resource metadata and (oauth
  mode) the ``/authorize``, ``/token``, ``/register``, ``/revoke`` and metadata routes;
- ``setup.routes`` — our extra routes (consent page, rate-limited registration,
  metadata overrides); they MUST be placed before the SDK's app, e.g.
  ``Starlette(routes=[*setup.routes, Mount("/", app=mcp_app)])``, so that ours win;
- ``setup.resolve_key`` — the ``KeyResolver`` for ``ToolDeps``: the TinyFish key of the
  current request's token;
- ``setup.run_keys`` and ``setup.engine`` (oauth mode) — the stores on the auth database
  that the server's other records share;
- ``await setup.startup()`` / ``await setup.shutdown()`` in the app's lifespan;
- ``setup.wrap_mcp_app(mcp_app)`` (optional, recommended) — adds ``scope="..."`` to the
  SDK's ``WWW-Authenticate`` challenges.

``none`` mode needs none of this; the HTTP layer handles it alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from mcp.server.auth.routes import validate_issuer_url
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl, ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from ..callers import KeyResolver
from ..records import RunKeyStore
from ..settings import Settings
from .apikeys import ApiKeyHeader, HeadlessKeyProvider, headless_key_resolver
from .authorize import AuthorizeLimits
from .challenge import ScopeChallenge
from .cimd import ClientMetadataDocuments
from .consent import CONSENT_PATH
from .crypto import KeyCipher, SecretTooWeakError
from .idempotency import SqlRunKeyStore
from .jwt import JWKSCache, JWTTokenVerifier
from .keys import deployment_key_resolver, oauth_key_resolver
from .provider import OAUTH_SCOPE, TinyFishOAuthProvider
from .ratelimit_backends import build_rate_limiter
from .routes import jwt_routes, oauth_routes
from .store import AuthStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "OAUTH_SCOPE",
    "AuthConfigurationError",
    "AuthSetup",
    "build_auth",
    "previous_secrets",
    "resource_url",
]

_Hook = Callable[[], Awaitable[None]]


class AuthConfigurationError(ValueError):
    """The settings do not allow this authorization mode to start; the message says how to fix it."""


async def _nothing() -> None:
    return None


@dataclass
class AuthSetup:
    """What ``build_auth`` hands to the HTTP app (see the module docstring for the wiring)."""

    provider: Any | None
    token_verifier: Any | None
    auth_settings: AuthSettings
    routes: list[BaseRoute]
    resolve_key: KeyResolver
    headless_keys: bool = False
    # Where run session_ids are remembered: the shared database in oauth mode (None: in the process).
    run_keys: RunKeyStore | None = None
    # The auth store's database (oauth mode): the hosted server keeps its other records there.
    engine: AsyncEngine | None = None
    _startup: _Hook = field(default=_nothing, repr=False)
    _shutdown: _Hook = field(default=_nothing, repr=False)

    async def startup(self) -> None:
        """Create the tables (oauth mode); call once in the app's lifespan before serving."""
        await self._startup()

    async def shutdown(self) -> None:
        """Dispose of the database engine and any HTTP client we created."""
        await self._shutdown()

    def wrap_mcp_app(self, app: ASGIApp) -> ASGIApp:
        """Wrap the SDK's app so its 401/403 challenges also name the required scope."""
        scopes = self.auth_settings.required_scopes
        wrapped = ScopeChallenge(app, scopes) if scopes else app
        return ApiKeyHeader(wrapped) if self.headless_keys else wrapped


def previous_secrets(settings: Settings) -> tuple[str, ...]:
    """``TINYFISH_MCP_SECRET_PREVIOUS``: secrets that still decrypt during a rotation."""
    previous = settings.mcp_secret_previous
    return (previous.get_secret_value(),) if previous and previous.get_secret_value().strip() else ()


def resource_url(settings: Settings) -> str:
    """The RFC 8707 resource identifier (and token audience) of this server."""
    return f"{settings.public_url}/mcp"


async def build_auth(
    settings: Settings,
    *,
    verify_key: Callable[[str], Awaitable[bool]],
    http: httpx.AsyncClient | None = None,
) -> AuthSetup:
    """Build the authorization layer for ``settings.mcp_auth`` ("oauth" or "jwt").

    ``verify_key(api_key)`` makes one cheap upstream call: True if TinyFish accepts the
    key, False if it refuses it (it may raise when the upstream cannot be reached).
    ``http`` is used for client metadata documents and the JWKS; when omitted, a client
    is created here and closed by ``shutdown()``.
    """
    own_http = http is None
    client = http or httpx.AsyncClient(timeout=5.0, follow_redirects=False, trust_env=False)
    try:
        if settings.mcp_auth == "oauth":
            setup = _build_oauth(settings, verify_key, client)
        elif settings.mcp_auth == "jwt":
            setup = _build_jwt(settings, client)
        else:
            raise AuthConfigurationError(
                f"build_auth does not handle TINYFISH_MCP_AUTH={settings.mcp_auth!r}"
            )
    except BaseException:
        if own_http:
            await client.aclose()
        raise
    if own_http:
        inner_shutdown = setup._shutdown

        async def shutdown() -> None:
            try:
                await inner_shutdown()
            finally:
                await client.aclose()

        setup._shutdown = shutdown
    return setup


def _build_oauth(
    settings: Settings, verify_key: Callable[[str], Awaitable[bool]], http: httpx.AsyncClient
) -> AuthSetup:
    if settings.mcp_secret is None or not settings.mcp_secret.get_secret_value().strip():
        raise AuthConfigurationError(
            "TINYFISH_MCP_AUTH=oauth stores each user's TinyFish API key encrypted, and needs a secret to "
            "encrypt them: set TINYFISH_MCP_SECRET to at least 32 random characters (keep it stable across "
            "restarts and identical on every replica)."
        )
    try:
        cipher = KeyCipher(settings.mcp_secret.get_secret_value(), previous_secrets(settings))
    except SecretTooWeakError as exc:
        raise AuthConfigurationError(str(exc)) from exc
    try:
        validate_issuer_url(AnyHttpUrl(settings.public_url))
    except (ValueError, ValidationError) as exc:
        raise AuthConfigurationError(
            f"The public URL {settings.public_url!r} cannot be an OAuth issuer: it must be https "
            "(plain http only on localhost/127.0.0.1), without query or fragment. "
            "Set TINYFISH_MCP_PUBLIC_URL."
        ) from exc

    resource = resource_url(settings)
    auth_settings = AuthSettings.model_validate(
        {
            "issuer_url": settings.public_url,
            "resource_server_url": resource,
            "required_scopes": [OAUTH_SCOPE],
            "validate_token_resource": True,
            "client_registration_options": {
                "enabled": True,
                "valid_scopes": [OAUTH_SCOPE],
                "default_scopes": [OAUTH_SCOPE],
            },
            "revocation_options": {"enabled": True},
        }
    )
    store = AuthStore(settings.mcp_database_url)
    headless = settings.mcp_headless_api_keys
    provider_class: Any = HeadlessKeyProvider if headless else TinyFishOAuthProvider
    extra: dict[str, Any] = (
        {"verify_key": verify_key, "key_ttl": settings.mcp_headless_key_ttl} if headless else {}
    )
    provider = provider_class(
        **extra,
        store=store,
        cipher=cipher,
        documents=ClientMetadataDocuments(
            http, scope=OAUTH_SCOPE, allow_loopback=settings.mcp_cimd_allow_loopback
        ),
        # The string form the metadata publishes, so that RFC 9207 ``iss`` compares equal.
        issuer=str(auth_settings.issuer_url),
        resource_url=resource,
        consent_url=f"{settings.public_url}{CONSENT_PATH}",
        access_token_ttl=settings.mcp_access_token_ttl,
        refresh_token_ttl=settings.mcp_refresh_token_ttl,
        auth_code_ttl=settings.mcp_auth_code_ttl,
        token_cache_seconds=settings.mcp_token_cache_seconds,
    )
    limiter = build_rate_limiter(settings, store.engine)

    async def shutdown() -> None:
        try:
            await limiter.close()
        finally:
            await store.dispose()

    return AuthSetup(
        provider=provider,
        token_verifier=None,
        auth_settings=auth_settings,
        routes=oauth_routes(
            provider,
            auth_settings,
            verify_key,
            limiter,
            AuthorizeLimits(
                per_minute=settings.mcp_authorize_rate_limit,
                pending_per_address=settings.mcp_pending_per_address,
                pending_max=settings.mcp_pending_max,
            ),
            sandbox_key=_sandbox_key(settings),
        ),
        resolve_key=(
            headless_key_resolver(oauth_key_resolver(provider)) if headless else oauth_key_resolver(provider)
        ),
        headless_keys=headless,
        run_keys=SqlRunKeyStore(store.engine, settings.mcp_session_id_ttl),
        engine=store.engine,
        _startup=store.upgrade_schema,
        _shutdown=shutdown,
    )


def _sandbox_key(settings: Settings) -> str | None:
    """In the sandbox the consent page tells the user which key the emulator accepts."""
    if settings.sandbox and settings.api_key is not None:
        return settings.api_key.get_secret_value()
    return None


def _build_jwt(settings: Settings, http: httpx.AsyncClient) -> AuthSetup:
    missing = [
        name
        for name, value in (
            ("TINYFISH_MCP_JWT_ISSUER", settings.mcp_jwt_issuer),
            ("TINYFISH_MCP_JWT_JWKS_URL", settings.mcp_jwt_jwks_url),
        )
        if not value
    ]
    if settings.api_key is None or not settings.api_key.get_secret_value().strip():
        missing.append("TINYFISH_API_KEY (the deployment-wide key every signed-in user's calls use)")
    if missing:
        raise AuthConfigurationError("TINYFISH_MCP_AUTH=jwt needs: " + ", ".join(missing) + ".")
    assert settings.mcp_jwt_issuer and settings.mcp_jwt_jwks_url and settings.api_key  # narrowed above

    resource = resource_url(settings)
    scope = settings.mcp_jwt_required_scope
    auth_settings = AuthSettings.model_validate(
        {
            "issuer_url": settings.mcp_jwt_issuer,
            "resource_server_url": resource,
            "required_scopes": [scope] if scope else None,
            "validate_token_resource": True,
        }
    )
    verifier = JWTTokenVerifier(
        jwks=JWKSCache(settings.mcp_jwt_jwks_url, http),
        issuer=settings.mcp_jwt_issuer,
        audience=settings.mcp_jwt_audience or resource,
        resource_url=resource,
    )
    return AuthSetup(
        provider=None,
        token_verifier=verifier,
        auth_settings=auth_settings,
        routes=jwt_routes(auth_settings),
        resolve_key=deployment_key_resolver(settings.api_key.get_secret_value().strip()),
    )
