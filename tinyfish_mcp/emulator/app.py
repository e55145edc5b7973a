"""``create_app``: the Starlette application that plays the TinyFish API.

Every API route goes through :func:`api`, which, in this order, records the request
(with only the last four characters of the key), applies a scripted fault, checks the
``X-API-Key`` header and credit, and turns :class:`ApiError` into the documented body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import browser, datasets, fetch, monitors, profiles, research, runs, search, usage, vault, wallet
from .browserbase import browserbase_routes, close_browserbase
from .chromium import Browsers, find_chromium
from .config import EmulatorConfig
from .context import Call
from .control import control_routes
from .faults import Fault
from .fixtures import fixture_routes
from .live import live_routes
from .request_ids import RequestIds, log_request
from .state import Store
from .wire import ApiError, error_response

__all__ = ["api", "close_browsers", "create_app"]

log = logging.getLogger(__name__)

Handler = Callable[[Call], Awaitable[Response]]
NO_CREDIT_MESSAGE = "Insufficient credits or no active subscription"


async def _hang(request: Request) -> None:
    """Never answer: wait until the client goes away (the server's shutdown ends it too)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def api(
    handler: Handler, *, billed: bool = False, credit_status: int = 403, auth: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with logging, faults, authentication and error rendering.

    ``billed`` endpoints refuse keys without credit: 403 FORBIDDEN as the error page
    documents, or 402 INSUFFICIENT_CREDITS where a product's page says so (browser,
    search). ``auth=False`` is for session URLs, which are their own credential.
    """

    async def endpoint(request: Request) -> Response:
        store: Store = request.app.state.store
        config: EmulatorConfig = request.app.state.config
        key = request.headers.get("x-api-key", "").strip() or None
        raw = await request.body()
        log_request(store, request, raw, key)
        fault: Fault | None = store.faults.take(request.method, request.url.path)
        if fault is not None and not fault.after:
            faulty = await _misbehave(request, fault)
            if faulty is not None:
                return faulty
        if auth:
            if key is None:
                return error_response(401, "MISSING_API_KEY", "X-API-Key header is required")
            if not config.is_known_key(key):
                return error_response(401, "INVALID_API_KEY", "The provided API key is invalid")
            if billed and not config.has_credit(key):
                code = "INSUFFICIENT_CREDITS" if credit_status == 402 else "FORBIDDEN"
                return error_response(credit_status, code, NO_CREDIT_MESSAGE)
        try:
            response = await handler(Call(request, key or "", store, config, fault))
        except ApiError as error:
            return error_response(error.status, error.code, error.message, error.details)
        if fault is not None and fault.after:
            # Processed (a run or session exists now); the answer is what goes wrong.
            faulty = await _misbehave(request, fault)
            if faulty is not None:
                return faulty
        return response

    return endpoint


class DroppedConnection(Exception):
    """Raised on purpose after the headers went out: the server then cuts the connection."""


def _not_a_dropped_connection(record: logging.LogRecord) -> bool:
    """A log filter: the server's report of a connection we dropped on purpose is not news."""
    exc = record.exc_info[1] if record.exc_info else None
    while exc is not None:
        if isinstance(exc, DroppedConnection):
            return False
        inner = getattr(exc, "exceptions", None)
        if inner and isinstance(inner[0], BaseException):
            exc = inner[0]
            continue
        exc = exc.__cause__ or exc.__context__
    return True


logging.getLogger("uvicorn.error").addFilter(_not_a_dropped_connection)


class _Dropped(Response):
    """Starts an answer that promises a body, then breaks the connection (a mid-answer crash)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
        raise DroppedConnection("fault: connection dropped on purpose")


async def _misbehave(request: Request, fault: Fault) -> Response | None:
    """Apply a fault's delay, hang, drop or status; None lets the request through."""
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.hang:
        await _hang(request)
        return Response(status_code=499)
    if fault.drop:
        return _Dropped()
    if fault.status is not None:
        answer = error_response(fault.status)
        answer.headers.update(fault.headers())
        return answer
    return None


def _api_routes() -> list[BaseRoute]:
    return [
        Route("/v1/automation/run", api(runs.run_sync, billed=True), methods=["POST"]),
        Route("/v1/automation/run-async", api(runs.run_async, billed=True), methods=["POST"]),
        Route("/v1/automation/run-sse", api(runs.run_sse, billed=True), methods=["POST"]),
        Route("/v1/automation/run-batch", api(runs.run_batch, billed=True), methods=["POST"]),
        Route("/v1/runs", api(runs.list_runs), methods=["GET"]),
        Route("/v1/runs/batch", api(runs.get_runs_batch), methods=["POST"]),
        Route("/v1/runs/batch/cancel", api(runs.cancel_batch), methods=["POST"]),
        Route("/v1/runs/{run_id}", api(runs.get_run), methods=["GET"]),
        Route("/v1/runs/{run_id}/cancel", api(runs.cancel), methods=["POST"]),
        Route("/v1/fetch", api(fetch.fetch, billed=True), methods=["POST"]),
        Route("/v1/search", api(search.search, billed=True, credit_status=402), methods=["GET"]),
        Route("/v1/search/usage", api(usage.search_usage), methods=["GET"]),
        Route("/v1/browser", api(browser.create_session, billed=True, credit_status=402), methods=["POST"]),
        Route("/v1/browser/usage", api(usage.browser_usage), methods=["GET"]),
        Route("/v1/fetch/usage", api(usage.fetch_usage), methods=["GET"]),
        Route("/_browser/{session_id}/pages", api(browser.list_pages, auth=False), methods=["GET"]),
        Route("/v1/vault/connections", api(vault.list_connections), methods=["GET"]),
        Route("/v1/vault/connections", api(vault.connect), methods=["POST"]),
        Route("/v1/vault/connections/{connection_id}", api(vault.disconnect), methods=["DELETE"]),
        Route("/v1/vault/items", api(vault.list_items), methods=["GET"]),
        Route("/v1/vault/items/sync", api(vault.sync_items), methods=["POST"]),
        Route("/v1/vault/items/{item_id:path}/enable", api(vault.set_item_enabled), methods=["PATCH"]),
        Route("/v1/vault/items/{item_id:path}/disable", api(vault.set_item_enabled), methods=["PATCH"]),
        *live_routes(),
        *_product_routes(),
    ]


