"""Errors say what is wrong, in bounded words: an argument too long for the URL, an unknown id."""

from __future__ import annotations

from typing import Any

import pytest
from _inmemory import connect, error_text
from mcp.shared.exceptions import MCPError


async def test_a_query_too_long_for_the_url_is_an_input_error_naming_it(emulator: Any) -> None:
    async with connect(emulator) as client:
        result = await client.call_tool("search", {"query": "\U0001f41f" * 10_000})
    text = error_text(result)
    assert text.startswith("Error executing tool search: query: too long to send"), text
    assert "6,000 bytes" in text and "10,000 characters" in text
    assert "reach" not in text and "network" not in text
    # Nothing was sent upstream.
    assert not [r for r in emulator.requests() if "search" in r["path"]]


@pytest.mark.parametrize("uri", ["tinyfish://runs/" + "r" * 100_000, "tinyfish://nothing/" + "x" * 100_000])
async def test_an_unknown_resource_is_quoted_bounded(emulator: Any, uri: str) -> None:
    async with connect(emulator) as client:
        with pytest.raises(MCPError) as raised:
            await client.read_resource(uri)
    message = str(raised.value)
    assert len(message) < 600, message[:300]
    assert "100,0" in message or "characters" in message, message
