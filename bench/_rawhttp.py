"""A load generator cheap enough not to be the bottleneck: raw HTTP/1.1 on asyncio streams.

The request is built once as bytes (stateless MCP needs no session, and one JSON-RPC id
serves every call), each connection is kept alive, and a response is read by its
framing only (``Content-Length`` or chunked SSE), then checked for a JSON-RPC or tool
error by a byte search. No HTTP library, no JSON parsing per call: the generator's CPU
per call is printed next to every figure, so a reader can see it was not the limit.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Endpoint", "LoadResult", "closed_loop", "open_loop", "request_bytes"]

_ERRORS = (b'"isError":true', b'"error":{"code"')


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    request: bytes

    @classmethod
    def for_call(cls, mcp_url: str, message: dict[str, Any], headers: dict[str, str]) -> Endpoint:
        parts = urlsplit(mcp_url)
        assert parts.hostname and parts.port
        return cls(parts.hostname, parts.port, request_bytes(parts, message, headers))


def request_bytes(parts: Any, message: dict[str, Any], headers: dict[str, str]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, endpoint: Endpoint) -> _Connection:
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        return cls(reader, writer)

    async def call(self, request: bytes) -> bool:
        """Send ``request``; True when the answer is a 200 without a JSON-RPC or tool error."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head[9:12]
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            start = lower.index(b"content-length:") + 15
            length = int(lower[start : lower.index(b"\r\n", start)])
            body = bytearray(await self.reader.readexactly(length))
        return status == b"200" and not any(marker in body for marker in _ERRORS)

    def close(self) -> None:
        self.writer.close()


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    seconds: float = 0.0
    generator_cpu: float = 0.0

    @property
    def calls_per_s(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def generator_cpu_ms_per_call(self) -> float:
        done = len(self.latencies) + self.errors
        return 1000.0 * self.generator_cpu / done if done else float("nan")


class _Pool:
    """Idle keep-alive connections, at most ``limit`` open; waiting for one counts as latency."""

    def __init__(self, endpoint: Endpoint, limit: int) -> None:
        self.endpoint = endpoint
        self.idle: list[_Connection] = []
        self.free = asyncio.Semaphore(limit)

    async def call(self) -> bool:
        async with self.free:
            conn = self.idle.pop() if self.idle else await _Connection.open(self.endpoint)
            try:
                ok = await conn.call(self.endpoint.request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                return False
            self.idle.append(conn)
            return ok

    def close(self) -> None:
        for conn in self.idle:
            conn.close()


async def open_loop(
    endpoint: Endpoint, rate: float, seconds: float, *, max_connections: int = 512
) -> LoadResult:
    """Send calls at ``rate`` per second for ``seconds``, whatever the answers take.

    Each call's latency runs from the moment it was due, not from when it was sent, so a
    server that falls behind shows its queue in the figures (no coordinated omission).
    """
    loop = asyncio.get_running_loop()
    pool = _Pool(endpoint, max_connections)
    result = LoadResult()
    total = int(rate * seconds)
    cpu_start = time.process_time()
    start = loop.time() + 0.05

    async def one(due: float) -> None:
        ok = await pool.call()
        if ok:
            result.latencies.append(loop.time() - due)
        else:
            result.errors += 1

    tasks = []
    for index in range(total):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due)))
        result.sent += 1
    _, pending = await asyncio.wait(tasks, timeout=30.0)
    for task in pending:
        task.cancel()
    result.errors += len(pending)
    result.seconds = max(loop.time() - start, 1e-9)
    result.generator_cpu = time.process_time() - cpu_start
    pool.close()
    return result


async def closed_loop(endpoint: Endpoint, concurrency: int, seconds: float) -> LoadResult:
    """``concurrency`` connections, each sending its next call as soon as the last one answers."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    cpu_start = time.process_time()
    start = loop.time()
    end = start + seconds

    async def client() -> None:
        conn = await _Connection.open(endpoint)
        try:
            while loop.time() < end:
                began = loop.time()
                result.sent += 1
                try:
                    ok = await conn.call(endpoint.request)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    conn.close()
                    conn = await _Connection.open(endpoint)
                    continue
                if ok:
                    result.latencies.append(loop.time() - began)
                else:
                    result.errors += 1
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = loop.time() - start
    result.generator_cpu = time.process_time() - cpu_start
    return result
