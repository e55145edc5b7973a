"""The stdio server's shutdown: refuse new requests, a grace period, then the last answers.

The stdio side of ``http/shutdown.py``. When stdin closes, or on SIGTERM/SIGINT, new
requests are refused (pings aside), the calls in flight get a grace period (none is
waited for when nothing is in flight), then every call window is closed
(``follow/drain.py``), so each call following a run answers with the run's id and status
RUNNING while the run goes on upstream. ``stdio.py`` holds the end of stdin back until
then, since the SDK cancels every handler once its read stream ends. After a signal stdin
may still be open, and the thread reading it cannot be stopped: once the answers are
flushed, the process cleans up (its browser sessions) and exits by itself. A second
signal ends the grace at once; one more after that exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

import anyio
from mcp.shared._stream_protocols import WriteStream
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED, ErrorData, JSONRPCError, JSONRPCRequest

from .follow.drain import close_all_windows, live_windows

__all__ = ["ANSWER_SECONDS", "Shutdown", "signals_to"]

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


class _Calls:
    """The ids of the requests read and not answered yet."""

    def __init__(self) -> None:
        self._ids: set[str | int] = set()
        self._answering: set[str | int] = set()  # answers being written
        self._none = anyio.Event()
        self._none.set()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ident: str | int) -> None:
        self._ids.add(ident)
        if self._none.is_set():
            self._none = anyio.Event()

    def answering(self, ident: str | int) -> None:
        self._answering.add(ident)

    def discard(self, ident: str | int) -> None:
        self._ids.discard(ident)
        self._answering.discard(ident)
        if not self._ids:
            self._none.set()

    def unanswered(self) -> list[str | int]:
        """The requests no answer has been started for."""
        return list(self._ids - self._answering)

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


class Shutdown:
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
        try:
            await self._drain()
            self.done.set()
            if self._exits_itself():
                for ident in self.in_flight.unanswered():
                    with anyio.move_on_after(_FLUSH_SECONDS):
                        await writer.send(_cut(ident))
                await _flushed(writer)
        finally:
            # Also when serving broke meanwhile (stdout gone): unwinding would wait on stdin.
            if self._exits_itself():
                self._exit()

    def _exits_itself(self) -> bool:
        # After the end of stdin the server unwinds, and the caller cleans up.
        return self.signalled and not self.stdin_closed

    def _exit(self) -> NoReturn:
        # The event loop is running in this thread: the cleanup gets a thread (and loop) of its own.
        worker = threading.Thread(target=self.cleanup, daemon=True)
        worker.start()
        worker.join()
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


def _cut(ident: str | int) -> SessionMessage:
    """The answer of a call the process cannot wait for any longer (after a signal)."""
    message = (
        "The server shut down before this call finished. Anything it started may still be "
        "going: look with list_runs or list_browser_sessions before trying it again."
    )
    error = ErrorData(code=CONNECTION_CLOSED, message=message)
    return SessionMessage(JSONRPCError(jsonrpc="2.0", id=ident, error=error))


async def _flushed(writer: WriteStream[SessionMessage]) -> None:
    """Wait (bounded) until the SDK's stdout writer has flushed what it was given."""
    # The writer takes the next message only after flushing the last one: once it waits
    # for more, everything sent is out. Its stream's statistics tell; without them, a pause.
    # Our pipe stream (``stdio_pipes``) says itself when its buffer is out.
    inner = getattr(writer, "_inner", writer)
    statistics = getattr(inner, "statistics", None)
    drained = getattr(inner, "drained", None)
    with anyio.move_on_after(_FLUSH_SECONDS):
        if callable(drained):
            await drained()
            return
        if not callable(statistics):
            await anyio.sleep(_FLUSH_SECONDS / 4)
            return
        while True:
            stats = statistics()
            if stats.tasks_waiting_receive or not stats.open_receive_streams:
                return
            await anyio.sleep(0.01)


@contextmanager
def signals_to(shutdown: Shutdown) -> Iterator[None]:
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
