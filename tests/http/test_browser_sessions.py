"""Hosted browser sessions: recorded in the shared store, owned by the signed-in user.

Two replicas of the real app share one database; two users sign in with their own keys.
Each user lists and closes only their own sessions, from either replica.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from _browsers import process_exists
from _mcp import result_json, result_text
from hosted import SECRET, Served, serve_app
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from oauth_helpers import sdk_sign_in


def _signed_in(served: Served, api_key: str) -> httpx2.AsyncClient:
    """An HTTP client that signs ``api_key``'s user in on ``served`` (tokens are bound to it)."""
    return sdk_sign_in(served.url, api_key, client_name="Browser test").http()


async def _call(served: Served, http: httpx2.AsyncClient, tool: str, args: dict[str, Any]) -> Any:
    async with Client(streamable_http_client(served.mcp_url, http_client=http)) as client:
        return await client.call_tool(tool, args)


async def test_each_user_sees_and_closes_only_their_own_sessions_on_any_replica(
    chromium_emulator: Any, tmp_path: Path
) -> None:
    emulator = chromium_emulator
    shared = {
        "mcp_auth": "oauth",
        "mcp_secret": SECRET,
        "mcp_database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "base_url": emulator.base_url,
    }
    with serve_app(**shared) as first, serve_app(**shared) as second:
        # Tokens are bound to a replica's URL, so each user signs in on each replica.
        async with (
            _signed_in(first, emulator.api_key) as alice,
            _signed_in(second, emulator.api_key) as alice_2,
            _signed_in(second, emulator.other_key) as bob_2,
        ):
            created = result_json(await _call(first, alice, "create_browser_session", {}))
            sid = created["session_id"]
            pid = emulator.browser(sid)["pid"]

            bob_list = result_json(await _call(second, bob_2, "list_browser_sessions", {}))
            bob_one = result_json(await _call(second, bob_2, "list_browser_sessions", {"session_id": sid}))
            bob_close = await _call(second, bob_2, "close_browser_session", {"session_id": sid})
            assert bob_list["sessions"] == [] and bob_one["sessions"] == []
            assert bob_close.is_error and "was created through this server for you" in result_text(bob_close)
            assert emulator.browser(sid)["alive"] and process_exists(pid)

            alice_list = result_json(await _call(second, alice_2, "list_browser_sessions", {}))
            assert [(s["session_id"], s["status"]) for s in alice_list["sessions"]] == [(sid, "running")]
            closed = result_json(await _call(second, alice_2, "close_browser_session", {"session_id": sid}))
            assert closed["closed_now"] is True

            deadline = time.monotonic() + 15
            while process_exists(pid) and time.monotonic() < deadline:
                await anyio.sleep(0.1)
            assert not process_exists(pid)
            # The other replica reads the end from the shared store.
            after = result_json(await _call(first, alice, "list_browser_sessions", {}))
            again = result_json(await _call(first, alice, "close_browser_session", {"session_id": sid}))
    assert after["sessions"][0]["status"] == "ended"
    assert again["closed_now"] is False
