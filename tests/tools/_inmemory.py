"""Driving the real server in-process: ``Client(build_server(settings))`` against the emulator.

Used by the fetch, search, browser and vault tool tests for the many validation and
limit cases; each tool also has a test through the stdio subprocess (``tests/_mcp.py``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from _mcp import CheckedClient
from mcp import Client
from mcp_types import CallToolResult, TextContent

from tinyfish_mcp.runtime.context import KeyResolver
from tinyfish_mcp.server import build_server
from tinyfish_mcp.settings import Settings
from tinyfish_mcp.upstream.client import TinyFishClient

__all__ = ["connect", "emulator_settings", "error_text", "structured"]


def emulator_settings(emulator: Any, **overrides: Any) -> Settings:
    """Settings pointed at the emulator, with retry backoffs small enough for tests."""
    values: dict[str, Any] = {
        "api_key": emulator.api_key,
        "base_url": emulator.base_url,
        "max_retries": 1,
        "retry_initial_backoff": 0.01,
        "retry_max_backoff": 0.05,
        "search_rate_limit_backoff": 0.05,
        "retry_max_total_wait": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def connect(
    emulator: Any, *, resolve_key: KeyResolver | None = None, mode: str = "auto", **overrides: Any
) -> AsyncIterator[Client]:
    """An MCP client connected in-process to a server built from emulator settings."""
    settings = emulator_settings(emulator, **overrides)
    async with TinyFishClient(settings) as upstream:
        server = build_server(settings, client=upstream, resolve_key=resolve_key)
        async with CheckedClient(server, mode=mode) as client:
            yield client


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call (and the text block agrees with it)."""
    assert not result.is_error, _text(result)
    data: dict[str, Any] | None = result.structured_content
    assert data is not None
    assert json.loads(_text(result)) == data
    return data


def error_text(result: CallToolResult) -> str:
    """The message of a tool error."""
    assert result.is_error, result.structured_content
    return _text(result)


def _text(result: CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, TextContent)
    return block.text
