"""The hosted app's hygiene and its no-auth loopback mode, over real sockets."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from _mcp import INITIALIZE, CheckedClient, ProgressLog, result_json, settled_run
from hosted import MCP_HEADERS, Served
from mcp.client.streamable_http import streamable_http_client

from tinyfish_mcp.http.app import create_app
from tinyfish_mcp.http.security import ConfigError
from tinyfish_mcp.settings import Settings


def test_healthz_answers_without_a_token(oauth_server: Served) -> None:
    response = httpx.get(f"{oauth_server.url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_mcp_without_a_token_is_challenged_with_absolute_metadata_url(oauth_server: Served) -> None:
    response = httpx.post(oauth_server.mcp_url, json=INITIALIZE, headers=MCP_HEADERS)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{oauth_server.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    # Both the path-suffixed and the root metadata documents name this server as the resource.
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ):
        prm = httpx.get(oauth_server.url + path).json()
        assert prm["resource"] == oauth_server.mcp_url
    metadata = httpx.get(f"{oauth_server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["client_id_metadata_document_supported"] is True


def test_oversized_body_is_refused_with_413(open_server: Served) -> None:
    limit = open_server.settings.mcp_max_body_bytes
    big = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * (limit + 10)}}
    response = httpx.post(open_server.mcp_url, json=big, headers=MCP_HEADERS)
    assert response.status_code == 413
    consent = httpx.post(f"{open_server.url}/healthz", content=b"x" * (limit + 1))
    assert consent.status_code == 413


def test_foreign_origin_and_host_are_refused(open_server: Served) -> None:
    bad_origin = httpx.post(
        open_server.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "https://evil.example"}
    )
    assert bad_origin.status_code == 403
    bad_host = httpx.post(
        open_server.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example"}
    )
    assert bad_host.status_code == 421
    good = httpx.post(
        open_server.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://localhost:6274"}
    )
    assert good.status_code == 200


def test_cors_preflight_lets_a_browser_client_on_loopback_in(open_server: Served) -> None:
    response = httpx.options(
        open_server.mcp_url,
        headers={
            "Origin": "http://localhost:6274",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,mcp-protocol-version",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:6274"
    refused = httpx.options(
        open_server.mcp_url,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_no_auth_mode_serves_tools_with_progress_over_http(open_server: Served) -> None:
    progress = ProgressLog()
    async with CheckedClient(streamable_http_client(open_server.mcp_url)) as client:
        result = await client.call_tool(
            "run_web_automation",
            {"url": "https://shop.example.com/?tf_steps=4", "goal": "List products"},
            progress_callback=progress,
        )
    run = result_json(result)
    assert run["status"] == "COMPLETED"
    step_messages = [m for m in progress.messages if m and m.startswith("Step")] or progress.messages
    assert len(step_messages) >= 4


async def test_unauthenticated_mode_refuses_a_public_bind() -> None:
    settings = Settings(mcp_auth="none", mcp_host="0.0.0.0", api_key="sk-x")  # noqa: S104
    with pytest.raises(ConfigError, match="without authentication"):
        await create_app(settings)


async def test_oauth_mode_without_a_secret_explains_what_to_set(tmp_path: Any) -> None:
    settings = Settings(mcp_auth="oauth", mcp_database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigError, match="TINYFISH_MCP_SECRET"):
        await create_app(settings)


async def test_closing_the_call_over_http_cancels_the_upstream_run(
    open_server: Served, emulator: Any
) -> None:
    progress = ProgressLog()
    async with CheckedClient(streamable_http_client(open_server.mcp_url)) as client:
        with anyio.move_on_after(0.8):
            await client.call_tool(
                "run_web_automation",
                {"url": "https://a.example/?tf_scenario=slow&tf_steps=30&tf_step_delay=0.1", "goal": "slow"},
                progress_callback=progress,
            )
    run = await settled_run(emulator, progress.run_id())
    assert run["status"] == "CANCELLED" and run["cancel_requested"] is True


async def test_a_started_server_freezes_its_start_up_heap(emulator: Any) -> None:
    """Once serving, no collection walks what start-up built (``gctune.py``)."""
    import gc

    from tinyfish_mcp.gctune import YOUNG_THRESHOLD

    default = gc.get_threshold()
    app = await create_app(Settings(mcp_auth="none", api_key=emulator.api_key, base_url=emulator.base_url))
    try:
        frozen_before = gc.get_freeze_count()
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > frozen_before
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*default)
