"""stdin and stdout read and written by the event loop itself when they are pipes.

The SDK's stdio transport goes through anyio's file wrapper and a writer task: every
line read is a hop to a worker thread and back, and every message written waits for the
writer task's turn, then for two more hops (write, flush). Each hop and each turn waits
for the event loop to come round, and under ten thousand concurrent calls one round is
long: the server took in about 110 requests a second, and notifications and answers
queued behind each other for tens of seconds (``bench/streams.py``).

When stdin and stdout are pipes or sockets (how MCP clients start servers) they are
served here instead, on asyncio pipe transports: the server's read stream cuts lines
from what arrives and parses each as the SDK's reader does, handing a burst over without
a loop turn per message, and sending a message writes it to the pipe at once, in the
sender's own turn (waiting only while the pipe is full). The descriptors are claimed the
way the SDK claims them: served from private duplicates while fd 0 reads the null device
and fd 1 writes to stderr, so stray output misses the wire; both are restored at the
end, after what is still buffered has been written. Anything else (a terminal, a file)
and non-POSIX systems keep the SDK's own path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator
from types import TracebackType
from typing import IO, Any, Self

import anyio
import anyio.lowlevel
import mcp_types as types
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

from .jsonrpc_screen import screen

__all__ = ["PipeReadStream", "PipeWriteStream", "RefusedMessage", "pipe_stdio"]

# How long the last answers may take to drain into stdout at the end.
DRAIN_SECONDS = 10.0
# Read size; lines are cut from the buffer whatever their length.
_CHUNK = 1 << 16
# Messages taken in between two turns given to the rest of the event loop.
FAIR_EVERY = 256


class ClosedOnExit:
    """``async with stream`` closes it on the way out (``aclose``)."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ReceivedInTurn(ClosedOnExit):
    """``async for message in stream``: ``receive()`` until the stream ends or is closed."""

    async def receive(self) -> SessionMessage | Exception:
        raise NotImplementedError

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None


class RefusedMessage(Exception):
    """A line the screen refused (``jsonrpc_screen.py``); ``answer`` is the JSON-RPC error to send."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(answer["error"]["message"])
        self.answer = answer


class PipeReadStream(ReceivedInTurn):
    """The server's read stream: each line of the pipe parsed into a message, as the SDK's
    reader does, and handed over at once while whole lines are buffered.

    The SDK's stream costs a turn of the event loop per message (its receive checks in
    with the loop first); here a turn is given only every ``FAIR_EVERY`` messages, so a
    burst of requests is taken in together without shutting everything else out.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._scanned = 0  # the buffer holds no newline before this offset
        self._taken = 0
        self._closed = False

    async def _line(self) -> bytes | None:
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._buffer)
            chunk = await self._reader.read(_CHUNK)  # no wait while data is buffered
            if not chunk:
                rest = bytes(self._buffer)  # a last line without its newline
                self._buffer.clear()
                self._scanned = 0
                return rest or None
            self._buffer += chunk

    async def receive(self) -> SessionMessage | Exception:
        if self._closed:
            raise anyio.ClosedResourceError
        self._taken += 1
        if self._taken % FAIR_EVERY == 0:
            await anyio.lowlevel.checkpoint()
        line = await self._line()
        if line is None:
            raise anyio.EndOfStream
        refused = screen(line)
        if refused is not None:
            return RefusedMessage(refused)
        try:
            text = line.decode("utf-8", "replace")
            return SessionMessage(types.jsonrpc_message_adapter.validate_json(text, by_name=False))
        except Exception as exc:  # the server answers it (``stdio._Answering``)
            return exc

    async def aclose(self) -> None:
        self._closed = True


class PipeWriteStream(ClosedOnExit):
    """The server's write stream: each message goes to the pipe as its sender sends it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._closed = False

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        data = item.message.model_dump_json(by_alias=True, exclude_unset=True)
        try:
            self._writer.write(data.encode("utf-8") + b"\n")
            await self._writer.drain()  # returns at once unless the pipe is full
        except (ConnectionError, OSError) as exc:  # the client has gone
            raise anyio.BrokenResourceError from exc

    async def drained(self) -> None:
        """Return once everything sent has been written to the pipe (used at shutdown)."""
        # With no room above zero, ``drain`` waits until the buffer is empty.
        self._writer.transport.set_write_buffer_limits(high=0)
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()

    async def aclose(self) -> None:
        self._closed = True


def _servable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _claim(fd: int, diversion: int) -> int:
    """Point ``fd`` at ``diversion`` and return a private duplicate of what it was."""
    import fcntl  # POSIX only: never imported on Windows, which keeps the SDK's path

    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        os.dup2(diversion, fd)
    except OSError:
        os.close(private)
        raise
    finally:
        os.close(diversion)
    return private


def _release(fd: int, private: int) -> None:
    with contextlib.suppress(OSError):
        os.set_blocking(private, True)  # the pipe is shared with whoever started us
        os.dup2(private, fd)
    with contextlib.suppress(OSError):
        os.close(private)


Streams = tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]


@contextlib.asynccontextmanager
async def pipe_stdio() -> AsyncIterator[Streams | None]:
    """The server's read and write streams on stdin and stdout, or None when they are not
    both pipes or sockets (then the SDK's ``stdio_server`` serves them)."""
    if sys.platform == "win32" or not (_servable(0) and _servable(1)):
        yield None
        return
    loop = asyncio.get_running_loop()
    stdin_fd = _claim(0, os.open(os.devnull, os.O_RDONLY))
    try:
        stdout_fd = _claim(1, os.dup(2))
    except OSError:
        _release(0, stdin_fd)
        raise
    files: list[IO[bytes]] = [
        os.fdopen(stdin_fd, "rb", buffering=0, closefd=False),
        os.fdopen(stdout_fd, "wb", buffering=0, closefd=False),
    ]
    transports: list[asyncio.BaseTransport] = []
    try:
        reader = asyncio.StreamReader(limit=_CHUNK, loop=loop)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), files[0]
        )
        transports.append(read_transport)
        write_transport, write_protocol = await loop.connect_write_pipe(_WriteProtocol, files[1])
        transports.append(write_transport)
        writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
        yield PipeReadStream(reader), PipeWriteStream(writer)
        # What is still buffered (the last answers) goes out before the pipe is let go.
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), DRAIN_SECONDS)
    finally:
        for transport in transports:
            transport.close()
        for file in files:
            file.close()
        _release(1, stdout_fd)
        _release(0, stdin_fd)


class _WriteProtocol(asyncio.streams.FlowControlMixin, asyncio.Protocol):
    """Flow control for the stdout transport (what ``StreamWriter.drain`` waits on)."""

    def __init__(self) -> None:
        super().__init__()
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._closed.done():
            self._closed.set_result(None)

    def _get_close_waiter(self, stream: Any) -> asyncio.Future[None]:
        return self._closed
