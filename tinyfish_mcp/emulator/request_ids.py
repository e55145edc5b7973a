"""Request ids, as a real service has them: its own on every answer, the caller's recorded.

Every response carries ``x-request-id`` with an id the emulator made (``emu-`` and 16
hex digits), never an echo of the caller's. The request log records both: the caller's
``X-Request-Id`` (``request_id``) and the emulator's answer (``own_request_id``), so a
test can check that ids travel and that the server logs the service's own.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .state import Store, key_suffix

__all__ = ["RequestIds", "log_request", "logged_ids"]

_SCOPE_KEY = "tinyfish_emulator.request_id"


class RequestIds:
    """ASGI middleware: makes the request's own id and answers it in ``x-request-id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own = "emu-" + secrets.token_hex(8)
        scope[_SCOPE_KEY] = own

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = own
            await send(message)

        await self.app(scope, receive, answer)


def logged_ids(request: Request) -> dict[str, Any]:
    """The request-log fields: the caller's ``X-Request-Id`` and the id the emulator answers."""
    return {
        "request_id": request.headers.get("x-request-id"),
        "own_request_id": request.scope.get(_SCOPE_KEY),
    }


def log_request(store: Store, request: Request, raw: bytes, key: str | None) -> None:
    """Append the request to the log tests read: its body (JSON where it parses), key suffix, ids."""
    body: Any = None
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    store.requests.append(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "key_suffix": key_suffix(key),
            "body": body,
            **logged_ids(request),
        }
    )