def _product_routes() -> list[BaseRoute]:
    """Wallet, monitors, research, profiles and datasets."""
    return [
        Route("/v1/wallet", api(wallet.get_wallet), methods=["GET"]),
        Route("/v1/monitors", api(monitors.create, billed=True, credit_status=402), methods=["POST"]),
        Route("/v1/monitors", api(monitors.list_monitors), methods=["GET"]),
        Route("/v1/monitors/{monitor_id}", api(monitors.get), methods=["GET"]),
        Route("/v1/monitors/{monitor_id}", api(monitors.update), methods=["PATCH"]),
        Route("/v1/monitors/{monitor_id}", api(monitors.cancel), methods=["DELETE"]),
        Route("/v1/profiles", api(profiles.create_profile), methods=["POST"]),
        Route("/v1/profiles", api(profiles.list_profiles), methods=["GET"]),
        Route(
            "/v1/profiles/{profile_id}/setup-session",
            api(profiles.start_setup, billed=True, credit_status=402),
            methods=["POST"],
        ),
        Route("/v1/profiles/{profile_id}/setup-session/cancel", api(profiles.cancel_setup), methods=["POST"]),
        Route("/v1/profiles/{profile_id}/save", api(profiles.save), methods=["POST"]),
        Route("/v1/datasets/plan", api(datasets.plan), methods=["POST"]),
        Route("/v1/datasets", api(datasets.create, billed=True), methods=["POST"]),
        Route("/v1/datasets", api(datasets.list_datasets), methods=["GET"]),
        Route("/v1/datasets/{dataset_id}", api(datasets.get), methods=["GET"]),
        Route("/v1/datasets/{dataset_id}", api(datasets.delete), methods=["DELETE"]),
        Route("/v1/datasets/{dataset_id}/rows", api(datasets.rows), methods=["GET"]),
        Route("/v1/datasets/{dataset_id}/populate", api(datasets.populate, billed=True), methods=["POST"]),
        Route("/v1/datasets/{dataset_id}/runs/{run_id}/cancel", api(datasets.cancel_run), methods=["POST"]),
        Route("/v1/datasets/{dataset_id}/runs/{run_id}/events", api(datasets.events), methods=["GET"]),
        Route("/v1/automation/run-research", api(research.run_stream, billed=True), methods=["POST"]),
        Route("/v1/automation/run-research-async", api(research.run_async, billed=True), methods=["POST"]),
        Route("/v1/research-run", api(research.list_runs), methods=["GET"]),
        Route("/v1/research-run/{run_id}", api(research.get), methods=["GET"]),
        Route("/v1/research-run/{run_id}/events", api(research.events), methods=["GET"]),
        Route("/v1/research-run/{run_id}/cancel", api(research.cancel), methods=["POST"]),
        Route(
            "/v1/monitors/{monitor_id}/runs",
            api(monitors.run_now, billed=True, credit_status=402),
            methods=["POST"],
        ),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(404, "NOT_FOUND", f"No route for {request.method} {request.url.path}")
    if status == 405:
        return error_response(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
    return error_response(status)


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "INTERNAL_ERROR", "An unexpected error occurred")


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A fresh emulator with its own empty store."""
    config = config or EmulatorConfig()
    app = Starlette(
        routes=[*_api_routes(), *browserbase_routes(), *control_routes(), *fixture_routes()],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        middleware=[Middleware(RequestIds)],
    )
    app.state.config = config
    app.state.store = Store()
    app.state.browsers = None
    if config.real_browsers:
        executable = find_chromium()
        if executable is None:
            log.warning(
                "no Chromium found: browser sessions are stand-ins (no real browser behind cdp_url); "
                "install Debian's chromium-headless-shell (or chromium) for real ones"
            )
        else:
            app.state.browsers = Browsers(executable)
            log.info("browser sessions are real headless browsers (%s)", executable)
    return app


def close_browsers(app: Starlette) -> None:
    """Kill every browser the emulator started (its shutdown; also done at interpreter exit)."""
    close_browserbase(app)
    browsers: Browsers | None = getattr(app.state, "browsers", None)
    if browsers is not None:
        browsers.close_all()
