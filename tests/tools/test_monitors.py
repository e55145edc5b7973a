"""The monitor tools (the hosted server's names and arguments) through an MCP client."""

from __future__ import annotations

from typing import Any

import httpx
from _inmemory import connect, error_text, structured
from _mcp import stdio_server

PAGE = (
    "<html><head><title>Headphones</title></head><body><h1>Headphones</h1><p>Price: {price}</p></body></html>"
)


def _put_page(emulator: Any, name: str, price: str) -> None:
    httpx.put(
        f"{emulator.base_url}/_emulator/pages/{name}", json={"body": PAGE.format(price=price)}, timeout=10
    ).raise_for_status()


async def test_fetch_monitor_created_run_shows_a_change_paused_and_deleted(emulator: Any) -> None:
    _put_page(emulator, "headphones.html", "$249")
    url = f"{emulator.base_url}/_fixtures/headphones.html"
    async with stdio_server(emulator, toolsets="monitors") as client:
        created = structured(
            await client.call_tool(
                "create_monitor",
                {
                    "type": "fetch",
                    "config": {"url": url, "format": "markdown"},
                    "schedule_cron": "CRON_TZ=America/New_York 0 9 * * *",
                    "purpose": "the price drops",
                    "name": "Headphones",
                },
            )
        )
        monitor = created["monitor"]
        monitor_id = monitor["monitor_id"]
        assert (monitor["status"], monitor["target"], monitor["name"]) == ("active", url, "Headphones")
        assert monitor["cost"].startswith("1 checks a day at $0.005 each: about $0.01/day")
        baseline = created["baseline"]
        assert baseline["is_baseline"] is True and "$249" in baseline["pages"][0]["text"]

        _put_page(emulator, "headphones.html", "$199")
        check = structured(await client.call_tool("run_monitor", {"monitor_id": monitor_id}))
        assert check["is_baseline"] is False
        assert "$199" in check["pages"][0]["text"] and "$249" not in check["pages"][0]["text"]

        paused = structured(await client.call_tool("pause_monitor", {"monitor_id": monitor_id}))
        assert paused == {"monitor_id": monitor_id, "status": "paused"}
        listed = structured(await client.call_tool("list_monitors", {}))
        assert [(m["monitor_id"], m["status"]) for m in listed["monitors"]] == [(monitor_id, "paused")]
        resumed = structured(await client.call_tool("resume_monitor", {"monitor_id": monitor_id}))
        assert resumed["status"] == "active"
        detail = structured(await client.call_tool("get_monitor", {"monitor_id": monitor_id}))
        assert detail["purpose"] == "the price drops" and detail["config"]["format"] == "markdown"

        deleted = structured(await client.call_tool("cancel_monitor", {"monitor_id": monitor_id}))
        assert deleted == {"monitor_id": monitor_id, "status": "cancelled", "deleted": True}
        gone = error_text(await client.call_tool("get_monitor", {"monitor_id": monitor_id}))
    assert "NOT_FOUND" in gone and "list_monitors shows your monitors" in gone
    methods = [(r["method"], r["path"].split("/mon_")[0]) for r in emulator.requests()]
    assert methods == [
        ("POST", "/v1/monitors"),
        ("POST", "/v1/monitors"),  # /runs of the monitor
        ("PATCH", "/v1/monitors"),
        ("GET", "/v1/monitors"),
        ("PATCH", "/v1/monitors"),
        ("GET", "/v1/monitors"),
        ("DELETE", "/v1/monitors"),
        ("GET", "/v1/monitors"),
    ]
    create = emulator.requests()[0]["body"]
    assert create == {
        "type": "fetch",
        "config": {"url": url, "format": "markdown"},
        "schedule_cron": "CRON_TZ=America/New_York 0 9 * * *",
        "name": "Headphones",
        "purpose": "the price drops",
    }


async def test_search_monitor_marks_new_results(emulator: Any) -> None:
    async with connect(emulator, mcp_toolsets=("monitors",)) as client:
        created = structured(
            await client.call_tool(
                "create_monitor",
                {
                    "type": "search",
                    "config": {"query": "tide tables", "result_limit": 3},
                    "schedule_cron": "0 * * * *",
                },
            )
        )
        assert created["monitor"]["cost"].startswith("24 checks a day at $0.005 each: about $0.12/day")
        assert created["baseline"]["new_results"] == 0
        httpx.post(
            f"{emulator.base_url}/_emulator/search-corpus",
            json={
                "title": "Tide tables for the new season",
                "url": "https://tides.example.org/new",
                "snippet": "tide tables",
            },
            timeout=10,
        ).raise_for_status()
        check = structured(
            await client.call_tool("run_monitor", {"monitor_id": created["monitor"]["monitor_id"]})
        )
    assert check["new_results"] == 1
    (new,) = [hit for hit in check["results"] if hit["new"]]
    assert new["url"] == "https://tides.example.org/new"


async def test_bad_monitor_arguments_are_refused_before_anything_is_sent(emulator: Any) -> None:
    async with connect(emulator, mcp_toolsets=("monitors",)) as client:
        no_url = error_text(
            await client.call_tool(
                "create_monitor", {"type": "fetch", "config": {"query": "x"}, "schedule_cron": "0 * * * *"}
            )
        )
        bad_cron = error_text(
            await client.call_tool(
                "create_monitor", {"type": "search", "config": {"query": "x"}, "schedule_cron": "hourly"}
            )
        )
        too_many = error_text(
            await client.call_tool(
                "create_monitor",
                {
                    "type": "search",
                    "config": {"query": "x", "result_limit": 50},
                    "schedule_cron": "0 * * * *",
                },
            )
        )
    assert (
        "Invalid config of a fetch monitor:\n- `url` is required and missing\n- `query` is not a known field"
        in no_url
    )
    assert "`schedule_cron` must have five fields" in bad_cron
    assert "`result_limit` must be at most 10; got 50" in too_many
    assert emulator.requests() == []
