"""create_browser_session and list_browser_sessions against the emulator's Browser API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _inmemory import connect, error_text, structured
from _mcp import stdio_server

from tinyfish_mcp.tools.browser import SessionRecord, SessionRegistry, session_info
from tinyfish_mcp.upstream.models import BrowserSession


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def browser_requests(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"] == "/v1/browser"]


async def test_session_with_url_has_inspector_and_short_default_timeout(emulator: Any) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    async with connect(emulator) as client:
        session = structured(await client.call_tool("create_browser_session", {"url": "shop.example.com"}))
    sid = session["session_id"]
    assert sid.startswith("br-")
    assert session["cdp_url"] == f"ws://{emulator.base_url.removeprefix('http://')}/_browser/{sid}/cdp"
    assert session["base_url"] == f"{emulator.base_url}/_browser/{sid}"
    # The emulator shows about:blank first; the tool polled /pages until the page navigated.
    assert session["inspector_url"].startswith(f"{session['base_url']}/devtools/inspector.html?ws=")
    assert "note" not in session
    assert (
        session["connect_hint"]
        == f"Playwright: browser = await chromium.connect_over_cdp({session['cdp_url']!r})"
    )
    expires = parse_time(session["expires_at"])
    assert before + timedelta(seconds=300) <= expires <= datetime.now(UTC) + timedelta(seconds=301)
    (sent,) = browser_requests(emulator)
    assert sent["body"] == {"url": "https://shop.example.com", "timeout_seconds": 300}
    pages_polls = [r for r in emulator.requests() if r["path"].endswith("/pages")]
    assert 1 <= len(pages_polls) <= 8


async def test_session_without_url_is_blank_and_not_polled(emulator: Any) -> None:
    async with connect(emulator) as client:
        session = structured(await client.call_tool("create_browser_session", {"timeout_seconds": 60}))
    assert "inspector_url" not in session  # not navigated: left out (null)
    assert "about:blank" in session["note"]
    assert [r["path"] for r in emulator.requests()] == ["/v1/browser"]
    assert browser_requests(emulator)[0]["body"] == {"timeout_seconds": 60}


@pytest.mark.parametrize("timeout", [4, 86401])
async def test_timeout_bounds_refused_before_any_request(emulator: Any, timeout: int) -> None:
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("create_browser_session", {"timeout_seconds": timeout}))
    assert f"timeout_seconds must be between 5 and 86400 (got {timeout})" in text
    assert emulator.requests() == []


async def test_timeout_bounds_are_accepted(emulator: Any) -> None:
    async with connect(emulator) as client:
        for timeout in (5, 86400):
            structured(await client.call_tool("create_browser_session", {"timeout_seconds": timeout}))
    assert [r["body"]["timeout_seconds"] for r in browser_requests(emulator)] == [5, 86400]


async def test_other_schemes_refused(emulator: Any) -> None:
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("create_browser_session", {"url": "javascript:alert(1)"}))
    assert "only http:// and https://" in text
    assert emulator.requests() == []


async def test_sessions_are_listed_per_key(emulator: Any) -> None:
    current = {"key": emulator.api_key}

    async def resolve() -> str:
        return current["key"]

    async with connect(emulator, resolve_key=resolve) as client:
        first = structured(await client.call_tool("create_browser_session", {"timeout_seconds": 5}))
        second = structured(await client.call_tool("create_browser_session", {"url": "example.org"}))
        mine = structured(await client.call_tool("list_browser_sessions", {}))

        current["key"] = emulator.other_key
        theirs = structured(await client.call_tool("list_browser_sessions", {}))
        other = structured(await client.call_tool("create_browser_session", {}))
        theirs_after = structured(await client.call_tool("list_browser_sessions", {}))

        current["key"] = emulator.api_key
        mine_after = structured(await client.call_tool("list_browser_sessions", {}))

    assert [s["session_id"] for s in mine["sessions"]] == [second["session_id"], first["session_id"]]
    assert theirs["sessions"] == []
    assert [s["session_id"] for s in theirs_after["sessions"]] == [other["session_id"]]
    assert [s["session_id"] for s in mine_after["sessions"]] == [second["session_id"], first["session_id"]]
    row = mine["sessions"][1]
    assert row["status"] == "active"
    assert row["expires_at"] == first["expires_at"]
    assert parse_time(row["expires_at"]) - parse_time(row["last_activity"]) == timedelta(seconds=5)
    assert row["created_at"] == row["last_activity"]  # no /pages poll without a url
    assert {"cdp_url", "base_url"} <= row.keys()
    assert "Only sessions created through this server" in mine["note"]


async def test_no_credit_key_and_missing_key(emulator: Any) -> None:
    async with connect(emulator, api_key=emulator.no_credit_key) as client:
        text = error_text(await client.call_tool("create_browser_session", {}))
        listed = structured(await client.call_tool("list_browser_sessions", {}))
    assert "INSUFFICIENT_CREDITS" in text and "add credits" in text
    assert listed["sessions"] == []
    async with connect(emulator, api_key=None) as client:
        text = error_text(await client.call_tool("list_browser_sessions", {}))
    assert "TINYFISH_API_KEY" in text


def test_status_turns_expired_after_the_inactivity_timeout() -> None:
    created = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    session = BrowserSession(session_id="br-1", cdp_url="ws://h/cdp", base_url="http://h")
    record = SessionRecord(session=session, timeout=300, created_at=created, last_activity=created)
    registry = SessionRegistry()
    registry.add("sk-one", record)
    (stored,) = registry.list("sk-one")
    assert registry.list("sk-two") == []
    assert "sk-one" not in repr(registry)  # keys are held as digests only
    assert session_info(stored, created + timedelta(seconds=299)).status == "active"
    later = session_info(stored, created + timedelta(seconds=300))
    assert later.status == "expired"
    assert later.expires_at == "2026-01-01T12:05:00Z"


async def test_over_stdio(emulator: Any) -> None:
    """The real server process, as a desktop client starts it."""
    async with stdio_server(emulator) as client:
        created = structured(
            await client.call_tool("create_browser_session", {"url": "example.com", "timeout_seconds": 120})
        )
        listed = structured(await client.call_tool("list_browser_sessions", {}))
    assert created["inspector_url"].startswith(created["base_url"])
    (row,) = listed["sessions"]
    assert (row["session_id"], row["status"], row["expires_at"]) == (
        created["session_id"],
        "active",
        created["expires_at"],
    )


def test_long_expired_sessions_are_forgotten_and_memory_is_bounded() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def record(n: int, created: datetime) -> SessionRecord:
        session = BrowserSession(session_id=f"br-{n}", cdp_url="ws://h/cdp", base_url="http://h")
        return SessionRecord(session=session, timeout=60, created_at=created, last_activity=created)

    registry = SessionRegistry()
    registry.add("sk-one", record(0, start))
    registry.add("sk-one", record(1, start + timedelta(hours=23)))
    assert [r.session.session_id for r in registry.list("sk-one")] == ["br-1", "br-0"]
    registry.add("sk-one", record(2, start + timedelta(hours=25)))
    assert [r.session.session_id for r in registry.list("sk-one")] == ["br-2", "br-1"]
    for n in range(3, 80):
        registry.add("sk-one", record(n, start + timedelta(hours=25)))
    kept = registry.list("sk-one")
    assert len(kept) == 50 and kept[0].session.session_id == "br-79"
