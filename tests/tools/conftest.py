"""Fixtures of the tool tests: one real stdio server per test module (starting one takes seconds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from _mcp import shared_stdio_server
from mcp import Client

API_KEY = "sk-tinyfish-emulator"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def mcp(emulator_server: Any) -> AsyncIterator[Client]:
    """``python -m tinyfish_mcp`` on stdio against the session emulator, shared by a module's tests.

    The client negotiates the 2026-07-28 era (no handshake); tests of the legacy era start
    their own server.
    """
    async for client in shared_stdio_server(emulator_server.base_url, API_KEY):
        yield client
