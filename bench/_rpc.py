"""Speaking MCP to a server under test: raw JSON-RPC over stdio pipes, and over streamable HTTP."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ._procs import LOG_DIR, PROTOCOL_VERSION, PYTHON, ROOT, BenchError, tail_of


# --------------------------------------------------------------------------- raw stdio JSON-RPC
@dataclass
class StdioPeer:
    """A client that speaks newline-delimited JSON-RPC over a subprocess's pipes, by hand.

    No SDK client and no reader thread: writes go straight to the pipe and reads wait in
    ``select``, so the client side adds as little as possible to what is measured. Each
    line read is stamped with ``time.time()`` the moment its bytes arrive.
    """

    argv: Sequence[str]
    env: dict[str, str]
    name: str = "stdio"
    proc: subprocess.Popen[bytes] = field(init=False)
    log: Path = field(init=False)
    _buffer: bytes = field(default=b"", init=False)
    _lines: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque, init=False)
    _next_id: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.log = LOG_DIR / f"{self.name}-{time.time_ns()}.log"
        with self.log.open("wb") as log_file:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=self.env,
                cwd=ROOT,
                bufsize=0,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()

    def __enter__(self) -> StdioPeer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def log_tail(self) -> str:
        return tail_of(self.log)

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        while data:
            try:
                written = os.write(self._in, data)
            except BrokenPipeError:
                raise BenchError(f"{self.name} closed its stdin:\n{self.log_tail()}") from None
            data = data[written:]

    def read(self, timeout: float) -> tuple[float, dict[str, Any]]:
        """The next message and the ``time.time()`` at which its bytes arrived."""
        deadline = time.monotonic() + timeout
        while not self._lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"{self.name}: no message within {timeout:.0f} s:\n{self.log_tail()}")
            ready, _, _ = select.select([self._out], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._out, 1 << 20)
            stamp = time.time()
            if not chunk:
                raise BenchError(f"{self.name} closed stdout (exit {self.proc.poll()}):\n{self.log_tail()}")
            self._buffer += chunk
            *complete, self._buffer = self._buffer.split(b"\n")
            self._lines.extend((stamp, line) for line in complete if line.strip())
        stamp, line = self._lines.popleft()
        return stamp, json.loads(line)

    def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        on_message: Callable[[float, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Send a request and return its response; other messages go to ``on_message``."""
        self._next_id += 1
        request_id = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        deadline = time.monotonic() + timeout
        while True:
            stamp, reply = self.read(max(deadline - time.monotonic(), 0.001))
            if reply.get("id") == request_id and ("result" in reply or "error" in reply):
                return reply
            if on_message is not None:
                on_message(stamp, reply)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def handshake(self, *, timeout: float = 30.0) -> dict[str, Any]:
        """``initialize`` then ``notifications/initialized``; returns the initialize result."""
        reply = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "tinyfish-bench", "version": "1"},
            },
            timeout=timeout,
        )
        if "error" in reply:
            raise BenchError(f"{self.name}: initialize failed: {reply['error']}")
        self.notify("notifications/initialized")
        return dict(reply["result"])

    def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        progress_token: str | int | None = None,
        timeout: float = 60.0,
        on_message: Callable[[float, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if progress_token is not None:
            params["_meta"] = {"progressToken": progress_token}
        reply = self.request("tools/call", params, timeout=timeout, on_message=on_message)
        if "error" in reply:
            raise BenchError(f"{self.name}: tools/call {name} failed: {reply['error']}")
        return dict(reply["result"])

    def close(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout)
        with contextlib.suppress(OSError):
            assert self.proc.stdout is not None
            self.proc.stdout.close()


def ours_stdio_argv(*python_flags: str) -> list[str]:
    return [PYTHON, *python_flags, "-m", "tinyfish_mcp"]


def bare_stdio_argv(*python_flags: str) -> list[str]:
    return [PYTHON, *python_flags, "-m", "bench._bare_server"]


def tool_text(result: dict[str, Any]) -> str:
    """The text of a tool result's content blocks, joined."""
    return "\n".join(
        str(block.get("text", "")) for block in result.get("content", []) if isinstance(block, dict)
    )


# --------------------------------------------------------------------------- MCP over streamable HTTP
def mcp_headers(token: str | None = None) -> dict[str, str]:
    """Headers of a stateless streamable-HTTP request (no session, no initialize needed)."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def rpc_message(request_id: int | str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def _sse_messages(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload:
                yield json.loads(payload)


def parse_rpc_body(content_type: str, text: str, request_id: int | str) -> dict[str, Any]:
    """The JSON-RPC response to ``request_id`` in a streamable-HTTP answer (a JSON or SSE body)."""
    if content_type.startswith("application/json"):
        return dict(json.loads(text))
    for item in _sse_messages(text):
        if item.get("id") == request_id and ("result" in item or "error" in item):
            return item
    raise BenchError(f"no response in the SSE body: {text[:200]}")


async def rpc_post(
    client: httpx.AsyncClient,
    url: str,
    message: dict[str, Any],
    headers: dict[str, str],
    *,
    on_notification: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """POST one JSON-RPC request to ``/mcp`` and return its response (JSON or SSE body).

    Without ``on_notification`` the whole body is read at once (cheapest for the load
    generator); with it, the SSE stream is read line by line and every notification is
    handed over as it arrives.
    """
    if on_notification is None:
        reply = await client.post(url, json=message, headers=headers)
        if reply.status_code != 200:
            raise BenchError(f"HTTP {reply.status_code}: {reply.text[:200]}")
        if reply.headers.get("content-type", "").startswith("application/json"):
            return dict(reply.json())
        for item in _sse_messages(reply.text):
            if item.get("id") == message["id"]:
                return item
        raise BenchError(f"no response in the SSE body: {reply.text[:200]}")
    async with client.stream("POST", url, json=message, headers=headers) as reply:
        if reply.status_code != 200:
            body = await reply.aread()
            raise BenchError(f"HTTP {reply.status_code}: {body[:200]!r}")
        if reply.headers.get("content-type", "").startswith("application/json"):
            return dict(json.loads(await reply.aread()))
        async for line in reply.aiter_lines():
            if not line.startswith("data:") or not line[5:].strip():
                continue
            item = json.loads(line[5:])
            if item.get("id") == message["id"] and ("result" in item or "error" in item):
                return dict(item)
            if "method" in item:
                on_notification(item)
    raise BenchError("the SSE stream ended without a response")
