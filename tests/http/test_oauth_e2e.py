"""The hosted server end to end: OAuth sign-in with the SDK's client, then real tool calls.

uvicorn serves the real app on a loopback port; the SDK's OAuth client provider does
discovery, registration and the token exchange, a scripted browser submits the consent
form, and the tools reach the emulator with the signed-in user's own key.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx2
from _mcp import INITIALIZE, CheckedClient, ProgressLog, result_json, result_text
from hosted import MCP_HEADERS, SECRET, Served, serve_app
from mcp.client.streamable_http import streamable_http_client
from oauth_helpers import MemoryTokenStorage, sdk_sign_in


async def _signed_in_client(served: Served, api_key: str) -> tuple[httpx2.AsyncClient, MemoryTokenStorage]:
    signing_in = sdk_sign_in(served.url, api_key, client_name="E2E Client")
    return signing_in.http(), signing_in.storage


async def test_sign_in_run_with_progress_refresh_and_revoke(oauth_server: Served, emulator: Any) -> None:
    http, storage = await _signed_in_client(oauth_server, emulator.api_key)
    progress = ProgressLog()
    async with (
        http,
        CheckedClient(streamable_http_client(oauth_server.mcp_url, http_client=http)) as client,
    ):
        result = await client.call_tool(
            "run_web_automation",
            {"url": "https://shop.example.com/?tf_steps=3", "goal": "List the products"},
            progress_callback=progress,
        )
    run = result_json(result)
    assert run["status"] == "COMPLETED"
    # Progress streamed on the tool call's response: STARTED names the run, then each step.
    assert any(run["run_id"] in (m or "") for m in progress.messages)
    assert progress.counters == sorted(progress.counters) and len(set(progress.counters)) == len(
        progress.counters
    )
    # The run was made with the signed-in user's key, which never left the server otherwise.
    assert emulator.run(run["run_id"])["owner_key_suffix"] == emulator.api_key[-4:]
    tokens = storage.tokens
    client_info = storage.client_info
    assert tokens is not None and tokens.refresh_token and client_info is not None

    async with httpx2.AsyncClient(base_url=oauth_server.url) as raw:
        refreshed = await raw.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token,
                "client_id": client_info.client_id,
                "resource": oauth_server.mcp_url,
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        new_access = refreshed.json()["access_token"]
        assert new_access != tokens.access_token
        listed = await _raw_tool_call(raw, new_access, "list_runs", {"limit": 5})
        assert listed.status_code == 200 and run["run_id"] in listed.text

        revoked = await raw.post("/revoke", data={"token": new_access, "client_id": client_info.client_id})
        assert revoked.status_code == 200, revoked.text
        after = await _raw_tool_call(raw, new_access, "list_runs", {"limit": 5})
        assert after.status_code == 401
        assert 'resource_metadata="' + oauth_server.url in after.headers["www-authenticate"]


async def _raw_tool_call(http: httpx2.AsyncClient, token: str, name: str, arguments: dict[str, Any]) -> Any:
    """A stateless JSON-RPC initialize + tools/call with a bearer token, as any client sends it."""
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    first = await http.post("/mcp", json=INITIALIZE, headers=headers)
    if first.status_code != 200:
        return first
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return await http.post("/mcp", json=call, headers=headers)


async def test_two_users_at_once_never_see_each_others_runs(oauth_server: Served, emulator: Any) -> None:
    async def user(api_key: str) -> tuple[str, str, str]:
        http, _ = await _signed_in_client(oauth_server, api_key)
        async with (
            http,
            CheckedClient(streamable_http_client(oauth_server.mcp_url, http_client=http)) as client,
        ):
            started = result_json(
                await client.call_tool(
                    "run_web_automation_async",
                    {
                        "url": "https://site.example.com/?tf_scenario=slow&tf_steps=5&tf_step_delay=0.05",
                        "goal": "x",
                    },
                )
            )
            listed = result_text(await client.call_tool("list_runs", {"limit": 50}))
            return started["run_id"], listed, api_key

    (run_a, listed_a, _), (run_b, listed_b, _) = await asyncio.gather(
        user(emulator.api_key), user(emulator.other_key)
    )
    assert run_a in listed_a and run_b not in listed_a
    assert run_b in listed_b and run_a not in listed_b
    assert emulator.run(run_a)["owner_key_suffix"] == emulator.api_key[-4:]
    assert emulator.run(run_b)["owner_key_suffix"] == emulator.other_key[-4:]

    # And user B cannot read user A's run by id.
    http, _ = await _signed_in_client(oauth_server, emulator.other_key)
    async with (
        http,
        CheckedClient(streamable_http_client(oauth_server.mcp_url, http_client=http)) as client,
    ):
        peek = await client.call_tool("get_run", {"id": run_a})
    assert peek.is_error
    assert "NOT_FOUND" in result_text(peek)


async def test_consent_page_refuses_a_key_the_upstream_rejects(oauth_server: Served) -> None:
    http, storage = await _signed_in_client(oauth_server, "sk-tinyfish-not-a-real-key")
    failed: BaseException | None = None
    try:
        async with http, CheckedClient(streamable_http_client(oauth_server.mcp_url, http_client=http)):
            pass
    except BaseException as exc:  # the scripted browser's assertion on the consent answer
        failed = exc
    assert failed is not None
    assert storage.tokens is None


async def test_replicas_sharing_the_store_accept_each_others_tokens(emulator: Any, tmp_path: Any) -> None:
    """Two processes' worth of app (stateless, one database, one secret, one public URL), as
    behind a load balancer: a user signs in through one and is served by the other."""
    shared = {
        "mcp_auth": "oauth",
        "mcp_secret": SECRET,
        "mcp_database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "base_url": emulator.base_url,
        "mcp_token_cache_seconds": 0.3,
    }
    with serve_app(**shared) as first, serve_app(**shared, mcp_public_url=first.url) as second:
        http, storage = await _signed_in_client(first, emulator.api_key)
        async with http, CheckedClient(streamable_http_client(first.mcp_url, http_client=http)) as client:
            started = result_json(
                await client.call_tool("run_web_automation_async", {"url": "https://a.example/", "goal": "x"})
            )
        assert storage.tokens is not None
        token = storage.tokens.access_token
        async with httpx2.AsyncClient(base_url=second.url, timeout=30) as raw:
            listed = await _raw_tool_call(raw, token, "list_runs", {"limit": 5})
            assert listed.status_code == 200 and started["run_id"] in listed.text
        async with httpx2.AsyncClient(base_url=first.url) as raw:
            client_id = storage.client_info.client_id if storage.client_info else ""
            revoked = await raw.post("/revoke", data={"token": token, "client_id": client_id})
            assert revoked.status_code == 200
        # The second replica trusts its own recent check of the token for the stated bound.
        await anyio.sleep(0.35)
        async with httpx2.AsyncClient(base_url=second.url, timeout=30) as raw:
            refused = await _raw_tool_call(raw, token, "list_runs", {"limit": 5})
            assert refused.status_code == 401
