"""The hosted server: MCP streamable HTTP at ``/mcp``, ``/healthz``, ``/readyz`` and the OAuth endpoints.

``/healthz`` is liveness (the process answers); ``/readyz`` is readiness: 503 once the
replica is shutting down (``shutdown.py``), when its database does not answer, or when
the database's schema is behind this version's (``readiness.py``).

One Starlette app per process. In stateless mode (the default) no MCP session lives
in the process, so any replica can answer any request; OAuth state lives in the
shared database, so several replicas behind a load balancer need nothing sticky.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from .. import __version__
from ..callers import KeyResolver
from ..gctune import settle_heap
from ..runtime.context import settings_key_resolver
from ..server import TinyFishServer, build_server, streaming_tools
from ..settings import Settings
from ..upstream.client import TinyFishClient
from ..upstream.errors import AuthenticationError, PermissionDeniedError
from ..upstream.models import ListRunsParams
from .access import AccessLog
from .readiness import SchemaCheck
from .redaction import install_log_redaction
from .routing import ResponseModeRouter
from .screening import screen_endpoint
from .security import (
    BodyLimitMiddleware,
    ConfigError,
    cors_origin_regex,
    is_loopback,
    transport_security,
)
from .shutdown import Drain

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..auth import AuthSetup
    from ..auth.sessions_store import SqlSessionStore

__all__ = ["ConfigError", "create_app"]

logger = logging.getLogger(__name__)


def _check_deployment(settings: Settings) -> None:
    """Refuse unsafe combinations before anything listens."""
    if settings.mcp_auth == "none" and not is_loopback(settings.mcp_host):
        raise ConfigError(
            f"Refusing to serve on {settings.mcp_host} without authentication: anyone who can reach it "
            "could spend your TinyFish credits. Use --auth oauth (or jwt), or bind to 127.0.0.1."
        )


def _key_checker(client: TinyFishClient) -> Any:
    """The consent page's check of a pasted key: one cheap upstream call (list one run)."""

    async def verify_key(api_key: str) -> bool:
        try:
            await client.list_runs(api_key, ListRunsParams(limit=1))
        except (AuthenticationError, PermissionDeniedError):
            return False
        return True

    return verify_key


async def _healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


READY_CHECK_SECONDS = 3.0


def _readyz(drain: Drain, engine: Any) -> Any:
    schema = SchemaCheck(engine) if engine is not None else None

    async def readyz(_: Request) -> Response:
        if drain.draining:
            return JSONResponse({"status": "draining", "version": __version__}, status_code=503)
        if engine is not None:
            from sqlalchemy import text

            try:
                with anyio.fail_after(READY_CHECK_SECONDS):
                    async with engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
            except Exception as exc:  # any failure to reach the store means "not ready"
                logger.warning("readiness: the database does not answer (%s)", type(exc).__name__)
                body = {"status": "database unreachable", "version": __version__}
                return JSONResponse(body, status_code=503)
        behind = await schema.behind() if schema is not None else None
        if behind is not None:
            body = {"status": "schema behind", "detail": behind, "version": __version__}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ready", "version": __version__})

    return readyz


@dataclass
class _Auth:
    """The authorization layer as the app uses it (``setup`` is None in ``none`` mode)."""

    resolve_key: KeyResolver
    setup: AuthSetup | None = None

    @property
    def server_kwargs(self) -> dict[str, Any]:
        if self.setup is None:
            return {}
        return {
            "auth_server_provider": self.setup.provider,
            "token_verifier": self.setup.token_verifier,
            "auth": self.setup.auth_settings,
        }

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return self.setup.wrap_mcp_app(app) if self.setup is not None else app


async def _auth_layer(settings: Settings, client: TinyFishClient) -> _Auth:
    """The key resolver for ``settings.mcp_auth``; raises ``ConfigError`` when it cannot start."""
    if settings.mcp_auth == "none":
        return _Auth(settings_key_resolver(settings))
    # The database and crypto stack load only when hosting with auth. No shared http
    # client is passed: the auth layer's own one refuses proxies and redirects, which its
    # SSRF fence for client metadata documents relies on.
    from ..auth import AuthConfigurationError, build_auth

    try:
        setup = await build_auth(settings, verify_key=_key_checker(client))
    except AuthConfigurationError as exc:
        raise ConfigError(str(exc)) from None
    return _Auth(setup.resolve_key, setup)


@dataclass
class _Records:
    """Where a hosted server keeps what must outlive a request and be seen by every replica."""

    sessions: SqlSessionStore
    server_kwargs: dict[str, Any]

    @property
    def engine(self) -> AsyncEngine:
        return self.sessions.engine


def _hosted_records(settings: Settings, setup: AuthSetup | None) -> _Records:
    """Every hosted mode keeps its records in the shared database, so that any replica lists and
    closes a user's browser sessions and recognises a retried session_id. Where users share
    one key (jwt), it also records the owner of everything started (runtime/ownership.py).

    They use the auth layer's database engine when it has one (oauth), else one of their own.
    """
    from ..auth.idempotency import SqlRunKeyStore
    from ..auth.sessions_store import SqlSessionStore, owner_resolver

    shared = setup.engine if setup is not None else None
    sessions = SqlSessionStore(shared, database_url=settings.mcp_database_url)
    engine = sessions.engine
    run_keys = setup.run_keys if setup is not None else None
    kwargs: dict[str, Any] = {
        "browser_sessions": sessions,
        "resolve_owner": owner_resolver(settings.mcp_auth),
        "run_keys": run_keys or SqlRunKeyStore(engine, settings.mcp_session_id_ttl),
    }
    if settings.mcp_auth == "jwt":
        from ..auth.ownership_store import SqlOwnershipStore

        kwargs["owners"] = SqlOwnershipStore(engine)
    return _Records(sessions, kwargs)


