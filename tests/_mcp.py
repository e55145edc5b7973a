"""Starting the real tinyfish-mcp server for tests, connected to a real MCP client.

* :func:`stdio_server` launches ``python -m tinyfish_mcp`` as a subprocess through the
  SDK's stdio client - exactly what Claude Desktop or Cursor do - against the emulator.
* :func:`memory_server` connects the SDK ``Client`` in-process to ``build_server(...)``:
  the same server and a real client, without the process start-up.
* :func:`hold_open` keeps either one open in a task of its own, so a module-scoped
  fixture can share one server process between tests (starting one takes seconds).

Both yield a connected ``mcp.Client``. Poll intervals and retry backoffs are small so
polling and retry tests are fast.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TextIO, TypeVar

import anyio
import jsonschema
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult

from tinyfish_mcp.server import build_server
from tinyfish_mcp.settings import Settings

__all__ = [
    "FAST_POLL",
    "INITIALIZE",
    "INITIALIZED",
    "CheckedClient",
    "ProgressLog",
    "check_structured_content",
    "hold_open",
    "memory_server",
    "result_json",
    "result_text",
    "settled_run",
    "shared_stdio_server",
    "stdio_server",
    "tool_call",
]

# What a raw JSON-RPC client sends first (a line on stdio, or the body of an HTTP POST), and
# the notification that follows its answer. Use ``{**INITIALIZE, "id": ...}`` for another id.
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test-client", "version": "0"},
    },
}
INITIALIZED: dict[str, Any] = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def tool_call(ident: int, name: str, arguments: dict[str, Any], **params: Any) -> dict[str, Any]:
    """A raw ``tools/call`` request (``params`` adds to its params, e.g. ``_meta``)."""
    return {
        "jsonrpc": "2.0",
        "id": ident,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, **params},
    }


# Settings that keep polling and retry tests quick (the real defaults are seconds).
FAST_POLL: dict[str, str] = {
    "TINYFISH_MCP_POLL_INITIAL": "0.05",
    "TINYFISH_MCP_POLL_MAX": "0.2",
    "TINYFISH_RETRY_INITIAL_BACKOFF": "0.01",
    "TINYFISH_RETRY_MAX_BACKOFF": "0.05",
    "TINYFISH_SEARCH_RATE_LIMIT_BACKOFF": "0.05",
}
_FAST_SETTINGS: dict[str, Any] = {
    "mcp_poll_initial": 0.05,
    "mcp_poll_max": 0.2,
    "retry_initial_backoff": 0.01,
    "retry_max_backoff": 0.05,
    "search_rate_limit_backoff": 0.05,
}
T = TypeVar("T")


class _EmulatorLike(Protocol):
    base_url: str
    api_key: str


class _Unset:
    pass


UNSET: Any = _Unset()


class CheckedClient(Client):
    """The SDK client, with every structured result checked against its tool's ``outputSchema``.

    A client may validate results against the advertised schema (and reject a tool
    whose results do not match), so every test that calls a tool also checks this.
    """

    _output_schemas: dict[str, dict[str, Any] | None] | None = None

    async def call_tool(self, name: str, *args: Any, **kwargs: Any) -> CallToolResult:
        result = await super().call_tool(name, *args, **kwargs)
        if result.structured_content is not None and not result.is_error:
            if self._output_schemas is None or name not in self._output_schemas:
                listed = await self.list_tools()
                self._output_schemas = {tool.name: tool.output_schema for tool in listed.tools}
            check_structured_content(name, result.structured_content, self._output_schemas.get(name))
        return result


def check_structured_content(name: str, content: dict[str, Any], schema: dict[str, Any] | None) -> None:
    """Assert that ``content``, a result of the tool ``name``, is valid against its output ``schema``."""
    assert schema is not None, f"{name} returned structuredContent but advertises no outputSchema"
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(content), key=str)
    assert not errors, f"{name}: structuredContent does not match outputSchema: {errors[0].message[:300]}"


@asynccontextmanager
async def stdio_server(
    emulator: _EmulatorLike | None = None,
    *,
    api_key: str | None = UNSET,
    toolsets: str | None = None,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    mode: Any = "auto",
    stderr: TextIO | None = None,
    read_timeout: float | None = 30.0,
) -> AsyncIterator[Client]:
    """``python -m tinyfish_mcp [args]`` on stdio, as a connected client.

    ``api_key`` defaults to the emulator's key; pass ``None`` to start with no key.
    ``env`` overrides anything (``TINYFISH_*``); ``stderr`` captures the server's log.
    """
    server_env = dict(FAST_POLL)
    if emulator is not None:
        server_env["TINYFISH_BASE_URL"] = emulator.base_url
        if api_key is UNSET:
            api_key = emulator.api_key
    if isinstance(api_key, str):
        server_env["TINYFISH_API_KEY"] = api_key
    if toolsets is not None:
        server_env["TINYFISH_MCP_TOOLSETS"] = toolsets
    server_env.update(env or {})
    params = StdioServerParameters(command=sys.executable, args=["-m", "tinyfish_mcp", *args], env=server_env)
    transport = stdio_client(params, errlog=stderr) if stderr is not None else stdio_client(params)
    async with CheckedClient(transport, mode=mode, read_timeout_seconds=read_timeout) as client:
        yield client


@asynccontextmanager
async def memory_server(
    emulator: _EmulatorLike | None = None,
    *,
    api_key: str | None = UNSET,
    mode: Any = "auto",
    **settings: Any,
) -> AsyncIterator[Client]:
    """``build_server(Settings(...))`` connected in-process; ``settings`` are field overrides."""
    values: dict[str, Any] = dict(_FAST_SETTINGS)
    if emulator is not None:
        values["base_url"] = emulator.base_url
        if api_key is UNSET:
            api_key = emulator.api_key
    values["api_key"] = None if api_key is UNSET else api_key
    values.update(settings)
    server = build_server(Settings(**values))
    async with CheckedClient(server, mode=mode) as client:
        yield client


async def hold_open(cm: AbstractAsyncContextManager[T]) -> tuple[T, Callable[[], Awaitable[None]]]:
    """Enter ``cm`` in a task of its own; return its value and a coroutine that exits it.

    anyio cancel scopes (which the MCP client uses) must be exited by the task that
    entered them, and pytest-asyncio sets a fixture up and tears it down in different
    tasks; a dedicated task owns the context instead.
    """
    ready: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def owner() -> None:
        try:
            async with cm as value:
                ready.set_result(value)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
                return
            raise

    task = asyncio.create_task(owner())
    value = await ready

    async def close() -> None:
        stop.set()
        await task

    return value, close


async def shared_stdio_server(base_url: str, api_key: str | None, **kwargs: Any) -> AsyncIterator[Client]:
    """For a module-scoped async generator fixture: ``async for c in shared_stdio_server(...)``."""
    target = _Target(base_url, api_key or "")
    client, close = await hold_open(stdio_server(target, api_key=api_key, **kwargs))
    try:
        yield client
    finally:
        await close()


class _Target:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key


class ProgressLog:
    """A ``progress_callback`` that records every notification in order."""

    def __init__(self) -> None:
        self.events: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((progress, total, message))

    @property
    def messages(self) -> list[str | None]:
        return [message for _, _, message in self.events]

    @property
    def counters(self) -> list[float]:
        return [progress for progress, _, _ in self.events]

    def run_id(self) -> str:
        """The run id the first message names ("Run <id> ..."): what a run tool says first."""
        first = self.messages[0] if self.events else None
        assert first is not None and first.startswith("Run "), first
        return first.split()[1]


async def settled_run(emulator: Any, run_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """The emulator's view of ``run_id`` once it is CANCELLED or COMPLETED (or ``timeout`` passed).

    Waits with ``anyio.sleep``: a blocking sleep would stop the client from sending anything.
    """
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = emulator.run(run_id)
    while run["status"] not in ("CANCELLED", "COMPLETED") and time.monotonic() < deadline:
        await anyio.sleep(0.05)
        run = emulator.run(run_id)
    return run


def result_text(result: CallToolResult) -> str:
    """All text blocks of a tool result, joined."""
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def result_json(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful result (asserting it is one)."""
    assert not result.is_error, result_text(result)
    assert result.structured_content is not None
    data: dict[str, Any] = result.structured_content
    # The first block is the same object as compact JSON text, for clients that show text.
    first = result.content[0]
    assert first.type == "text" and json.loads(first.text) == data
    return data


async def streamed_http_call(
    mcp_url: str,
    name: str,
    arguments: dict[str, Any],
    progress: Any,
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One tool call over streamable HTTP with its progress reported to ``progress``; its JSON."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=60) as http,
        Client(streamable_http_client(mcp_url, http_client=http)) as client,
    ):
        # Listed first: the client checks the result against the tool's output schema, which it
        # would otherwise fetch afterwards (perhaps from a replica that has stopped).
        await client.list_tools()
        result = await client.call_tool(name, arguments, progress_callback=progress)
    return result_json(result)


def answering(action: str, asked: list[ElicitRequestParams]) -> Any:
    """An elicitation callback that notes each question in ``asked`` and answers ``action``;
    ``"silent"`` answers (accept) only after 1.5 s, past the tests' elicitation deadline."""

    async def answer(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        if action == "silent":
            await anyio.sleep(1.5)
            return ElicitResult(action="accept")
        return ElicitResult(action=action)  # type: ignore[arg-type]

    return answer
