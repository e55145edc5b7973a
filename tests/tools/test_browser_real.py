"""The browser tools driving real Chromium sessions, as a user does: Playwright over CDP.

The emulator (``chromium_emulator``) starts a headless Chromium per session; the tests
serve their own page on loopback, so nothing leaves the machine. Without Chromium these
tests are skipped, and under ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import anyio
import pytest
from _browsers import process_exists
from _inmemory import connect, structured
from _mcp import stdio_server
from _servers import Answer, loopback_site
from playwright.async_api import async_playwright

TITLE = "Served by the test on loopback"


def _page(path: str, headers: Mapping[str, str]) -> Answer:
    return "text/html; charset=utf-8", f"<!DOCTYPE html><title>{TITLE}</title><p>path {path}</p>".encode(), {}


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    with loopback_site(_page) as origin:
        yield f"{origin}/hello"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def gone(emulator: Any, session_id: str, pid: int, within: float = 15.0) -> bool:
    """Wait (at most ``within`` s) until the session's Chromium process no longer exists."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not process_exists(pid) and not emulator.browser(session_id)["alive"]:
            return True
        await anyio.sleep(0.1)
    return False


async def test_create_drive_with_playwright_list_close(chromium_emulator: Any, page_url: str) -> None:
    emulator = chromium_emulator
    async with stdio_server(emulator) as client:
        created = structured(await client.call_tool("create_browser_session", {"timeout_seconds": 600}))
        sid = created["session_id"]
        seen = emulator.browser(sid)
        assert seen["real"] and seen["alive"] and process_exists(seen["pid"])
        assert created["cdp_url"].startswith("ws://127.0.0.1:") and "/devtools/browser/" in created["cdp_url"]

        async with async_playwright() as playwright:
            browser = await playwright.chromium.connect_over_cdp(created["cdp_url"])
            page = browser.contexts[0].pages[0]
            await page.goto(page_url)
            assert await page.title() == TITLE
            listed = structured(await client.call_tool("list_browser_sessions", {}))
            await browser.close()  # only disconnects: the session goes on

        (row,) = listed["sessions"]
        assert row["session_id"] == sid and row["status"] == "running"
        assert row["cdp_url"] == created["cdp_url"]
        assert parse_time(row["last_activity"]) > parse_time(row["created_at"])  # the page changed
        assert parse_time(row["expires_at"]) > parse_time(created["expires_at"])
        assert emulator.browser(sid)["alive"]

        closed = structured(await client.call_tool("close_browser_session", {"session_id": sid}))
        assert closed["closed_now"] is True and closed["session_id"] == sid and "ended_at" in closed
        assert await gone(emulator, sid, seen["pid"])
        assert emulator.browser(sid)["end_reason"] == "closed"

        after = structured(await client.call_tool("list_browser_sessions", {}))
        again = structured(await client.call_tool("close_browser_session", {"session_id": sid}))
        ended = structured(await client.call_tool("list_browser_sessions", {"status": "ended"}))
    (row,) = after["sessions"]
    assert row["status"] == "ended" and "cdp_url" not in row and "ended_at" in row
    assert again["closed_now"] is False and again["ended_at"] == row["ended_at"]
    assert [s["session_id"] for s in ended["sessions"]] == [sid]


async def test_start_url_is_loaded_and_listing_notices_a_session_that_ended(
    chromium_emulator: Any, page_url: str
) -> None:
    """A session ended behind our back (Browser.close from the user's own code) is listed ended."""
    emulator = chromium_emulator
    async with connect(emulator) as client:
        created = structured(await client.call_tool("create_browser_session", {"url": page_url}))
        sid = created["session_id"]
        pid = emulator.browser(sid)["pid"]
        assert "inspector_url" in created  # the start page loaded, so /pages named it
        async with async_playwright() as playwright:
            browser = await playwright.chromium.connect_over_cdp(created["cdp_url"])
            assert await browser.contexts[0].pages[0].title() == TITLE
            cdp = await browser.new_browser_cdp_session()
            await cdp.send("Browser.close")
        assert await gone(emulator, sid, pid)
        (row,) = structured(await client.call_tool("list_browser_sessions", {}))["sessions"]
        closed = structured(await client.call_tool("close_browser_session", {"session_id": sid}))
    assert row["status"] == "ended"
    assert closed["closed_now"] is False


async def test_stdio_client_that_exits_leaves_no_browser_behind(chromium_emulator: Any) -> None:
    emulator = chromium_emulator
    async with stdio_server(emulator) as client:
        sessions = [structured(await client.call_tool("create_browser_session", {})) for _ in range(2)]
    # Leaving the block closed the server's stdin, as a desktop client does when it quits.
    for session in sessions:
        seen = emulator.browser(session["session_id"])
        assert await gone(emulator, session["session_id"], seen["pid"]), seen
        assert emulator.browser(session["session_id"])["end_reason"] == "closed"


async def test_keep_browser_sessions_leaves_them_open(chromium_emulator: Any) -> None:
    emulator = chromium_emulator
    env = {"TINYFISH_MCP_KEEP_BROWSER_SESSIONS": "true"}
    async with stdio_server(emulator, env=env) as client:
        session = structured(await client.call_tool("create_browser_session", {}))
    seen = emulator.browser(session["session_id"])
    assert seen["alive"] and process_exists(seen["pid"])
    emulator.reset()  # the emulator's reset kills every browser it started
    deadline = time.monotonic() + 15
    while process_exists(seen["pid"]) and time.monotonic() < deadline:
        await anyio.sleep(0.1)
    assert not process_exists(seen["pid"])


@pytest.mark.skipif(os.name != "posix", reason="signals")
async def test_sigterm_closes_the_sessions_too(chromium_emulator: Any) -> None:
    """A client that stops the server with SIGTERM (and never closes stdin) leaks nothing either."""
    import subprocess
    import sys

    emulator = chromium_emulator
    # The SDK's client cannot signal its server: the protocol is driven by hand here.
    env = {**os.environ, "TINYFISH_BASE_URL": emulator.base_url, "TINYFISH_API_KEY": emulator.api_key}
    with subprocess.Popen(
        [sys.executable, "-m", "tinyfish_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as server:
        await _create_then_terminate(emulator, server)


async def _create_then_terminate(emulator: Any, server: Any) -> None:
    import json
    import signal

    try:
        assert server.stdin is not None and server.stdout is not None
        lines = [
            '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
            '"capabilities":{},"clientInfo":{"name":"t","version":"0"}}}',
            '{"jsonrpc":"2.0","method":"notifications/initialized"}',
            '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_browser_session",'
            '"arguments":{}}}',
        ]
        for line in lines:
            server.stdin.write(line.encode() + b"\n")
        server.stdin.flush()
        reply: dict[str, Any] = {}
        while reply.get("id") != 2:
            reply = json.loads(await anyio.to_thread.run_sync(server.stdout.readline))
        sid = reply["result"]["structuredContent"]["session_id"]
        pid = emulator.browser(sid)["pid"]
        server.send_signal(signal.SIGTERM)
        assert await anyio.to_thread.run_sync(lambda: server.wait(timeout=30)) is not None
        assert await gone(emulator, sid, pid)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