def _metrics(settings: Settings) -> tuple[list[BaseRoute], dict[str, Any]]:
    """``/metrics`` and the server's per-call metrics, when a token for them is set
    (prometheus-client loads only then)."""
    if settings.mcp_metrics_token is None:
        return [], {}
    from .metrics import CallMetrics, metrics_endpoint, start_observing

    start_observing()
    token = settings.mcp_metrics_token.get_secret_value()
    return [Route("/metrics", metrics_endpoint(token), methods=["GET"])], {"call_metrics": CallMetrics}


def _mcp_endpoint(
    settings: Settings, mcp: TinyFishServer, auth: _Auth
) -> tuple[ASGIApp, list[StreamableHTTPSessionManager]]:
    """The ``/mcp`` app and the session managers whose ``run()`` the lifespan enters."""

    def http_app(json_response: bool) -> tuple[ASGIApp, StreamableHTTPSessionManager]:
        app = mcp.streamable_http_app(
            streamable_http_path="/mcp",
            json_response=json_response,
            stateless_http=settings.mcp_stateless,
            max_request_body_size=settings.mcp_max_body_bytes,
            transport_security=transport_security(settings),
            host=settings.mcp_host,
        )
        screen_endpoint(app, "/mcp", stateless=settings.mcp_stateless)
        return auth.wrap(app), mcp.session_manager

    served_app, manager = http_app(json_response=False)
    if not settings.mcp_stateless:
        return served_app, [manager]
    # Calls that stream nothing are answered as plain JSON (see routing.py).
    json_app, json_manager = http_app(json_response=True)
    router = ResponseModeRouter(served_app, json_app, streaming_tools(mcp), "/mcp")
    return router, [manager, json_manager]


def _middleware(settings: Settings, *, oauth_refusals: bool) -> list[Middleware]:
    # The access log outermost (every request, every status, one line); then CORS, so that
    # even a 413 carries the headers a browser client needs to read it.
    middleware = [
        Middleware(AccessLog),
        Middleware(
            CORSMiddleware,
            allow_origin_regex=cors_origin_regex(settings),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Accept",
                "Mcp-Session-Id",
                "Mcp-Protocol-Version",
                "Last-Event-ID",
                "X-API-Key",
                "X-Request-Id",
            ],
            expose_headers=["Mcp-Session-Id", "WWW-Authenticate", "X-Request-Id"],
            max_age=600,
        ),
        Middleware(BodyLimitMiddleware, limit=settings.mcp_max_body_bytes),
    ]
    if oauth_refusals:
        from .metrics import OAuthRefusals

        middleware.append(Middleware(OAuthRefusals))
    return middleware


async def create_app(
    settings: Settings, *, client: TinyFishClient | None = None, handle_signals: bool = False
) -> Starlette:
    """Build the whole hosted app for ``settings`` (auth mode, public URL, limits).

    With ``handle_signals`` (under uvicorn, in its main thread) SIGTERM and SIGINT also
    start the graceful drain of ``shutdown.py``.

    It also makes every log line of the process mask credentials in URLs (``http.redaction``).
    """
    _check_deployment(settings)
    install_log_redaction()
    owns_client = client is None
    client = client or TinyFishClient(settings)
    try:
        auth = await _auth_layer(settings, client)
    except ConfigError:
        if owns_client:
            await client.aclose()
        raise
    records = _hosted_records(settings, auth.setup)
    metrics_routes, metrics_kwargs = _metrics(settings)
    mcp = build_server(
        settings,
        client=client,
        resolve_key=auth.resolve_key,
        **auth.server_kwargs,
        **records.server_kwargs,
        **metrics_kwargs,
    )
    served_app, managers = _mcp_endpoint(settings, mcp, auth)
    drain = Drain(settings.mcp_shutdown_grace_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if handle_signals:
            drain.watch_signals()
        if auth.setup is not None:
            await auth.setup.startup()
        await records.sessions.create_table()
        try:
            # A mounted sub-app's lifespan does not run, so the session managers are entered here.
            async with contextlib.AsyncExitStack() as stack:
                for each in managers:
                    await stack.enter_async_context(each.run())
                settle_heap()
                yield
        finally:
            drain.finish()
            if metrics_routes:
                from .metrics import forget_process

                forget_process()
            if handle_signals:
                drain.unwatch_signals()
            if auth.setup is not None:
                await auth.setup.shutdown()
            await records.sessions.dispose()
            if owns_client:
                await client.aclose()

    routes: list[BaseRoute] = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz(drain, records.engine), methods=["GET"]),
        *metrics_routes,
        *(auth.setup.routes if auth.setup is not None else []),
        Mount("/", app=served_app),
    ]
    middleware = _middleware(settings, oauth_refusals=bool(metrics_routes) and auth.setup is not None)
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
