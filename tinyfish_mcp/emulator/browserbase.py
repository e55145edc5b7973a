"""Browserbase's API, played by the emulator under ``/browserbase`` (point a client's base URL there).

Its own key header (``X-BB-API-Key``), its own error body (``{"statusCode", "error",
"message"}``), sessions and contexts (``bb_sessions.py``), ``/v1/fetch`` (the raw
document: the emulator's fixtures on its own host, a synthetic page for any other
public URL, as the TinyFish fetch does) and ``/v1/search`` (the emulator's search
corpus, ``numResults`` 1-25).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .bb_sessions import DEFAULT_TIMEOUT, REGIONS, STATUSES, BBSession, BBState, downloads_zip
from .chromium import Browsers, ChromiumStartError
from .config import EmulatorConfig
from .context import Call
from .fetch import _is_private, _own_fixture, _synthetic
from .fixtures import Fixture, fixture
from .request_ids import log_request
from .search import _published, rank
from .state import Store
from .wire import iso, now

__all__ = ["browserbase_routes", "close_browserbase"]

PREFIX = "/browserbase"
Handler = Callable[[Call, BBState], Awaitable[Response]]


class BBError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def bb_error(status: int, message: str, **extra: Any) -> JSONResponse:
    body = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message, **extra}
    return JSONResponse(body, status_code=status)


def state_of(request: Request) -> BBState:
    state: BBState | None = getattr(request.app.state, "browserbase", None)
    if state is None:
        state = request.app.state.browserbase = BBState()
    return state


def _browsers(call: Call) -> Browsers | None:
    browsers: Browsers | None = getattr(call.request.app.state, "browsers", None)
    return browsers


def bb_api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Log the request (key suffix only), apply a scripted fault, check X-BB-API-Key, render errors."""

    async def endpoint(request: Request) -> Response:
        store: Store = request.app.state.store
        config: EmulatorConfig = request.app.state.config
        key = request.headers.get("x-bb-api-key", "").strip() or None
        log_request(store, request, await request.body(), key)
        fault = store.faults.take(request.method, request.url.path)
        if fault is not None and fault.status is not None:
            return bb_error(fault.status, HTTPStatus(fault.status).phrase)
        if key is None or key not in config.browserbase_api_keys:
            return bb_error(401, "Invalid or missing X-BB-API-Key header")
        try:
            return await handler(Call(request, key, store, config, fault), state_of(request))
        except BBError as error:
            return bb_error(error.status, error.message, **error.extra)

    return endpoint


