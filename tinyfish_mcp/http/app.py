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
from typing import Any

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
from ..gctune import settle_heap
from ..runtime.context import KeyResolver, settings_key_resolver
from ..server import build_server, streaming_tools
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


def _unwrapped(app: ASGIApp) -> ASGIApp:
    return app


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
    extra_routes: list[BaseRoute] = []
    resolve_key: KeyResolver
    mcp_kwargs: dict[str, Any] = {}
    auth_setup = None
    if settings.mcp_auth == "none":
        resolve_key = settings_key_resolver(settings)
    else:
        # The database and crypto stack load only when hosting with auth. No shared http
        # client is passed: the auth layer's own one refuses proxies and redirects, which its
        # SSRF fence for client metadata documents relies on.
        from ..auth import AuthConfigurationError, build_auth

        try:
            auth_setup = await build_auth(settings, verify_key=_key_checker(client))
        except AuthConfigurationError as exc:
            if owns_client:
                await client.aclose()
            raise ConfigError(str(exc)) from None
        resolve_key = auth_setup.resolve_key
        extra_routes.extend(auth_setup.routes)
        mcp_kwargs = {
            "auth_server_provider": auth_setup.provider,
            "token_verifier": auth_setup.token_verifier,
            "auth": auth_setup.auth_settings,
        }

    # Every hosted mode keeps its records in the shared database, so that any replica lists and
    # closes a user's browser sessions and recognises a retried session_id. Where users share
    # one key (jwt), it also records the owner of everything started (runtime/ownership.py).
    from ..auth.idempotency import SqlRunKeyStore
    from ..auth.sessions_store import SqlSessionStore, owner_resolver

    store = getattr(auth_setup.provider, "store", None) if auth_setup is not None else None
    engine: Any = getattr(store, "engine", None)
    sessions = SqlSessionStore(engine, database_url=settings.mcp_database_url)
    engine = sessions.engine
    mcp_kwargs["browser_sessions"] = sessions
    mcp_kwargs["resolve_owner"] = owner_resolver(settings.mcp_auth)
    run_keys = auth_setup.run_keys if auth_setup is not None else None
    if run_keys is None:
        run_keys = SqlRunKeyStore(engine, settings.mcp_session_id_ttl)
    if settings.mcp_auth == "jwt":
        from ..auth.ownership_store import SqlOwnershipStore

        mcp_kwargs["owners"] = SqlOwnershipStore(engine)

    metrics_routes: list[BaseRoute] = []
    if settings.mcp_metrics_token is not None:
        # prometheus-client loads only when metrics are asked for.
        from .metrics import CallMetrics, metrics_endpoint, start_observing

        start_observing()
        mcp_kwargs["call_metrics"] = CallMetrics
        token = settings.mcp_metrics_token.get_secret_value()
        metrics_routes.append(Route("/metrics", metrics_endpoint(token), methods=["GET"]))
    mcp = build_server(settings, client=client, resolve_key=resolve_key, run_keys=run_keys, **mcp_kwargs)
    wrap = auth_setup.wrap_mcp_app if auth_setup is not None else _unwrapped

    def mcp_http_app(json_response: bool) -> tuple[ASGIApp, StreamableHTTPSessionManager]:
        app = mcp.streamable_http_app(
            streamable_http_path="/mcp",
            json_response=json_response,
            stateless_http=settings.mcp_stateless,
            max_request_body_size=settings.mcp_max_body_bytes,
            transport_security=transport_security(settings),
            host=settings.mcp_host,
        )
        screen_endpoint(app, "/mcp", stateless=settings.mcp_stateless)
        return wrap(app), mcp.session_manager

    served_app, manager = mcp_http_app(json_response=False)
    managers = [manager]
    if settings.mcp_stateless:
        # Calls that stream nothing are answered as plain JSON (see routing.py).
        json_app, json_manager = mcp_http_app(json_response=True)
        managers.append(json_manager)
        served_app = ResponseModeRouter(served_app, json_app, streaming_tools(mcp), "/mcp")

    drain = Drain(settings.mcp_shutdown_grace_seconds)
    store_engine = engine

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if handle_signals:
            drain.watch_signals()
        if auth_setup is not None:
            await auth_setup.startup()
        await sessions.create_table()
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
            if auth_setup is not None:
                await auth_setup.shutdown()
            await sessions.dispose()
            if owns_client:
                await client.aclose()

    routes: list[BaseRoute] = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz(drain, store_engine), methods=["GET"]),
        *metrics_routes,
        *extra_routes,
        Mount("/", app=served_app),
    ]
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
    if metrics_routes and auth_setup is not None:
        from .metrics import OAuthRefusals

        middleware.append(Middleware(OAuthRefusals))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
