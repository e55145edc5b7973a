"""POST /v1/browser and the session endpoints under ``/_browser/{id}``.

With Chromium installed (see ``chromium.py``) every session is a real headless browser:
``cdp_url`` is its DevTools WebSocket, ``GET {base_url}/pages`` lists its real page
targets, it ends after ``timeout_seconds`` (times ``time_scale``) in which its pages did
not change, and ``Browser.close`` on ``cdp_url`` ends it. Once ended, ``/pages`` answers
404. Without Chromium a session is a record, not a browser: ``/pages`` shows
``about:blank`` until ``navigation_delay`` has passed and then the page it was opened on.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from .chromium import Browsers, ChromiumStartError, watch
from .context import Call
from .live import frontend_url
from .state import BrowserRecord
from .validation import check_int, is_http_url
from .wire import ApiError, Issue, invalid_input, issue, now, read_json

__all__ = ["create_session", "list_pages"]

log = logging.getLogger(__name__)

PLAN_MAX_TIMEOUT = 3600  # the paid plan's maximum inactivity timeout
PROXY_FIELDS = ("enabled", "type", "country_code", "url", "username", "password")


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


def _check_proxy(value: object, issues: list[Issue]) -> None:
    """``proxy_config`` as the official SDK sends it (``BrowserProxyConfig``)."""
    if value is None:
        return
    if not isinstance(value, dict):
        issues.append(issue("invalid_type", ["proxy_config"], "Expected object"))
        return
    for name in value:
        if name not in PROXY_FIELDS:
            issues.append(issue("unrecognized_keys", ["proxy_config"], f"Unrecognized key: '{name}'"))
    if "enabled" in value and not isinstance(value["enabled"], bool):
        issues.append(issue("invalid_type", ["proxy_config", "enabled"], "Expected boolean"))
    kind = value.get("type", "tinyfish")
    if kind not in ("tinyfish", "custom"):
        issues.append(issue("invalid_enum_value", ["proxy_config", "type"], "Expected 'tinyfish' | 'custom'"))
    if kind == "custom" and value.get("enabled", True) and not is_http_url(value.get("url")):
        issues.append(issue("custom", ["proxy_config", "url"], "A custom proxy needs an http(s) url"))


def _browsers(call: Call) -> Browsers | None:
    browsers: Browsers | None = getattr(call.request.app.state, "browsers", None)
    return browsers


async def _start_browser(call: Call, browsers: Browsers, session: BrowserRecord) -> None:
    try:
        browser = await browsers.start(session.url)
    except (ChromiumStartError, OSError) as exc:
        log.warning("browser session %s: Chromium did not start: %s", session.session_id, exc)
        raise ApiError(502, "INTERNAL_ERROR", "Browser infrastructure failed to start the session") from None
    session.browser = browser

    def ended(reason: str) -> None:
        session.end(reason)
        browsers.stop(browser)

    session.watcher = watch(
        browser, idle_limit=session.timeout_seconds * call.config.time_scale, on_end=ended
    )


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
    _check_proxy(body.get("proxy_config"), issues)
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
    browsers = _browsers(call)
    if browsers is not None:
        await _start_browser(call, browsers, session)
        cdp_url = session.browser.ws_url
    else:
        cdp_url = "ws" + base.removeprefix("http") + "/cdp"
    call.store.sessions[session_id] = session
    return JSONResponse(
        {"session_id": session_id, "cdp_url": cdp_url, "base_url": base},
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
        "devtoolsFrontendUrl": frontend_url(session.base_url, session.session_id, session.target_id),
        "webSocketDebuggerUrl": f"ws://{socket}",
    }


async def list_pages(call: Call) -> Response:
    """GET /_browser/{id}/pages (the session URL is the credential; no API key needed)."""
    session = call.store.sessions.get(call.request.path_params["session_id"])
    if session is None:
        raise ApiError(404, "NOT_FOUND", "Browser session not found")
    if session.browser is not None:
        if session.ended_at is None and not session.browser.alive():
            session.end("closed")
        if session.ended_at is not None:
            raise ApiError(404, "NOT_FOUND", "Browser session has ended")
        try:
            targets = await session.browser.targets()
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
            raise ApiError(404, "NOT_FOUND", "Browser session has ended") from None
        # Each page's inspector is the sandbox's screencast page (live.py), not Chromium's own.
        base, session_id = session.base_url, session.session_id
        pages = [
            {**target, "devtoolsFrontendUrl": frontend_url(base, session_id, target["id"])}
            for target in targets
            if target.get("type") == "page" and isinstance(target.get("id"), str)
        ]
        return JSONResponse(pages)
    elapsed = (now() - session.created_at).total_seconds()
    if session.url is None or elapsed < call.config.navigation_delay:
        return JSONResponse([_page(session, "about:blank", "about:blank")])
    title = urlsplit(session.url).hostname or session.url
    return JSONResponse([_page(session, session.url, title)])
