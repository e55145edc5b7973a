"""One access-log line per HTTP request, and the request's id (``X-Request-Id``).

The outermost middleware of the hosted app. Each request gets an id: the client's
``X-Request-Id`` when it is a sane token (``tracing.sane_request_id``) and holds nothing
the log redaction would mask, else a new one. The id is put in the request's headers
(so the tool layer finds it, whatever task runs the call), answered in the response's
``X-Request-Id``, sent upstream with every attempt, and carried by every log line
written meanwhile. When the request ends, ``tinyfish_mcp.access`` logs at INFO::

    POST /mcp 200 12.3 ms user=3f2a9c01b7de

method, path (never the query string: it can carry codes and tokens), status, duration,
and the short hash of the user's TinyFish key when the request used one (``-`` when it
did not). uvicorn's own access log is off (``serving.py``), so this is the only line.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..tracing import REQUEST_ID_HEADER, Trace, new_request_id, sane_request_id, traced
from .redaction import redact

__all__ = ["ACCESS_LOGGER", "AccessLog"]

ACCESS_LOGGER = "tinyfish_mcp.access"

log = logging.getLogger(ACCESS_LOGGER)
_HEADER = REQUEST_ID_HEADER.lower().encode()


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.lower() == _HEADER:
            given = sane_request_id(value.decode("latin-1"))
            if given is not None and redact(given) == given:
                return given
            break
    return new_request_id()


class AccessLog:
    """ASGI middleware: the request id, and the access-log line (see the module's text)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        headers = [(name, value) for name, value in scope.get("headers", ()) if name.lower() != _HEADER]
        headers.append((_HEADER, request_id.encode()))
        scope = {**scope, "headers": headers}
        started = time.monotonic()
        status = 0

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with traced(Trace(request_id)) as trace:
            try:
                await self.app(scope, receive, answer)
            except BaseException:
                status = status or 500  # what the server answers for an unhandled error
                raise
            finally:
                _log_access(scope, status, time.monotonic() - started, trace)


def _log_access(scope: Scope, status: int, seconds: float, trace: Trace) -> None:
    method = str(scope.get("method", "?"))
    # Masked here too: the JSON line's fields are not the message the redaction rewrites.
    path = redact(str(scope.get("path", "")) or "/")
    duration_ms = round(seconds * 1000, 1)
    user = trace.user or "-"
    log.info(
        "%s %s %d %.1f ms user=%s",
        method,
        path,
        status,
        duration_ms,
        user,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "user": trace.user,
        },
    )
