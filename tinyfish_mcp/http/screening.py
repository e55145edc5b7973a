"""Every malformed message to ``/mcp`` gets one bounded JSON-RPC answer (``jsonrpc_screen.py``).

:class:`ScreenedRequests`, placed by :func:`screen_endpoint` just behind the SDK's bearer
check, reads each POST's body (already bounded by ``BodyLimitMiddleware``)
and answers a message the screen refuses with HTTP 400 and the JSON-RPC error, so the SDK
never sees it: no silent 202 for an id it would take for a notification, no echo of a
megabyte-long method, no pydantic dump for a batch. A stateless server offers no
server-initiated stream, so ``GET`` on the endpoint answers 405 (the transport allows it)
instead of opening a stream that would only ever ping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..jsonrpc_screen import screen

__all__ = ["ScreenedRequests", "screen_endpoint"]

_NO_STREAM = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {
        "code": -32600,
        "message": "Method Not Allowed: this stateless server offers no server-initiated stream; "
        "send requests with POST.",
    },
}


class ScreenedRequests:
    """ASGI app in front of the MCP endpoint at ``path``: screens POSTs, refuses stateless GETs."""

    def __init__(self, app: ASGIApp, path: str, *, stateless: bool) -> None:
        self._app = app
        self._path = path
        self._stateless = stateless

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self._path:
            await self._app(scope, receive, send)
            return
        method = scope["method"]
        if method == "GET" and self._stateless:
            await _json(send, 405, _NO_STREAM, allow="POST")
            return
        if method != "POST":
            await self._app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        answer = screen(body)
        if answer is not None:
            await _json(send, 400, answer)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app(scope, replay, send)


def screen_endpoint(app: Starlette, path: str, *, stateless: bool) -> None:
    """Put :class:`ScreenedRequests` in front of the SDK's endpoint at ``path`` in ``app``,
    behind its bearer check when there is one: a caller who is not signed in still gets the
    401 challenge (with which clients discover how to sign in), whatever the body."""
    for route in app.routes:
        if getattr(route, "path", None) != path or not hasattr(route, "app"):
            continue
        guarded = route.app
        if isinstance(guarded, RequireAuthMiddleware):
            guarded.app = ScreenedRequests(guarded.app, path, stateless=stateless)
        else:
            route.app = ScreenedRequests(guarded, path, stateless=stateless)
        return
    raise RuntimeError(f"the MCP app has no endpoint at {path}")


async def _json(send: Send, status: int, payload: Mapping[str, object], *, allow: str | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if allow is not None:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
