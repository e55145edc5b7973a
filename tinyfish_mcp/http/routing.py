"""Answering each MCP POST as plain JSON or as an SSE stream, whichever it needs.

The SDK chooses JSON or SSE per session manager, not per request. An SSE response
costs the server a stream, a task and an event framing per call; a plain JSON body
costs none of that, and most calls (``tools/list``, reads, searches, fetches) send
nothing before their result. So two managers serve ``/mcp`` side by side and
:class:`ResponseModeRouter` reads each POST's body once and hands it to one of them:

* SSE when the call can send something before its result: a ``tools/call`` that
  carries a progress token, or that names a tool able to report progress or to be
  cancelled by the client closing the stream (every tool that takes a ``Context``:
  the run tools follow a billed run and cancel it when the caller hangs up), and
  ``subscriptions/listen``;
* JSON for everything else.

Only stateless deployments use it: a stateful MCP session is bound to the manager
that created it.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ResponseModeRouter", "wants_stream"]

_STREAMED_METHODS = frozenset({"subscriptions/listen"})


def wants_stream(body: bytes, streaming_tools: Collection[str]) -> bool:
    """True when the JSON-RPC message in ``body`` should be answered on an SSE stream.

    Anything that is not one well-formed request goes to the SSE app too, whose
    parser then answers with the proper JSON-RPC error.
    """
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return True
    if not isinstance(message, dict):
        return True
    method = message.get("method")
    if method in _STREAMED_METHODS:
        return True
    if method != "tools/call":
        return False
    params = message.get("params")
    if not isinstance(params, dict):
        return True
    meta = params.get("_meta")
    if isinstance(meta, dict) and meta.get("progressToken") is not None:
        return True
    return params.get("name") in streaming_tools


class ResponseModeRouter:
    """ASGI app that sends POSTs to ``path`` to ``json_app`` or ``sse_app`` (see the module doc)."""

    def __init__(
        self, sse_app: ASGIApp, json_app: ASGIApp, streaming_tools: Collection[str], path: str
    ) -> None:
        self.sse_app = sse_app
        self.json_app = json_app
        self.streaming_tools = frozenset(streaming_tools)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            await self.sse_app(scope, receive, send)
            return
        # The body is already bounded by the body-limit middleware in front of this app.
        chunks: list[bytes] = []
        held: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                held.append(message)
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}, *held]

        async def replayed() -> Message:
            if replay:
                return replay.pop(0)
            return await receive()

        app = self.sse_app if wants_stream(body, self.streaming_tools) else self.json_app
        await app(scope, replayed, send)