async def _body(call: Call) -> dict[str, Any]:
    raw = await call.request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BBError(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BBError(400, "Request body must be a JSON object")
    return body


def _session(state: BBState, call: Call) -> BBSession:
    session = state.sessions.get(call.request.path_params["id"])
    if session is None:
        raise BBError(404, "Session not found")
    return session


# ------------------------------------------------------------------------------------ sessions


def _create_options(body: dict[str, Any], call: Call, state: BBState) -> dict[str, Any]:
    settings = body.get("browserSettings") or {}
    if not isinstance(settings, dict):
        raise BBError(400, "browserSettings must be an object")
    timeout = body.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 60 <= timeout <= 21600:
        raise BBError(400, "timeout must be an integer from 60 to 21600")
    region = body.get("region", "us-west-2")
    if region not in REGIONS:
        raise BBError(400, f"region must be one of {', '.join(REGIONS)}")
    proxies = body.get("proxies")
    if proxies is not None and not isinstance(proxies, bool | list):
        raise BBError(400, "proxies must be a boolean or an array of proxy configurations")
    for proxy in proxies if isinstance(proxies, list) else []:
        if not isinstance(proxy, dict) or proxy.get("type") not in ("browserbase", "external", "none"):
            raise BBError(400, "each proxy needs a type: browserbase, external or none")
        if proxy["type"] == "external" and not proxy.get("server"):
            raise BBError(400, "an external proxy needs a server")
    context = settings.get("context")
    context_id, persist = None, False
    if context is not None:
        if not isinstance(context, dict) or not isinstance(context.get("id"), str):
            raise BBError(400, "browserSettings.context needs an id")
        context_id, persist = context["id"], bool(context.get("persist", False))
        if context_id not in state.contexts:
            raise BBError(404, f"Context {context_id} not found")
        if persist and state.in_use(context_id):
            raise BBError(409, f"Context {context_id} is in use by a running session that persists it")
    viewport = settings.get("viewport")
    if viewport is not None and not (
        isinstance(viewport, dict) and all(isinstance(viewport.get(k, 1), int) for k in ("width", "height"))
    ):
        raise BBError(400, "browserSettings.viewport needs integer width and height")
    metadata = body.get("userMetadata")
    return {
        "timeout": timeout,
        "region": region,
        "keep_alive": bool(body.get("keepAlive", False)),
        "context_id": context_id,
        "persist": persist,
        "user_metadata": metadata if isinstance(metadata, dict) else None,
    }


async def create_session(call: Call, state: BBState) -> Response:
    options = _create_options(await _body(call), call, state)
    session_id = str(uuid.uuid4())
    stand_in = "ws" + call.base_url.removeprefix("http") + f"{PREFIX}/_cdp/{session_id}"
    session = BBSession(
        id=session_id, project_id=call.config.browserbase_project_id, connect_url=stand_in, **options
    )
    try:
        await state.start(session, _browsers(call), call.config.time_scale)
    except (ChromiumStartError, OSError):
        raise BBError(500, "The browser failed to start") from None
    state.sessions[session_id] = session
    body = session.wire() | {
        "connectUrl": session.connect_url,
        "seleniumRemoteUrl": f"{call.base_url}{PREFIX}/_selenium/{session_id}",
        "signingKey": uuid.uuid4().hex,
    }
    return JSONResponse(body, status_code=201)


async def list_sessions(call: Call, state: BBState) -> Response:
    status = call.request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise BBError(400, f"status must be one of {', '.join(STATUSES)}")
    rows = sorted(state.sessions.values(), key=lambda s: s.created_at, reverse=True)
    return JSONResponse([s.wire() for s in rows if status is None or s.status == status])


async def get_session(call: Call, state: BBState) -> Response:
    session = _session(state, call)
    return JSONResponse(session.wire() | {"connectUrl": session.connect_url})


async def update_session(call: Call, state: BBState) -> Response:
    session = _session(state, call)
    body = await _body(call)
    if body.get("status") != "REQUEST_RELEASE":
        raise BBError(400, "status must be REQUEST_RELEASE")
    await state.end(session, _browsers(call), "COMPLETED")
    return JSONResponse(session.wire())


async def debug_urls(call: Call, state: BBState) -> Response:
    session = _session(state, call)
    if session.ended_at is not None:
        raise BBError(400, "Session has ended: it has no live URLs")
    live = f"{call.base_url}{PREFIX}/_live/{session.id}"
    pages: list[dict[str, Any]] = []
    if session.browser is not None:
        try:
            targets = await session.browser.targets()
        except (TimeoutError, OSError, ValueError):
            targets = []
        for target in (t for t in targets if t.get("type") == "page"):
            page_live = f"{live}?page={target.get('id', '')}"
            pages.append(
                {
                    "id": target.get("id", ""),
                    "url": target.get("url", ""),
                    "title": target.get("title", ""),
                    "faviconUrl": "",
                    "debuggerUrl": page_live,
                    "debuggerFullscreenUrl": page_live + "&fullscreen=1",
                }
            )
    body = {
        "debuggerUrl": live,
        "debuggerFullscreenUrl": live + "?fullscreen=1",
        "wsUrl": session.connect_url,
    }
    return JSONResponse(body | {"pages": pages})


async def session_logs(call: Call, state: BBState) -> Response:
    return JSONResponse(_session(state, call).logs)


async def session_recording(call: Call, state: BBState) -> Response:
    return JSONResponse(_session(state, call).recording)


async def session_downloads(call: Call, state: BBState) -> Response:
    return Response(downloads_zip(_session(state, call)), media_type="application/zip")


async def live_view(request: Request) -> Response:
    session_id = request.path_params["id"]
    return HTMLResponse(f"<!DOCTYPE html><title>Live view</title><p>Live view of session {session_id}</p>")


# ------------------------------------------------------------------------------------ contexts


def _upload_target(call: Call, context_id: str) -> dict[str, Any]:
    """Where and how a context's user-data archive is uploaded (create and update answer it)."""
    return {
        "id": context_id,
        "uploadUrl": f"{call.base_url}{PREFIX}/_upload/{context_id}",
        "publicKey": "emulator-public-key",
        "cipherAlgorithm": "AES-256-CBC",
        "initializationVectorSize": 16,
    }


async def create_context(call: Call, state: BBState) -> Response:
    await _body(call)
    context = state.new_context(call.config.browserbase_project_id)
    return JSONResponse(_upload_target(call, context.id), status_code=201)


def _context(call: Call, state: BBState) -> str:
    context_id = str(call.request.path_params["id"])
    if context_id not in state.contexts:
        raise BBError(404, "Context not found")
    return context_id


async def get_context(call: Call, state: BBState) -> Response:
    return JSONResponse(state.contexts[_context(call, state)].wire())


async def update_context(call: Call, state: BBState) -> Response:
    context = state.contexts[_context(call, state)]
    context.updated_at = now()
    return JSONResponse(_upload_target(call, context.id))


async def delete_context(call: Call, state: BBState) -> Response:
    context_id = _context(call, state)
    if state.in_use(context_id):
        raise BBError(409, "Context is in use by a running session")
    state.delete_context(context_id)
    return Response(status_code=204)


async def projects(call: Call, state: BBState) -> Response:
    moment = iso(now())
    project = {
        "id": call.config.browserbase_project_id,
        "name": "Emulator",
        "ownerId": "emulator",
        "defaultTimeout": DEFAULT_TIMEOUT,
        "concurrency": 25,
        "createdAt": moment,
        "updatedAt": moment,
    }
    return JSONResponse([project])


# ------------------------------------------------------------------------------------ fetch, search


async def fetch(call: Call, state: BBState) -> Response:
    body = await _body(call)
    url = body.get("url")
    fetch_id = str(uuid.uuid4())
    if not isinstance(url, str):
        raise BBError(400, "url must be an absolute http(s) URL", id=fetch_id)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BBError(400, "url must be an absolute http(s) URL", id=fetch_id)
    name = _own_fixture(call, url)
    doc: Fixture
    if name is not None:
        if name == "redirect" and not body.get("allowRedirects", False):
            headers = {"location": "/_fixtures/article.html"}
            return JSONResponse(_fetched(fetch_id, Fixture(302, "text/html", b"", name), headers))
        doc = call.store.pages.get(name) or fixture(name)
        if doc.slow:
            raise BBError(504, "The fetch request timed out", id=fetch_id)
    elif _is_private(parts.hostname):
        raise BBError(400, "The URL resolves to a private address", id=fetch_id)
    else:
        doc = _synthetic(url)
    return JSONResponse(_fetched(fetch_id, doc, {"content-type": doc.content_type}))


def _fetched(fetch_id: str, doc: Fixture, headers: dict[str, str]) -> dict[str, Any]:
    textual = doc.content_type.startswith("text/") or "json" in doc.content_type
    return {
        "id": fetch_id,
        "statusCode": doc.status,
        "headers": headers,
        "content": doc.body.decode("utf-8", "replace") if textual else base64.b64encode(doc.body).decode(),
        "contentType": doc.content_type,
        "encoding": "utf-8" if textual else "base64",
    }


async def search(call: Call, state: BBState) -> Response:
    body = await _body(call)
    query = body.get("query")
    if not isinstance(query, str) or not 1 <= len(query) <= 200:
        raise BBError(400, "query must be a string of 1 to 200 characters")
    count = body.get("numResults", 10)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 25:
        raise BBError(400, "numResults must be an integer from 1 to 25")
    moment = now()
    results = []
    for entry in rank(call, query, "en")[:count]:
        published = _published(entry, moment)
        authors = entry.get("authors") or []
        row = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, entry["url"])),
            "url": entry["url"],
            "title": entry["title"],
            "author": authors[0] if authors else entry.get("publisher"),
            "publishedDate": iso(published),
            "image": entry.get("thumbnail"),
            "favicon": f"https://{urlsplit(entry['url']).hostname}/favicon.ico",
        }
        results.append({k: v for k, v in row.items() if v is not None})
    return JSONResponse({"requestId": str(uuid.uuid4()), "query": query, "results": results})


