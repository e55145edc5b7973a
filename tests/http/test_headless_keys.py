"""Headless clients of the hosted server: a TinyFish API key instead of the OAuth sign-in, over real HTTP."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from _mcp import INITIALIZE
from hosted import MCP_HEADERS, Served, serve_oauth
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def _oauth(emulator: Any, tmp_path: Path, **overrides: Any) -> AbstractContextManager[Served]:
    return serve_oauth(emulator.base_url, tmp_path, **overrides)


def _key_checks(emulator: Any) -> int:
    """Upstream key checks: the one cheap call (list one run)."""
    return sum(1 for r in emulator.requests() if r["path"] == "/v1/runs" and r["method"] == "GET")


@pytest.mark.parametrize("how", ["x-api-key", "bearer"])
async def test_a_tinyfish_key_connects_without_a_browser(how: str, emulator: Any, tmp_path: Path) -> None:
    headers = (
        {"X-API-Key": emulator.api_key}
        if how == "x-api-key"
        else {"Authorization": f"Bearer {emulator.api_key}"}
    )
    with _oauth(emulator, tmp_path) as served:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(served.mcp_url, http_client=http)) as client,
        ):
            first = await client.call_tool("list_vault_items", {})
            second = await client.call_tool("list_vault_items", {})
    assert not first.is_error and not second.is_error
    assert first.structured_content is not None and len(first.structured_content["items"]) == 3
    # The tools ran with this very key...
    vault = [r for r in emulator.requests() if r["path"].startswith("/v1/vault")]
    assert vault and all(emulator.api_key.endswith(r["key_suffix"]) for r in vault)
    # ...and the key was checked upstream once for the whole conversation (cached briefly).
    assert _key_checks(emulator) == 1


async def test_a_refused_key_gets_the_oauth_challenge(emulator: Any, tmp_path: Path) -> None:
    with _oauth(emulator, tmp_path) as served:
        async with httpx2.AsyncClient(timeout=30) as http:
            refused = await http.post(
                served.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, "X-API-Key": "sk-tinyfish-not-a-key"}
            )
            anonymous = await http.post(served.mcp_url, json=INITIALIZE, headers=MCP_HEADERS)
    for response in (refused, anonymous):
        assert response.status_code == 401
        assert 'resource_metadata="' in response.headers["www-authenticate"]
    assert "sk-tinyfish-not-a-key" not in refused.text


async def test_the_setting_turns_it_off(emulator: Any, tmp_path: Path) -> None:
    with _oauth(emulator, tmp_path, mcp_headless_api_keys=False) as served:
        async with httpx2.AsyncClient(timeout=30) as http:
            response = await http.post(
                served.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, "X-API-Key": emulator.api_key}
            )
    assert response.status_code == 401
    assert _key_checks(emulator) == 0
