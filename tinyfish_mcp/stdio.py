"""Serving MCP on stdin/stdout: every line answered, and a shutdown that loses no run id.

The SDK's stdio transport turns a line it cannot read (not JSON, not a JSON-RPC
message, or nested deeper than its parser allows) into an exception on the read
stream, which the server only logs at debug level: the client waits for an answer
that never comes. Here the read stream is wrapped: such a line is answered with a
JSON-RPC error (parse error, or invalid request with the request's id when it has
one), and serving goes on.

Shutdown (stdin closed, SIGTERM or SIGINT; ``stdio_shutdown.py``) lets the calls in
flight answer, run calls with their run ids. The SDK's serving loop cancels every
handler once its read stream ends, so at the end of stdin the wrapped read stream holds
the end back until those answers are written; the wrapped write stream notes which
requests have been answered.

When stdin and stdout are pipes, the event loop reads and writes them itself, without the
SDK's worker-thread hops and writer task (``stdio_pipes.py``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)
from pydantic import ValidationError

from .gctune import settle_heap
from .jsonrpc_screen import screen
from .stdio_pipes import ClosedOnExit, ReceivedInTurn, RefusedMessage, Streams, pipe_stdio
from .stdio_shutdown import Shutdown, signals_to

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
    if isinstance(exc, RefusedMessage):
        return JSONRPCError.model_validate(exc.answer)
    line = ""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False)
        first: dict[str, Any] = dict(errors[0]) if errors else {}
        raw = first.get("input")
        line = raw if isinstance(raw, str) else ""
        # The SDK's own reader (stdin not a pipe) read the line: screen it as the pipe reader does.
        refused = screen(line.encode()) if line else None
        if refused is not None:
            return JSONRPCError.model_validate(refused)
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


class _Answering(ReceivedInTurn):
    """A read stream that answers unreadable messages (and, once shutting down, new requests)."""

    def __init__(
        self,
        inner: ReadStream[SessionMessage | Exception],
        out: WriteStream[SessionMessage],
        shutdown: Shutdown,
    ) -> None:
        self._inner = inner
        self._out = out
        self._shutdown = shutdown

    def __getattr__(self, name: str) -> Any:
        # ``last_context`` and anything else the server reads from the SDK's stream.
        return getattr(self._inner, name)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            try:
                item = await self._inner.receive()
            except anyio.EndOfStream:
                # Ending the read stream would cancel every handler: hold it until they answered.
                await self._shutdown.at_end_of_stdin()
                raise
            if isinstance(item, Exception):
                await self._out.send(SessionMessage(answer_for(item)))
                continue
            message = item.message
            if isinstance(message, JSONRPCRequest):
                if self._shutdown.begun.is_set() and message.method != "ping":
                    await self._out.send(self._shutdown.refusal(message))
                    continue
                self._shutdown.in_flight.add(message.id)
            elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
                # A request the client cancelled is never answered.
                ident = (message.params or {}).get("requestId")
                if isinstance(ident, str | int):
                    self._shutdown.in_flight.discard(ident)
            return item

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Answered(ClosedOnExit):
    """A write stream that notes which requests have been answered."""

    def __init__(self, inner: WriteStream[SessionMessage], shutdown: Shutdown) -> None:
        self._inner = inner
        self._shutdown = shutdown

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, item: SessionMessage, /) -> None:
        message = item.message
        if not isinstance(message, JSONRPCResponse | JSONRPCError) or message.id is None:
            await self._inner.send(item)
            return
        self._shutdown.in_flight.answering(message.id)
        try:
            await self._inner.send(item)
        finally:
            self._shutdown.in_flight.discard(message.id)

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def _stdio_streams() -> AsyncIterator[Streams]:
    """The server's streams on stdin and stdout: on pipes ours, otherwise the SDK's."""
    async with pipe_stdio() as pipes:
        if pipes is not None:
            yield pipes
            return
    async with stdio_server() as streams:
        yield streams


def _nothing() -> None:
    return None


async def serve_stdio(
    mcp: MCPServer[Any], *, grace: float = 0.0, cleanup: Callable[[], None] = _nothing
) -> None:
    """What ``MCPServer.run_stdio_async`` does, with every line answered and a graceful shutdown.

    Returns when stdin has ended and the calls in flight have answered (within ``grace``
    plus :data:`ANSWER_SECONDS`); after SIGTERM or SIGINT it runs ``cleanup`` (in a
    thread) and exits the process with status 0 instead of returning.
    """
    server = mcp._lowlevel_server
    settle_heap()
    async with _stdio_streams() as (read_stream, write_stream):
        shutdown = Shutdown(grace, cleanup)
        async with anyio.create_task_group() as tg:
            tg.start_soon(shutdown.run, write_stream)
            with signals_to(shutdown):
                await server.run(
                    _Answering(read_stream, write_stream, shutdown),
                    _Answered(write_stream, shutdown),
                    server.create_initialization_options(),
                )
            tg.cancel_scope.cancel()


def run_stdio(mcp: MCPServer[Any], *, grace: float = 0.0, cleanup: Callable[[], None] = _nothing) -> None:
    """Serve ``mcp`` on stdio until the client closes stdin (or a signal ends the process)."""
    anyio.run(lambda: serve_stdio(mcp, grace=grace, cleanup=cleanup))
