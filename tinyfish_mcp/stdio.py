"""Serving MCP on stdin/stdout, answering every line, even one the SDK cannot parse.

The SDK's stdio transport turns a line it cannot read (not JSON, not a JSON-RPC
message, or nested deeper than its parser allows) into an exception on the read
stream, which the server only logs at debug level: the client waits for an answer
that never comes. Here the read stream is wrapped: such a line is answered with a
JSON-RPC error (parse error, or invalid request with the request's id when it has
one), and serving goes on.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

from .gctune import settle_heap

__all__ = ["answer_for", "run_stdio", "serve_stdio"]


def _request_id(line: Any) -> str | int | None:
    """The ``id`` of a JSON object (or line, if Python's parser reads it: it nests deeper than pydantic's)."""
    data = line
    if isinstance(line, str):
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            return None
    if isinstance(data, dict):
        ident = data.get("id")
        if isinstance(ident, str | int) and not isinstance(ident, bool):
            return ident
    return None


def answer_for(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error for an unreadable message (``exc`` is what the transport raised)."""
    line = ""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        first: dict[str, Any] = dict(errors[0]) if errors else {}
        raw = first.get("input")
        line = raw if isinstance(raw, str) else ""
        if first.get("type") != "json_invalid":
            ident = _request_id(raw)
            return JSONRPCError(
                jsonrpc="2.0",
                id=ident,
                error=ErrorData(code=INVALID_REQUEST, message="Invalid request: not a JSON-RPC 2.0 message"),
            )
    ident = _request_id(line)
    if ident is not None:
        # Python read it, the SDK's parser did not: too deep, or otherwise beyond its limits.
        message = "Invalid request: the message is nested too deeply or too large to read"
        return JSONRPCError(jsonrpc="2.0", id=ident, error=ErrorData(code=INVALID_REQUEST, message=message))
    return JSONRPCError(
        jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error: not valid JSON")
    )


class _Answering:
    """A read stream that answers unreadable messages itself and passes the rest on."""

    def __init__(
        self, inner: ReadStream[SessionMessage | Exception], out: WriteStream[SessionMessage]
    ) -> None:
        self._inner = inner
        self._out = out

    def __getattr__(self, name: str) -> Any:
        # ``last_context`` and anything else the server reads from the SDK's stream.
        return getattr(self._inner, name)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            await self._out.send(SessionMessage(answer_for(item)))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _Answering:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _Answering:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def serve_stdio(mcp: MCPServer[Any]) -> None:
    """What ``MCPServer.run_stdio_async`` does, with every unreadable line answered."""
    server = mcp._lowlevel_server
    settle_heap()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(
            _Answering(read_stream, write_stream), write_stream, server.create_initialization_options()
        )


def run_stdio(mcp: MCPServer[Any]) -> None:
    """Serve ``mcp`` on stdio until the client closes stdin."""
    anyio.run(serve_stdio, mcp)
