"""POST /v1/browser and the session endpoints under ``/_browser/{id}``.

A session is a record, not a browser: ``GET {base_url}/pages`` answers in the Chrome
DevTools ``/json`` list shape, showing ``about:blank`` until ``navigation_delay`` has
passed and then the page the session was opened on, as the documents describe.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from .context import Call
from .state import BrowserRecord
from .validation import check_int, is_http_url
from .wire import ApiError, Issue, invalid_input, issue, now, read_json

__all__ = ["create_session", "list_pages"]

PLAN_MAX_TIMEOUT = 3600  # the paid plan's maximum inactivity timeout


def _target_url(value: object, issues: list[Issue]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        issues.append(issue("invalid_type", ["url"], "Expected a URL string"))
        return None
    url = value.strip()
    if "://" not in url:
        url = "https://" + url  # bare domains are documented to get https://
    host = urlsplit(url).hostname or ""
    if not is_http_url(url) or ("." not in host and host != "localhost"):
        issues.append(issue("invalid_string", ["url"], "Invalid URL"))
        return None
    return url


async def create_session(call: Call) -> Response:
    body = await read_json(call.request)
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    issues: list[Issue] = []
    url = _target_url(body.get("url"), issues)
    timeout = body.get("timeout_seconds")
    if timeout is not None:
        check_int(timeout, ["timeout_seconds"], issues, low=5, high=86400)
    if issues:
        raise invalid_input(issues)
    session_id = f"br-{uuid.uuid4()}"
    base = f"{call.base_url}/_browser/{session_id}"
    session = BrowserRecord(
        session_id=session_id,
        owner=call.key,
        url=url,
        timeout_seconds=min(int(timeout or PLAN_MAX_TIMEOUT), PLAN_MAX_TIMEOUT),
        base_url=base,
    )
    call.store.sessions[session_id] = session
    ws_base = "ws" + call.base_url.removeprefix("http")
    return JSONResponse(
        {"session_id": session_id, "cdp_url": f"{ws_base}/_browser/{session_id}/cdp", "base_url": base},
        status_code=201,
    )


def _page(session: BrowserRecord, url: str, title: str) -> dict[str, Any]:
    host = urlsplit(session.base_url).netloc
    socket = f"{host}/_browser/{session.session_id}/devtools/page/{session.target_id}"
    return {
        "id": session.target_id,
        "type": "page",
        "title": title,
        "url": url,
        "description": "",
        "devtoolsFrontendUrl": f"{session.base_url}/devtools/inspector.html?ws={socket}",
        "webSocketDebuggerUrl": f"ws://{socket}",
    }


async def list_pages(call: Call) -> Response:
    """GET /_browser/{id}/pages (the session URL is the credential; no API key needed)."""
    session = call.store.sessions.get(call.request.path_params["session_id"])
    if session is None:
        raise ApiError(404, "NOT_FOUND", "Browser session not found")
    elapsed = (now() - session.created_at).total_seconds()
    if session.url is None or elapsed < call.config.navigation_delay:
        return JSONResponse([_page(session, "about:blank", "about:blank")])
    title = urlsplit(session.url).hostname or session.url
    return JSONResponse([_page(session, session.url, title)])
