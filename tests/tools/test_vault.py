"""list_vault_items and get_usage (the account tools) against the emulator."""

from __future__ import annotations

import json
from typing import Any

import httpx
from _inmemory import connect, error_text, structured
from _mcp import stdio_server


async def test_vault_items_are_listed_without_secrets(emulator: Any) -> None:
    async with connect(emulator) as client:
        result = structured(await client.call_tool("list_vault_items", {}))
    assert result["connections"] == [{"provider": "1password", "status": "connected"}]
    assert "note" not in result
    items = {item["item_id"]: item for item in result["items"]}
    assert items["op://Work/crm-admin"] == {
        "item_id": "op://Work/crm-admin",
        "label": "CRM admin",
        "vault_name": "Work",
        "domains": ["crm.example.com"],
        "has_totp": True,
    }
    assert len(items) == 3
    # Only the named display fields come out: no field metadata, nothing else the service adds.
    assert "fieldMetadata" not in json.dumps(result) and "CONCEALED" not in json.dumps(result)
    assert [r["path"] for r in emulator.requests()] == ["/v1/vault/connections", "/v1/vault/items"]


async def test_no_connected_vault_says_how_to_connect(emulator: Any) -> None:
    # Disconnect the demo vault the emulator gives each key, through its own Vault API.
    headers = {"X-API-Key": emulator.other_key}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=10) as http:
        for connection in http.get("/v1/vault/connections").json()["connections"]:
            http.delete(f"/v1/vault/connections/{connection['id']}").raise_for_status()
    async with connect(emulator, api_key=emulator.other_key) as client:
        result = structured(await client.call_tool("list_vault_items", {}))
    assert result["items"] == [] and result["connections"] == []
    assert "No password manager is connected" in result["note"]


async def test_usage_of_browser_sessions_and_searches(emulator: Any) -> None:
    async with connect(emulator) as client:
        for url in ("example.com", "example.org", "example.net"):
            structured(await client.call_tool("create_browser_session", {"url": url, "timeout_seconds": 30}))
        structured(await client.call_tool("search", {"query": "tide tables"}))

        browser = structured(await client.call_tool("get_usage", {"kind": "browser", "limit": 2}))
        rest = structured(
            await client.call_tool("get_usage", {"kind": "browser", "cursor": browser["next_cursor"]})
        )
        search = structured(await client.call_tool("get_usage", {"kind": "search"}))
    assert browser["kind"] == "browser" and browser["total"] == 3
    assert [r["start_url"] for r in browser["records"]] == ["https://example.net", "https://example.org"]
    assert [r["start_url"] for r in rest["records"]] == ["https://example.com"]
    assert "next_cursor" not in rest
    (record,) = search["records"]
    assert (record["query"], record["result_count"]) == ("tide tables", 1)
    usage_queries = [r["query"] for r in emulator.requests() if r["path"].endswith("/usage")]
    assert usage_queries[0] == {"limit": "2"}


async def test_usage_of_another_key_is_not_shown(emulator: Any) -> None:
    async with connect(emulator) as client:
        structured(await client.call_tool("create_browser_session", {}))
    async with connect(emulator, api_key=emulator.other_key) as client:
        result = structured(await client.call_tool("get_usage", {"kind": "browser"}))
    assert result["records"] == [] and result["total"] == 0


async def test_usage_arguments_are_checked(emulator: Any) -> None:
    async with connect(emulator) as client:
        too_many = error_text(await client.call_tool("get_usage", {"kind": "browser", "limit": 500}))
        wrong_kind = error_text(await client.call_tool("get_usage", {"kind": "fetch"}))
    assert "limit must be between 1 and 100 (got 500)" in too_many
    assert "kind" in wrong_kind
    assert emulator.requests() == []


async def test_rejected_key_says_to_check_it(emulator: Any) -> None:
    async with connect(emulator, api_key="sk-tinyfish-not-a-real-key") as client:
        text = error_text(await client.call_tool("list_vault_items", {}))
    assert "TINYFISH_API_KEY" in text
    assert "not-a-real-key" not in text


async def test_over_stdio(emulator: Any) -> None:
    """The real server process, as a desktop client starts it."""
    async with stdio_server(emulator) as client:
        items = structured(await client.call_tool("list_vault_items", {}))
        usage = structured(await client.call_tool("get_usage", {"kind": "search"}))
    assert len(items["items"]) == 3
    assert usage == {"kind": "search", "records": [], "total": 0}


async def test_over_stdio_without_a_key(emulator: Any) -> None:
    """No key: the server still starts and lists its tools; a call says how to set the key."""
    async with stdio_server(emulator, api_key=None) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        text = error_text(await client.call_tool("list_vault_items", {}))
    assert {"list_vault_items", "get_usage", "fetch_content", "search"} <= names
    assert "TINYFISH_API_KEY" in text
    assert emulator.requests() == []


async def test_usage_is_bounded_by_the_result_budget(emulator: Any) -> None:
    async with connect(emulator, mcp_max_result_chars=1000) as client:
        for _ in range(8):
            structured(await client.call_tool("create_browser_session", {}))
        result = structured(await client.call_tool("get_usage", {"kind": "browser"}))
    kept = len(result["records"])
    assert 1 <= kept < 8 and result["total"] == 8
    assert len(json.dumps(result["records"])) <= 1300
    assert f"call again with limit={kept}" in result["note"]
    assert "next_cursor" not in result  # it would skip the records that did not fit
