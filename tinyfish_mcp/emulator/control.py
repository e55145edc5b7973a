"""The control API under ``/_emulator``: tests script the emulator and inspect it.

No API key is needed here; nothing here is part of the TinyFish API.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .browserbase import close_browserbase
from .faults import parse_fault
from .fixtures import Fixture
from .state import Store, key_suffix
from .wire import error_response, iso, read_json

__all__ = ["control_routes"]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def reset(request: Request) -> Response:
    """Forget runs, sessions, faults, rate-limit counters and the request log."""
    _store(request).reset()
    close_browserbase(request.app)  # Browserbase's sessions and contexts too
    request.app.state.browserbase = None
    return JSONResponse({"ok": True})


async def add_fault(request: Request) -> Response:
    fault, issues = parse_fault(await read_json(request))
    if fault is None:
        return error_response(400, "INVALID_INPUT", "Invalid fault", issues)
    _store(request).faults.add(fault)
    return JSONResponse({"ok": True, "fault": fault.to_wire()})


async def list_faults(request: Request) -> Response:
    return JSONResponse(_store(request).faults.pending())


async def clear_faults(request: Request) -> Response:
    _store(request).faults.clear()
    return JSONResponse({"ok": True})


async def requests_log(request: Request) -> Response:
    return JSONResponse(_store(request).requests)


async def streams(request: Request) -> Response:
    """``/run-sse`` streams open now and the most open at once since the last reset."""
    store = _store(request)
    return JSONResponse({"open": store.streams_open, "max_open": store.streams_open_max})


async def run_detail(request: Request) -> Response:
    run = _store(request).runs.get(request.path_params["run_id"])
    if run is None:
        return error_response(404, "NOT_FOUND", "Run not found")
    return JSONResponse(
        {
            **run.to_wire(),
            "cancel_requested": run.cancel_requested,
            "cancelled_at": iso(run.cancelled_at),
            "owner_key_suffix": key_suffix(run.owner),
            "origin": run.origin,
            "api_integration": run.body.get("api_integration"),
            "scenario": run.scenario.kind,
        }
    )


async def browser_detail(request: Request) -> Response:
    """A browser session as the emulator sees it: its Chromium pid (if real) and how it ended."""
    session = _store(request).sessions.get(request.path_params["session_id"])
    if session is None:
        return error_response(404, "NOT_FOUND", "Browser session not found")
    browser = session.browser
    if browser is not None and session.ended_at is None and not browser.alive():
        session.end("closed")  # exited by itself (Browser.close); its watcher reaps it shortly
    return JSONResponse(
        {
            "session_id": session.session_id,
            "real": browser is not None,
            "pid": None if browser is None else browser.pid,
            "alive": browser is not None and browser.alive(),
            "ended_at": iso(session.ended_at),
            "end_reason": session.end_reason,
            "owner_key_suffix": key_suffix(session.owner),
        }
    )


async def put_page(request: Request) -> Response:
    """Replace (or add) the fixture page ``/_fixtures/{name}``: ``{"body", "content_type"?}``."""
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        return error_response(400, "INVALID_INPUT", 'Send {"body": "...", "content_type"?: "..."}')
    name = request.path_params["name"]
    content_type = str(body.get("content_type") or "text/html; charset=utf-8")
    _store(request).pages[name] = Fixture(200, content_type, body["body"].encode(), name)
    return JSONResponse({"ok": True, "name": name})


async def add_search_entry(request: Request) -> Response:
    """Add a search result: ``{"title", "url", "snippet", "lang"?, "date"?}``, ranked first on ties."""
    body = await read_json(request)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("title", "url", "snippet")
    ):
        return error_response(400, "INVALID_INPUT", "Send {title, url, snippet} as strings")
    entry = {"lang": "en", **{k: body[k] for k in ("title", "url", "snippet", "lang", "date") if k in body}}
    _store(request).search_extra.append(entry)
    return JSONResponse({"ok": True})


def control_routes() -> list[Route]:
    return [
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/faults", add_fault, methods=["POST"]),
        Route("/_emulator/faults", list_faults, methods=["GET"]),
        Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
        Route("/_emulator/requests", requests_log, methods=["GET"]),
        Route("/_emulator/streams", streams, methods=["GET"]),
        Route("/_emulator/runs/{run_id}", run_detail, methods=["GET"]),
        Route("/_emulator/browser/{session_id}", browser_detail, methods=["GET"]),
        Route("/_emulator/pages/{name}", put_page, methods=["PUT"]),
        Route("/_emulator/search-corpus", add_search_entry, methods=["POST"]),
    ]
