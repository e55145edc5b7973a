"""Serving MCP on stdin/stdout: every line answered, and a shutdown that loses no run id.

The SDK's stdio transport turns a line it cannot read (not JSON, not a JSON-RPC
message, or nested deeper than its parser allows) into an exception on the read
stream, which the server only logs at debug level: the client waits for an answer
that never comes. Here the read stream is wrapped: such a line is answered with a
JSON-RPC error (parse error, or invalid request with the request's id when it has
one), and serving goes on.

Shutdown (stdin closed, SIGTERM or SIGINT) is the stdio side of ``http/shutdown.py``:
new requests are refused (pings aside), the calls in flight get a grace period (none
is waited for when nothing is in flight), then every call window is closed
(``tools/_drain.py``), so each call following a run answers with the run's id and
status RUNNING while the run goes on upstream. The SDK's serving loop cancels every
handler once its read stream ends, so at the end of stdin the wrapped read stream
holds the end back until those answers are written. After a signal stdin may still be
open, and the thread reading it cannot be stopped: once the answers are flushed, the
process cleans up (its browser sessions) and exits by itself. A second signal ends the
grace at once; one more after that exits at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp_types import (
    CONNECTION_CLOSED,
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)
from pydantic import ValidationError

from .tools._drain import close_all_windows, live_windows

__all__ = ["ANSWER_SECONDS", "answer_for", "run_stdio", "serve_stdio"]

log = logging.getLogger(__name__)

# After the grace: time for the windows to close, the last look at each run and the answers.
ANSWER_SECONDS = 6.0
# Time for the stdout writer to flush the last answers before a signalled process exits.
_FLUSH_SECONDS = 2.0
_POLL = 0.05
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_REFUSAL = (
    "tinyfish-mcp is shutting down and takes no new requests; nothing was started. "
    "Send it again once the client has restarted the server."
)


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


class _Calls:
    """The ids of the requests read and not answered yet."""

    def __init__(self) -> None:
        self._ids: set[str | int] = set()
        self._none = anyio.Event()
        self._none.set()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ident: str | int) -> None:
        self._ids.add(ident)
        if self._none.is_set():
            self._none = anyio.Event()

    def discard(self, ident: str | int) -> None:
        self._ids.discard(ident)
        if not self._ids:
            self._none.set()

    async def answered(self) -> None:
        """Until every request read so far has been answered."""
        await self._none.wait()


async def _first(*waits: Callable[[], Awaitable[Any]]) -> None:
    """Until the first of ``waits`` returns."""
    async with anyio.create_task_group() as tg:

        async def one(wait: Callable[[], Awaitable[Any]]) -> None:
            await wait()
            tg.cancel_scope.cancel()

        for wait in waits:
            tg.start_soon(one, wait)


class _Shutdown:
    """The stdio server's shutdown: refusing new requests, the grace, the last answers."""

    def __init__(self, grace: float, cleanup: Callable[[], None]) -> None:
        self.grace = grace
        self.cleanup = cleanup
        self.begun = anyio.Event()
        self.done = anyio.Event()
        self.in_flight = _Calls()
        self.signalled = False
        self.stdin_closed = False
        self._hurry = anyio.Event()
        self._answering = False

    def begin(self, why: str) -> None:
        if self.begun.is_set():
            return
        self.begun.set()
        if self.in_flight:
            log.info(
                "%s: shutting down; %d call(s) in flight get up to %g s, then calls following runs "
                "answer with their run ids",
                why,
                len(self.in_flight),
                self.grace,
            )
        else:
            log.info("%s: shutting down", why)

    async def at_end_of_stdin(self) -> None:
        """Hold the end of stdin back until the calls in flight have answered."""
        self.stdin_closed = True
        self.begin("stdin closed")
        await self.done.wait()

    def on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if not self.begun.is_set():
            self.signalled = True
            self.begin(f"{name} received")
        elif not self._answering:
            log.info("%s received again: the calls in flight answer now", name)
            self._hurry.set()
        else:
            log.warning("%s received again: exiting now", name)
            logging.shutdown()
            os._exit(128 + signum)

    async def run(self, writer: WriteStream[SessionMessage]) -> None:
        """Once shutdown begins: drain; after a signal, flush, clean up and exit."""
        await self.begun.wait()
        await self._drain()
        self.done.set()
        if not self.signalled or self.stdin_closed:
            return  # the end of stdin unwinds the server, and the caller cleans up
        await _flushed(writer)
        await anyio.to_thread.run_sync(self.cleanup)
        logging.shutdown()
        os._exit(0)

    async def _drain(self) -> None:
        with anyio.move_on_after(self.grace):
            await _first(self.in_flight.answered, self._hurry.wait)
        self._answering = True
        with anyio.move_on_after(ANSWER_SECONDS):
            if live_windows():
                log.info("grace period over: %d call(s) answer now with their run ids", live_windows())
            await close_all_windows(_POLL)
            await self.in_flight.answered()
        if self.in_flight:
            log.warning("%d call(s) did not answer in time and are cut", len(self.in_flight))

    def refusal(self, request: JSONRPCRequest) -> SessionMessage:
        error = ErrorData(code=CONNECTION_CLOSED, message=_REFUSAL)
        return SessionMessage(JSONRPCError(jsonrpc="2.0", id=request.id, error=error))


async def _flushed(writer: WriteStream[SessionMessage]) -> None:
    """Wait (bounded) until the SDK's stdout writer has flushed what it was given."""
    # The writer takes the next message only after flushing the last one: once it waits
    # for more, everything sent is out. Its stream's statistics tell; without them, a pause.
    inner = getattr(writer, "_inner", writer)
    statistics = getattr(inner, "statistics", None)
    with anyio.move_on_after(_FLUSH_SECONDS):
        if not callable(statistics):
            await anyio.sleep(_FLUSH_SECONDS / 4)
            return
        while True:
            stats = statistics()
            if stats.tasks_waiting_receive or not stats.open_receive_streams:
                return
            await anyio.sleep(0.01)


class _Answering:
    """A read stream that answers unreadable messages (and, once shutting down, new requests)."""

    def __init__(
        self,
        inner: ReadStream[SessionMessage | Exception],
        out: WriteStream[SessionMessage],
        shutdown: _Shutdown,
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


class _Answered:
    """A write stream that notes which requests have been answered."""

    def __init__(self, inner: WriteStream[SessionMessage], shutdown: _Shutdown) -> None:
        self._inner = inner
        self._shutdown = shutdown

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, item: SessionMessage, /) -> None:
        message = item.message
        try:
            await self._inner.send(item)
        finally:
            if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
                self._shutdown.in_flight.discard(message.id)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _Answered:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@contextmanager
def _signals_to(shutdown: _Shutdown) -> Iterator[None]:
    """SIGTERM and SIGINT begin the shutdown (in the main thread, where handlers live)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(shutdown.on_signal, signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
    async with stdio_server() as (read_stream, write_stream):
        shutdown = _Shutdown(grace, cleanup)
        async with anyio.create_task_group() as tg:
            tg.start_soon(shutdown.run, write_stream)
            with _signals_to(shutdown):
                await server.run(
                    _Answering(read_stream, write_stream, shutdown),
                    _Answered(write_stream, shutdown),
                    server.create_initialization_options(),
                )
            tg.cancel_scope.cancel()


def run_stdio(mcp: MCPServer[Any], *, grace: float = 0.0, cleanup: Callable[[], None] = _nothing) -> None:
    """Serve ``mcp`` on stdio until the client closes stdin (or a signal ends the process)."""
    anyio.run(lambda: serve_stdio(mcp, grace=grace, cleanup=cleanup))
