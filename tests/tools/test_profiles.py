"""Profile setup through a real MCP client: open the setup browser, connect, save, run with it."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import httpx
from _browsers import process_exists, require_chromium
from _inmemory import connect, error_text, structured
from _mcp import stdio_server
from websockets.sync.client import connect as ws_connect


async def test_profile_is_set_up_through_its_browser_saved_and_used_by_a_run(emulator: Any) -> None:
    async with stdio_server(emulator, toolsets="profiles,agent") as client:
        setup = structured(
            await client.call_tool(
                "start_profile_setup_session", {"profile_id": "prof_shop", "url": "shop.example.com/login"}
            )
        )
        assert setup["cdp_url"].startswith("ws://") and setup["session_id"] in setup["cdp_url"]
        assert setup["viewer_url"].startswith(setup["base_url"] + "/devtools/inspector.html")
        assert "save_profile_setup_session(profile_id='prof_shop'" in setup["next_step"]
        # Connect to the setup browser the way a CDP client starts: its DevTools target list.
        pages = httpx.get(f"{setup['base_url']}/pages", timeout=10).json()
        assert [page["url"] for page in pages] == ["https://shop.example.com/login"]

        result = structured(
            await client.call_tool(
                "save_profile_setup_session",
                {
                    "profile_id": "prof_shop",
                    "session_id": setup["session_id"],
                    "signed_in_sites": ["shop.example.com", "https://other.example.org"],
                },
            )
        )
        assert result["domains_updated"] == ["shop.example.com"] and result["cookie_count"] > 0
        assert result["signed_in_sites"] == ["shop.example.com"]
        assert result["rejected_sites"] == ["https://other.example.org (no_sign_in_cookie)"]
        # The setup browser is closed once saved.
        assert httpx.get(f"{setup['base_url']}/pages", timeout=10).status_code == 404

        run = await client.call_tool(
            "run_web_automation",
            {"url": "https://shop.example.com/orders", "goal": "List my orders", "profile_id": "prof_shop"},
        )
    assert structured(run)["status"] == "COMPLETED"
    bodies = [r["body"] for r in emulator.requests() if r["path"] == "/v1/automation/run-sse"]
    assert len(bodies) == 1
    assert (bodies[0]["use_profile"], bodies[0]["profile_id"]) == (True, "prof_shop")
    paths = [r["path"] for r in emulator.requests() if r["path"].startswith("/v1/profiles")]
    assert paths == ["/v1/profiles/prof_shop/setup-session", "/v1/profiles/prof_shop/save"]


async def test_cancelled_setup_saves_nothing_and_a_stale_session_is_named(emulator: Any) -> None:
    async with connect(emulator, mcp_toolsets=("profiles",)) as client:
        setup = structured(await client.call_tool("start_profile_setup_session", {"profile_id": "prof_x"}))
        assert "viewer_url" not in setup  # no url: the browser is on about:blank
        cancelled = structured(
            await client.call_tool(
                "cancel_profile_setup_session", {"profile_id": "prof_x", "session_id": setup["session_id"]}
            )
        )
        assert cancelled == {"profile_id": "prof_x", "session_id": setup["session_id"], "cancelled": True}
        stale = error_text(
            await client.call_tool(
                "save_profile_setup_session", {"profile_id": "prof_x", "session_id": setup["session_id"]}
            )
        )
        bad = error_text(
            await client.call_tool("start_profile_setup_session", {"profile_id": "prof_x", "url": "ftp://x"})
        )
    assert "NOT_FOUND" in stale and "the session_id comes from start_profile_setup_session" in stale
    assert "`url` must be an absolute http:// or https:// URL" in bad


async def test_setup_browser_is_a_real_chromium_driven_over_its_cdp_url(chromium_emulator: Any) -> None:
    require_chromium()
    emulator = chromium_emulator
    page = f"{emulator.base_url}/_fixtures/article.html"
    async with connect(emulator, mcp_toolsets=("profiles", "agent")) as client:
        setup = structured(await client.call_tool("start_profile_setup_session", {"profile_id": "prof_real"}))
        assert setup["cdp_url"].startswith("ws://127.0.0.1:") and "/devtools/browser/" in setup["cdp_url"]
        pid = emulator.browser(setup["session_id"])["pid"]
        # Sign in the way a user's Playwright script would: drive the browser over CDP.
        with ws_connect(setup["cdp_url"]) as socket:
            socket.send(json.dumps({"id": 1, "method": "Target.createTarget", "params": {"url": page}}))
            assert "targetId" in json.loads(socket.recv(timeout=10))["result"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            urls = [p["url"] for p in httpx.get(f"{setup['base_url']}/pages", timeout=10).json()]
            if page in urls:
                break
            await anyio.sleep(0.1)
        result = structured(
            await client.call_tool(
                "save_profile_setup_session",
                {"profile_id": "prof_real", "session_id": setup["session_id"], "signed_in_sites": [page]},
            )
        )
        assert result["domains_updated"] == ["127.0.0.1"] and result["signed_in_sites"] == ["127.0.0.1"]
        assert "rejected_sites" not in result
        deadline = time.monotonic() + 10
        while process_exists(pid) and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        assert not process_exists(pid), "saving closes the setup browser"
        run = structured(
            await client.call_tool(
                "run_web_automation", {"url": page, "goal": "Read the article", "profile_id": "prof_real"}
            )
        )
    assert run["status"] == "COMPLETED"


async def test_a_stdio_client_that_exits_leaves_no_setup_browser_behind(chromium_emulator: Any) -> None:
    """A setup browser bills like any browser session, so it is closed with them when the client goes."""
    require_chromium()
    emulator = chromium_emulator
    env = {"TINYFISH_MCP_TOOLSETS": "profiles,browser"}
    async with stdio_server(emulator, env=env) as client:
        setup = structured(
            await client.call_tool("start_profile_setup_session", {"profile_id": "prof_left_open"})
        )
        listed = structured(await client.call_tool("list_browser_sessions", {}))["sessions"]
        assert [row["session_id"] for row in listed] == [setup["session_id"]]
    # Leaving the block closed the server's stdin, as a desktop client does when it quits.
    pid = emulator.browser(setup["session_id"])["pid"]
    deadline = time.monotonic() + 15
    while process_exists(pid) and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    assert not process_exists(pid)