def browserbase_routes() -> list[BaseRoute]:
    v1 = PREFIX + "/v1"
    return [
        Route(f"{v1}/sessions", bb_api(create_session), methods=["POST"]),
        Route(f"{v1}/sessions", bb_api(list_sessions), methods=["GET"]),
        Route(f"{v1}/sessions/{{id}}", bb_api(get_session), methods=["GET"]),
        Route(f"{v1}/sessions/{{id}}", bb_api(update_session), methods=["POST"]),
        Route(f"{v1}/sessions/{{id}}/debug", bb_api(debug_urls), methods=["GET"]),
        Route(f"{v1}/sessions/{{id}}/logs", bb_api(session_logs), methods=["GET"]),
        Route(f"{v1}/sessions/{{id}}/recording", bb_api(session_recording), methods=["GET"]),
        Route(f"{v1}/sessions/{{id}}/downloads", bb_api(session_downloads), methods=["GET"]),
        Route(f"{v1}/contexts", bb_api(create_context), methods=["POST"]),
        Route(f"{v1}/contexts/{{id}}", bb_api(get_context), methods=["GET"]),
        Route(f"{v1}/contexts/{{id}}", bb_api(update_context), methods=["PUT"]),
        Route(f"{v1}/contexts/{{id}}", bb_api(delete_context), methods=["DELETE"]),
        Route(f"{v1}/projects", bb_api(projects), methods=["GET"]),
        Route(f"{v1}/fetch", bb_api(fetch), methods=["POST"]),
        Route(f"{v1}/search", bb_api(search), methods=["POST"]),
        Route(f"{PREFIX}/_live/{{id}}", live_view, methods=["GET"]),
    ]


def close_browserbase(app: Any) -> None:
    """Stop every Browserbase session's browser and remove every context (the emulator's shutdown)."""
    state: BBState | None = getattr(app.state, "browserbase", None)
    if state is not None:
        state.close_all()
