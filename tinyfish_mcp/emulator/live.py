"""Live views the sandbox can show: a run's ``streaming_url`` and a browser's inspector.

* ``GET /_live/{run_id}/stream/0`` (a run's ``streaming_url``) is a page that lists the
  run's steps as they happen, read from ``/_live/{run_id}/stream/events`` (the run's event
  log as server-sent events, the same reader as ``/run-sse``).
* ``GET /_browser/{id}/devtools/inspector.html?ws=...`` (the ``devtoolsFrontendUrl`` of a
  session's pages) is a page that shows the page's screen: with Chromium behind the
  session, ``/_browser/{id}/devtools/screencast/{target}`` relays CDP
  ``Page.startScreencast`` frames as server-sent events; a stand-in session has no screen
  and the page says so.

TinyFish's own live views are its product; these are the sandbox's stand-ins, so the
live-view app has something real to frame. No key is needed: as with TinyFish's, the
URL is the credential. The pages are small and load nothing from elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from .sse import event_stream
from .state import Store

__all__ = ["frontend_url", "live_routes"]

log = logging.getLogger(__name__)

SCREENCAST = {"format": "jpeg", "quality": 60, "maxWidth": 1024, "maxHeight": 768, "everyNthFrame": 1}
FRAME_WAIT = 30.0  # seconds without a frame before the relay says it is still there

_STYLE = (
    "body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#111;color:#eee}"
    "header{padding:6px 10px;background:#222;display:flex;gap:8px}"
    "ol{margin:8px 0;padding-left:28px}li.new{color:#8ab4f8}#screen{display:block;max-width:100%}"
    "#now{padding:24px 12px;font-size:18px;min-height:2em}"
)

_RUN_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Live view of run {run_id}</title>
<style>{style}</style></head><body>
<header><strong>Sandbox live view</strong><span>run {run_id}</span><span id="status">PENDING</span></header>
<div id="now">Waiting for the agent...</div><ol id="steps"></ol>
<script>
"use strict";
const source = new EventSource("events");
source.onmessage = (message) => {{
  const event = JSON.parse(message.data);
  if (event.type === "PROGRESS") {{
    document.getElementById("status").textContent = "RUNNING";
    document.getElementById("now").textContent = event.purpose;
    const item = document.createElement("li");
    item.textContent = event.purpose;
    document.getElementById("steps").append(item);
  }} else if (event.type === "COMPLETE") {{
    document.getElementById("status").textContent = event.status;
    document.getElementById("now").textContent = "Run " + event.status.toLowerCase() + ".";
    source.close();
  }}
}};
</script></body></html>"""

_INSPECTOR_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Browser session {session}</title>
<style>{style}</style></head><body>
<header><strong>Sandbox inspector</strong><span>session {session}</span><span id="url"></span></header>
<img id="screen" alt="The browser's screen">
<div id="now">{note}</div>
<script>
"use strict";
const socket = new URLSearchParams(location.search).get("ws") || "";
const target = socket.split("/").pop();
if ({real} && target) {{
  const source = new EventSource("screencast/" + encodeURIComponent(target));
  source.onmessage = (message) => {{
    const frame = JSON.parse(message.data);
    if (frame.data) {{
      document.getElementById("screen").src = "data:image/jpeg;base64," + frame.data;
      document.getElementById("now").textContent = "";
    }}
    if (frame.url) document.getElementById("url").textContent = frame.url;
    if (frame.ended) {{
      document.getElementById("now").textContent = "The browser has closed.";
      source.close();
    }}
  }};
}}
</script></body></html>"""


def frontend_url(base_url: str, session_id: str, target_id: str) -> str:
    """A session page's ``devtoolsFrontendUrl``: this module's inspector page."""
    host = base_url.split("://", 1)[-1].split("/", 1)[0]
    socket = f"{host}/_browser/{session_id}/devtools/page/{target_id}"
    return f"{base_url}/devtools/inspector.html?ws={socket}"


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _sse(lines: AsyncIterator[str]) -> StreamingResponse:
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(lines, media_type="text/event-stream", headers=headers)


async def run_page(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    if run_id not in _store(request).runs:
        return HTMLResponse("<!DOCTYPE html><title>Live view</title><p>No such run.</p>", status_code=404)
    return HTMLResponse(_RUN_PAGE.format(run_id=escape(run_id), style=_STYLE))


async def run_events(request: Request) -> Response:
    run = _store(request).runs.get(request.path_params["run_id"])
    if run is None:
        return Response(status_code=404)
    return _sse(event_stream(run, request.app.state.config.heartbeat_interval, None))


async def inspector_page(request: Request) -> Response:
    session = _store(request).sessions.get(request.path_params["session_id"])
    if session is None:
        return HTMLResponse("<!DOCTYPE html><title>Inspector</title><p>No such session.</p>", status_code=404)
    real = session.browser is not None
    note = "Connecting to the browser..." if real else "No real browser behind this session (no Chromium)."
    page = _INSPECTOR_PAGE.format(
        session=escape(session.session_id), style=_STYLE, note=note, real="true" if real else "false"
    )
    return HTMLResponse(page)


async def screencast(request: Request) -> Response:
    """The screen of one page target of a real browser, as CDP screencast frames (SSE)."""
    session = _store(request).sessions.get(request.path_params["session_id"])
    if session is None or session.browser is None or session.ended_at is not None:
        return Response(status_code=404)
    target = request.path_params["target_id"]
    if not target.isalnum():
        return Response(status_code=404)
    socket = f"ws://127.0.0.1:{session.browser.port}/devtools/page/{target}"
    return _sse(_frames(socket))


async def _frames(socket: str) -> AsyncIterator[str]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    try:
        async with connect(socket, max_size=16 * 1024 * 1024, open_timeout=5) as cdp:
            await cdp.send(json.dumps({"id": 1, "method": "Page.enable"}))
            await cdp.send(json.dumps({"id": 2, "method": "Page.startScreencast", "params": SCREENCAST}))
            while True:
                try:
                    raw = await asyncio.wait_for(cdp.recv(), FRAME_WAIT)
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                message: dict[str, Any] = json.loads(raw)
                method = message.get("method")
                params = message.get("params") or {}
                if method == "Page.screencastFrame":
                    ack = {"sessionId": params["sessionId"]}
                    await cdp.send(json.dumps({"id": 3, "method": "Page.screencastFrameAck", "params": ack}))
                    yield f"data: {json.dumps({'data': params['data']})}\n\n"
                elif method == "Page.frameNavigated" and not (params.get("frame") or {}).get("parentId"):
                    yield f"data: {json.dumps({'url': params['frame'].get('url')})}\n\n"
    except (OSError, WebSocketException, TimeoutError) as exc:
        log.debug("screencast of %s ended: %s", socket, exc)
    with contextlib.suppress(Exception):
        yield f"data: {json.dumps({'ended': True})}\n\n"


def live_routes() -> list[BaseRoute]:
    return [
        Route("/_live/{run_id}/stream/0", run_page, methods=["GET"]),
        Route("/_live/{run_id}/stream/events", run_events, methods=["GET"]),
        Route("/_browser/{session_id}/devtools/inspector.html", inspector_page, methods=["GET"]),
        Route("/_browser/{session_id}/devtools/screencast/{target_id}", screencast, methods=["GET"]),
    ]
