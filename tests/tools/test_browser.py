"""The browser tools against the emulator's stand-in sessions (no browser behind them).

The same tools driving real Chromium sessions are in ``test_browser_real.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _inmemory import connect, error_text, structured
from _mcp import stdio_server

from tinyfish_mcp.runtime.sessions import MemorySessionStore, SessionRecord, owner_of_key
from tinyfish_mcp.toolsets.browser import session_info


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
    assert "1 credit per 4 browser-minutes" in session["note"]
    assert f"close_browser_session(session_id='{sid}')" in session["note"]
    assert "after 300 s without CDP activity" in session["note"]
    assert "connect_over_cdp(cdp_url)" in session["note"]
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
    assert "about:blank" in session["note"] and "after 60 s without CDP activity" in session["note"]
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
    assert row["status"] == "running"
    assert parse_time(row["expires_at"]) - parse_time(row["last_activity"]) == timedelta(seconds=5)
    assert {"cdp_url", "base_url"} <= row.keys()
    assert "wherever it was created" in mine["note"]


async def test_no_credit_key_and_missing_key(emulator: Any) -> None:
    async with connect(emulator, api_key=emulator.no_credit_key) as client:
        text = error_text(await client.call_tool("create_browser_session", {}))
        listed = structured(await client.call_tool("list_browser_sessions", {}))
    assert "INSUFFICIENT_CREDITS" in text and "add credits" in text
    assert listed["sessions"] == []
    async with connect(emulator, api_key=None) as client:
        text = error_text(await client.call_tool("list_browser_sessions", {}))
    assert "TINYFISH_API_KEY" in text


def _record(n: int, created: datetime, timeout: int = 300, owner: str = "key:one") -> SessionRecord:
    return SessionRecord(
        session_id=f"br-{n}",
        owner=owner,
        cdp_url="ws://h/cdp",
        base_url="http://h",
        timeout_seconds=timeout,
        created_at=created,
        last_activity=created,
    )


def test_status_turns_ended_after_the_inactivity_timeout() -> None:
    created = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    record = _record(1, created)
    running = session_info(record, created + timedelta(seconds=299))
    assert (running.status, running.expires_at, running.cdp_url) == (
        "running",
        "2026-01-01T12:05:00.000Z",
        "ws://h/cdp",
    )
    later = session_info(record, created + timedelta(seconds=300))
    assert (later.status, later.expires_at, later.cdp_url) == ("ended", None, None)
    assert later.ended_at == "2026-01-01T12:05:00.000Z"


async def test_memory_store_is_per_owner_and_holds_no_key() -> None:
    store = MemorySessionStore()
    owner = owner_of_key("sk-one")
    await store.add(_record(1, datetime(2026, 1, 1, tzinfo=UTC), owner=owner))
    assert [r.session_id for r in await store.owned(owner)] == ["br-1"]
    assert await store.owned(owner_of_key("sk-two")) == []
    assert await store.get(owner_of_key("sk-two"), "br-1") is None
    assert "sk-one" not in repr(store._by_owner) and "sk-one" not in owner


async def test_over_stdio(emulator: Any) -> None:
    """The real server process, as a desktop client starts it."""
    async with stdio_server(emulator) as client:
        created = structured(
            await client.call_tool("create_browser_session", {"url": "example.com", "timeout_seconds": 120})
        )
        listed = structured(await client.call_tool("list_browser_sessions", {}))
    assert created["inspector_url"].startswith(created["base_url"])
    (row,) = listed["sessions"]
    assert (row["session_id"], row["status"]) == (created["session_id"], "running")


async def test_long_ended_sessions_are_forgotten_and_memory_is_bounded() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store = MemorySessionStore()
    await store.add(_record(0, start, timeout=60))
    await store.add(_record(1, start + timedelta(hours=23), timeout=60))
    assert [r.session_id for r in await store.owned("key:one")] == ["br-1", "br-0"]
    await store.add(_record(2, start + timedelta(hours=25), timeout=60))
    assert [r.session_id for r in await store.owned("key:one")] == ["br-2", "br-1"]
    for n in range(3, 80):
        await store.add(_record(n, start + timedelta(hours=25), timeout=60))
    kept = await store.owned("key:one")
    assert len(kept) == 50 and kept[0].session_id == "br-79"


async def test_closing_is_refused_for_unknown_and_foreign_sessions(emulator: Any) -> None:
    current = {"key": emulator.api_key}

    async def resolve() -> str:
        return current["key"]

    async with connect(emulator, resolve_key=resolve) as client:
        mine = structured(await client.call_tool("create_browser_session", {}))
        current["key"] = emulator.other_key
        foreign = error_text(
            await client.call_tool("close_browser_session", {"session_id": mine["session_id"]})
        )
        unknown = error_text(await client.call_tool("close_browser_session", {"session_id": "br-nope"}))
        empty = error_text(await client.call_tool("close_browser_session", {"session_id": "  "}))
        current["key"] = emulator.api_key
        (row,) = structured(await client.call_tool("list_browser_sessions", {}))["sessions"]
    assert f"No browser session '{mine['session_id']}' was created through this server for you" in foreign
    assert "No browser session 'br-nope'" in unknown and "list_browser_sessions" in unknown
    assert "session_id is empty" in empty
    assert row["status"] == "running"  # the other user's attempt changed nothing


async def test_listing_filters_by_id_and_status(emulator: Any) -> None:
    async with connect(emulator) as client:
        first = structured(await client.call_tool("create_browser_session", {}))
        second = structured(await client.call_tool("create_browser_session", {}))
        one = structured(await client.call_tool("list_browser_sessions", {"session_id": first["session_id"]}))
        running = structured(await client.call_tool("list_browser_sessions", {"status": "running"}))
        ended = structured(await client.call_tool("list_browser_sessions", {"status": "ended"}))
        missing = structured(await client.call_tool("list_browser_sessions", {"session_id": "br-nope"}))
        bad = error_text(await client.call_tool("list_browser_sessions", {"status": "active"}))
    assert [s["session_id"] for s in one["sessions"]] == [first["session_id"]]
    assert {s["session_id"] for s in running["sessions"]} == {first["session_id"], second["session_id"]}
    assert ended["sessions"] == []
    assert missing["sessions"] == [] and "No session 'br-nope'" in missing["note"]
    assert "status" in bad


async def test_proxy_config_is_sent_as_the_sdk_sends_it(emulator: Any) -> None:
    async with connect(emulator) as client:
        structured(
            await client.call_tool(
                "create_browser_session", {"proxy_config": {"enabled": True, "country_code": "DE"}}
            )
        )
        text = error_text(
            await client.call_tool("create_browser_session", {"proxy_config": {"type": "custom"}})
        )
    (sent,) = browser_requests(emulator)
    assert sent["body"]["proxy_config"] == {"enabled": True, "country_code": "DE"}
    assert "proxy_config" in text and "type" in text
