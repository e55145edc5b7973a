"""Calls written the way TinyFish's hosted tool definitions ask work here, through a real MCP client.

Each call below is what a model reading the hosted server's ``tools/list``
(tinyfish-io/tinyfish-mcp-server docs/tools.md) sends: comma lists or lists, flags as
booleans or "true", 1-based pages on the listings, hosted-required arguments with their
defaults given or left out. They are replayed with every toolset on and with
``--toolsets hosted``; an invalid one gets our one-line error. In the hosted mode no
answer names a tool that is not served.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from _inmemory import connect, error_text, structured

from tinyfish_mcp.runtime.surface import HOSTED_SERVED
from tinyfish_mcp.settings import TOOLSETS

ALL_TOOLS = {
    "get_steps", "batch_create", "get_usage", "list_vault_items", "create_browser_context",
    "run_research", "wait_for_research", "get_research", "list_research", "cancel_research",
    "plan_dataset", "create_dataset", "populate_dataset", "read_dataset", "list_datasets",
    "cancel_dataset_run", "delete_dataset",
}  # fmt: skip
NOT_HOSTED = sorted(ALL_TOOLS - HOSTED_SERVED)


def _article(emulator: Any) -> str:
    return f"{emulator.base_url}/_fixtures/article.html"


def _calls(emulator: Any) -> list[tuple[str, dict[str, Any]]]:
    article = _article(emulator)
    return [
        ("search", {"query": "pho recipes", "location": "VN", "language": "vi"}),
        ("search", {"query": "python tutorial", "include_domains": "python.org,docs.python.org", "page": 0}),
        (
            "search",
            {"query": "python tutorial", "include_domains": ["python.org"], "include_thumbnail": "true"},
        ),
        ("search", {"query": "web automation", "exclude_domains": "example.com", "include_thumbnail": False}),
        ("search", {"query": "python tutorial", "fetch": json.dumps({"results": 1, "page_metadata": True})}),
        (
            "fetch_content",
            {
                "urls": [article],
                "format": "markdown",
                "links": False,
                "image_links": False,
                "page_metadata": True,
            },
        ),
        ("fetch_content", {"urls": [article]}),
        (
            "run_web_automation_async",
            {
                "url": "https://scrapeme.live/shop",
                "goal": "Return the first product name as JSON",
                "session_id": str(uuid.uuid4()),
                "feature_flags": {"enable_agent_memory": True},
                "api_integration": "n8n",
                "proxy_config": {"enabled": True, "country_code": "US"},
                "capture_config": {"screenshots": True},
            },
        ),
        ("list_runs", {"limit": 10, "sort_direction": "desc"}),
        ("list_runs", {}),
        ("create_browser_session", {"url": "https://example.com", "timeout_seconds": 60}),
        ("list_browser_sessions", {"limit": 100, "page": 1, "status": "running"}),
        (
            "list_browser_sessions",
            {"start_after": "2020-01-01T00:00:00Z", "end_before": "2999-01-01T00:00:00Z"},
        ),
        (
            "create_profile",
            {"name": f"Work {uuid.uuid4().hex[:6]}", "proxy_country_code": "US", "set_as_default": True},
        ),
        ("list_profiles", {}),
        ("get_search_usage", {"limit": 100, "page": 1, "status": "completed"}),
        ("get_search_usage", {}),
        ("list_fetch_usage", {"limit": 20, "page": 1, "start_after": "2020-01-01T00:00:00Z"}),
        ("list_fetch_usage", {"status": "failed"}),
        ("get_wallet", {}),
        ("guide_next_step", {}),
        ("list_monitors", {}),
    ]


def _names_unserved(text: str) -> list[str]:
    return [name for name in NOT_HOSTED if re.search(rf"\b{name}\b", text)]


@pytest.mark.parametrize("toolsets", [TOOLSETS, "hosted"], ids=["all", "hosted"])
async def test_hosted_style_calls_succeed(emulator: Any, toolsets: Any) -> None:
    async with connect(emulator, mcp_toolsets=toolsets) as client:
        for name, arguments in _calls(emulator):
            result = await client.call_tool(name, arguments)
            data = structured(result)
            if toolsets == "hosted":
                assert not _names_unserved(json.dumps(data)), (name, _names_unserved(json.dumps(data)))


async def test_what_the_hosted_calls_do(emulator: Any) -> None:
    article = _article(emulator)
    async with connect(emulator, mcp_toolsets="hosted") as client:
        vn = structured(await client.call_tool("search", {"query": "pho", "location": "VN"}))
        assert vn["location"] == "VN"
        both = structured(
            await client.call_tool("search", {"query": "python tutorial", "fetch": {"results": 2}})
        )
        assert len(both["pages"]) + len(both.get("fetch_errors") or []) == min(2, len(both["results"]))
        page = structured(
            await client.call_tool("fetch_content", {"urls": [article], "page_metadata": "true"})
        )["results"][0]
        meta = page["page_metadata"]
        assert meta["og"]["title"] == "Tide Pools of the Northern Coast (og)"
        assert meta["article"]["published_time"] == "2025-06-14T09:30:00Z"
        created = structured(await client.call_tool("create_profile", {"name": "Shop logins"}))
        again = error_text(await client.call_tool("create_profile", {"name": "shop logins"}))
        assert "already exists" in again and "list_profiles" in again
        listed = structured(await client.call_tool("list_profiles", {}))
        assert created["profile_id"] in [p["profile_id"] for p in listed["profiles"]]
        usage = structured(await client.call_tool("list_fetch_usage", {"limit": 1}))
        assert usage["records"] and usage["records"][0]["url"] == article and usage["page"] == 1
        guide = structured(await client.call_tool("guide_next_step", {}))
        assert guide["account"]["profiles"] >= 1 and guide["account"]["fetches"] >= 1


@pytest.mark.parametrize(
    ("name", "arguments", "wanted"),
    [
        ("get_search_usage", {"page": 0}, "page"),
        ("list_fetch_usage", {"limit": 101}, "limit"),
        ("list_browser_sessions", {"start_after": "yesterday"}, "start_after"),
        ("search", {"query": "x", "fetch": "{not json"}, "fetch"),
        ("search", {"query": "x", "fetch": {"result": 2}}, "result"),
        ("search", {"query": "x", "page": 11}, "page"),
        (
            "run_web_automation_async",
            {"url": "a.com", "goal": "g", "feature_flags": {"memory": True}},
            "memory",
        ),
        ("create_profile", {"name": "x", "proxy_country_code": "VN"}, "proxy_country_code"),
    ],
)
async def test_an_invalid_call_gets_one_short_error(
    emulator: Any, name: str, arguments: dict[str, Any], wanted: str
) -> None:
    async with connect(emulator, mcp_toolsets="hosted") as client:
        text = error_text(await client.call_tool(name, arguments))
    assert wanted in text and "Traceback" not in text and len(text) < 600, text
    assert not _names_unserved(text), text
