"""The browser, fetch and search tools behave alike whichever provider serves them.

One suite, parameterised over the providers (``provider`` fixture): a real MCP client
talks to the real server, which talks to the emulator's TinyFish or Browserbase API.
What only one provider offers is tested at the end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from _inmemory import connect, error_text, structured
from mcp import Client
from playwright.async_api import async_playwright

from tinyfish_mcp.emulator.config import DEFAULT_BROWSERBASE_API_KEY
from tinyfish_mcp.settings import Settings

PROVIDERS = ("tinyfish", "browserbase")


def provider_settings(emulator: Any, provider: str) -> dict[str, Any]:
    if provider == "tinyfish":
        return {}
    return {
        "browserbase_api_key": DEFAULT_BROWSERBASE_API_KEY,
        "browserbase_base_url": f"{emulator.base_url}/browserbase",
        "mcp_browser_provider": provider,
        "mcp_fetch_provider": provider,
        "mcp_search_provider": provider,
    }


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@asynccontextmanager
async def served(emulator: Any, provider: str) -> AsyncIterator[Client]:
    async with connect(emulator, **provider_settings(emulator, provider)) as client:
        yield client


# ------------------------------------------------------------------------------ search


async def test_search_answers_in_one_shape(emulator: Any, provider: str) -> None:
    async with served(emulator, provider) as client:
        found = structured(await client.call_tool("search", {"query": "TinyFish web agent"}))
    assert found["query"] == "TinyFish web agent" and found["page"] == 0
    assert found["results"], found
    assert [hit["position"] for hit in found["results"]] == list(range(1, len(found["results"]) + 1))
    assert all(hit["url"].startswith("https://") and hit["title"] for hit in found["results"])


async def test_search_refuses_what_its_provider_cannot_do(emulator: Any, provider: str) -> None:
    async with served(emulator, provider) as client:
        result = await client.call_tool("search", {"query": "agents", "page": 11})
    assert "page" in error_text(result)


# ------------------------------------------------------------------------------ fetch


async def test_fetch_reads_a_page_as_markdown_and_pages_long_text(emulator: Any, provider: str) -> None:
    url = f"{emulator.base_url}/_fixtures/long.html"
    async with served(emulator, provider) as client:
        first = structured(await client.call_tool("fetch_content", {"urls": [url], "max_chars": 300}))
        (page,) = first["results"]
        assert len(page["text"]) == 300 and page["next_offset"] == 300 and page["total_chars"] > 300
        assert "offset=300" in first["hint"]
        more = structured(
            await client.call_tool("fetch_content", {"urls": [url], "max_chars": 300, "offset": 300})
        )
    assert more["results"][0]["text"] and more["results"][0]["text"] != page["text"]


@pytest.mark.parametrize("fmt", ["markdown", "html", "json"])
async def test_fetch_formats(emulator: Any, provider: str, fmt: str) -> None:
    url = f"{emulator.base_url}/_fixtures/article.html"
    async with served(emulator, provider) as client:
        answer = structured(await client.call_tool("fetch_content", {"urls": [url], "format": fmt}))
    (page,) = answer["results"]
    assert page["title"] and page["text"]
    if fmt == "html":
        assert "<" in page["text"]
    if fmt == "json":
        json.loads(page["text"])


async def test_fetch_reports_a_failed_url_beside_the_others(emulator: Any, provider: str) -> None:
    good, bad = f"{emulator.base_url}/_fixtures/article.html", f"{emulator.base_url}/_fixtures/image.png"
    async with served(emulator, provider) as client:
        answer = structured(await client.call_tool("fetch_content", {"urls": [good, bad]}))
    assert [p["url"] for p in answer["results"]] == [good]
    assert [e["url"] for e in answer["errors"]] == [bad]


# ------------------------------------------------------------------------------ browser


async def test_browser_session_create_list_close(chromium_emulator: Any, provider: str) -> None:
    # Real browsers: a TinyFish session is closed over its CDP endpoint, which a stand-in lacks.
    async with served(chromium_emulator, provider) as client:
        created = structured(await client.call_tool("create_browser_session", {"timeout_seconds": 120}))
        sid = created["session_id"]
        assert created["cdp_url"].startswith("ws") and created["expires_at"]
        assert f"close_browser_session(session_id='{sid}')" in created["note"]
        listed = structured(await client.call_tool("list_browser_sessions", {}))
        assert [(s["session_id"], s["status"]) for s in listed["sessions"]] == [(sid, "running")]
        closed = structured(await client.call_tool("close_browser_session", {"session_id": sid}))
        assert closed["closed_now"] is True and closed["ended_at"]
        again = structured(await client.call_tool("close_browser_session", {"session_id": sid}))
        assert again["closed_now"] is False
        ended = structured(await client.call_tool("list_browser_sessions", {"status": "ended"}))
    assert [s["session_id"] for s in ended["sessions"]] == [sid]


async def test_provider_only_arguments_appear_only_with_their_provider(emulator: Any, provider: str) -> None:
    async with served(emulator, provider) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    properties = tools["create_browser_session"].input_schema["properties"]
    browserbase_only = {"context_id", "persist", "keep_alive", "region", "viewport"}
    assert (browserbase_only <= set(properties)) == (provider == "browserbase")
    assert ("create_browser_context" in tools) == (provider == "browserbase")
    fetch_properties = set(tools["fetch_content"].input_schema["properties"])
    tinyfish_only = {"include_selectors", "highlights", "if_none_match", "proxy_country"}
    assert (tinyfish_only <= fetch_properties) == (provider == "tinyfish")
    assert ("domain_type" in tools["search"].input_schema["properties"]) == (provider == "tinyfish")


# ------------------------------------------------------------------------------ Browserbase only


async def test_browserbase_refuses_tinyfish_only_arguments_by_name(emulator: Any) -> None:
    url = f"{emulator.base_url}/_fixtures/article.html"
    async with served(emulator, "browserbase") as client:
        fetched = await client.call_tool("fetch_content", {"urls": [url], "include_selectors": ["main"]})
        searched = await client.call_tool("search", {"query": "agents", "domain_type": "news"})
        short = await client.call_tool("create_browser_session", {"timeout_seconds": 30})
        with_url = await client.call_tool("create_browser_session", {"url": "https://example.com"})
    # Left out of the schema, so the argument layer refuses them by name, with the reason, before
    # anything is sent.
    assert (
        "`include_selectors` cannot be used here: the browserbase fetch provider "
        "(TINYFISH_MCP_FETCH_PROVIDER) does not support it" in error_text(fetched)
    )
    assert (
        "`domain_type` cannot be used here: the browserbase search provider "
        "(TINYFISH_MCP_SEARCH_PROVIDER) does not support it" in error_text(searched)
    )
    assert "between 60 and 21600 on Browserbase" in error_text(short)
    assert "url cannot be honoured on Browserbase" in error_text(with_url)
    assert not [r for r in emulator.requests() if r["path"] == "/browserbase/v1/sessions"]  # none created


def test_a_browserbase_provider_without_a_key_fails_at_start() -> None:
    with pytest.raises(ValueError, match="browserbase needs BROWSERBASE_API_KEY"):
        Settings(mcp_search_provider="browserbase", browserbase_api_key=None)


async def _page_text(cdp_url: str, url: str) -> str:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(cdp_url)
        page = await browser.contexts[0].new_page()
        await page.goto(url)
        text = await page.inner_text("#seen")
        await browser.close()
    return text


async def test_a_browserbase_context_keeps_a_login_across_sessions(
    chromium_emulator: Any, cookie_site: str
) -> None:
    async with served(chromium_emulator, "browserbase") as client:
        context = structured(await client.call_tool("create_browser_context", {}))["context_id"]
        with_context = {"context_id": context, "persist": True, "timeout_seconds": 300}
        first = structured(await client.call_tool("create_browser_session", with_context))
        assert first["inspector_url"].startswith(chromium_emulator.base_url)  # the live view
        assert await _page_text(first["cdp_url"], f"{cookie_site}/login") == ""
        closed = await client.call_tool("close_browser_session", {"session_id": first["session_id"]})
        assert structured(closed)["closed_now"] is True

        logs = await client.read_resource(f"browserbase://sessions/{first['session_id']}/logs")
        entries = json.loads(logs.contents[0].text)["logs"]["items"]  # type: ignore[union-attr]
        assert any("/login" in json.dumps(entry) for entry in entries)

        second = structured(await client.call_tool("create_browser_session", with_context))
        assert await _page_text(second["cdp_url"], f"{cookie_site}/check") == "signed_in=yes"
        await client.call_tool("close_browser_session", {"session_id": second["session_id"]})
