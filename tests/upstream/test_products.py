"""Fetch, search, browser sessions, usage and vault, end to end against the emulator."""

from __future__ import annotations

from typing import Any

import anyio

from tinyfish_mcp.upstream.client import TinyFishClient
from tinyfish_mcp.upstream.models import (
    BrowserPage,
    BrowserSessionRequest,
    FetchProxyConfig,
    FetchRequest,
    SearchParams,
)


async def test_fetch_extracts_pages_and_reports_per_url_errors(client: TinyFishClient, emulator: Any) -> None:
    article = f"{emulator.base_url}/_fixtures/article.html"
    request = FetchRequest(
        urls=[article, "http://10.0.0.1/admin"],
        format="markdown",
        links=True,
        image_links=True,
        proxy_config=FetchProxyConfig(country_code="DE"),
    )
    response = await client.fetch(emulator.api_key, request)
    [result] = response.results
    assert result.url == article and result.title
    assert result.format == "markdown" and isinstance(result.text, str) and result.text
    assert result.links and result.image_links
    [error] = response.errors
    assert error.url == "http://10.0.0.1/admin" and error.error
    [seen] = emulator.requests()
    assert (seen["method"], seen["path"]) == ("POST", "/v1/fetch")
    assert seen["body"] == {
        "urls": [article, "http://10.0.0.1/admin"],
        "format": "markdown",
        "links": True,
        "image_links": True,
        "proxy_config": {"country_code": "DE"},
    }


async def test_fetch_json_format_gives_a_document(client: TinyFishClient, emulator: Any) -> None:
    article = f"{emulator.base_url}/_fixtures/article.html"
    response = await client.fetch(emulator.api_key, FetchRequest(urls=[article], format="json"))
    assert response.results[0].format == "json"
    assert response.results[0].text is not None


async def test_search_ranks_results_and_sends_only_set_params(client: TinyFishClient, emulator: Any) -> None:
    plain = await client.search(emulator.api_key, SearchParams(query="web automation"))
    assert plain.query == "web automation"
    assert plain.results and [r.position for r in plain.results] == list(range(1, len(plain.results) + 1))
    assert all(r.title and r.url for r in plain.results)
    localized = await client.search(emulator.api_key, SearchParams(query="web automation", location="FR"))
    assert localized.language == "fr"
    queries = [r["query"] for r in emulator.requests()]
    assert queries == [{"query": "web automation"}, {"query": "web automation", "location": "FR"}]


async def test_browser_session_and_its_pages(client: TinyFishClient, emulator: Any) -> None:
    session = await client.create_browser_session(
        emulator.api_key, BrowserSessionRequest(url="https://news.example.com/", timeout_seconds=300)
    )
    assert session.session_id.startswith("br-")
    assert session.cdp_url.startswith("ws://") and session.base_url.startswith(emulator.base_url)
    first = await client.list_browser_pages(emulator.api_key, session.base_url)
    assert all(isinstance(page, BrowserPage) for page in first)
    navigated: list[BrowserPage] = []
    with anyio.fail_after(10):
        while not navigated:
            pages = await client.list_browser_pages(emulator.api_key, session.base_url)
            navigated = [p for p in pages if p.url not in ("", "about:blank")]
            if not navigated:
                await anyio.sleep(0.02)
    assert navigated[0].url == "https://news.example.com/"
    assert navigated[0].devtoolsFrontendUrl
    seen = emulator.requests()
    assert seen[0]["body"] == {"url": "https://news.example.com/", "timeout_seconds": 300}
    assert seen[1]["path"] == f"/_browser/{session.session_id}/pages"


async def test_usage_listings(client: TinyFishClient, emulator: Any) -> None:
    await client.create_browser_session(emulator.api_key, BrowserSessionRequest())
    await client.search(emulator.api_key, SearchParams(query="mugs"))
    await client.search(emulator.api_key, SearchParams(query="cups"))
    browser = await client.browser_usage(emulator.api_key)
    assert len(browser.data) == 1 and browser.data[0]["session_id"].startswith("br-")
    search = await client.search_usage(emulator.api_key, limit=1, cursor=None)
    assert len(search.data) == 1 and search.data[0]["query"] == "cups"
    assert search.pagination is not None and search.pagination.has_more
    usage_calls = [r for r in emulator.requests() if r["path"].endswith("/usage")]
    assert [(r["path"], r["query"]) for r in usage_calls] == [
        ("/v1/browser/usage", {}),
        ("/v1/search/usage", {"limit": "1"}),
    ]


async def test_vault_listings(client: TinyFishClient, emulator: Any) -> None:
    connections = await client.list_vault_connections(emulator.api_key)
    items = await client.list_vault_items(emulator.api_key)
    assert isinstance(connections.connections, list)
    assert isinstance(items.items, list)
    assert [r["path"] for r in emulator.requests()] == ["/v1/vault/connections", "/v1/vault/items"]
