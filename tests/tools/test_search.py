"""search against the emulator's ranked corpus, through a real MCP client."""

from __future__ import annotations

from typing import Any

import pytest
from _inmemory import connect, error_text, structured
from _mcp import stdio_server


async def test_results_are_ranked_and_locale_defaults_to_us_en(emulator: Any) -> None:
    async with connect(emulator) as client:
        result = structured(await client.call_tool("search", {"query": "web automation tools"}))
    hits = result["results"]
    assert len(hits) >= 3
    assert [h["position"] for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0]["url"] == "https://blog.example.com/web-automation-tools"
    assert hits[0]["site_name"] == "blog.example.com"
    assert all(h["title"] and h["snippet"] for h in hits)
    assert (result["query"], result["location"], result["language"]) == ("web automation tools", "US", "en")


@pytest.mark.parametrize(
    ("arguments", "resolved"),
    [
        ({"location": "FR"}, ("FR", "fr")),
        ({"language": "ja"}, ("JP", "ja")),
        ({"location": "DE", "language": "en"}, ("DE", "en")),
    ],
)
async def test_location_and_language_resolve_each_other(
    emulator: Any, arguments: dict[str, str], resolved: tuple[str, str]
) -> None:
    async with connect(emulator) as client:
        result = structured(await client.call_tool("search", {"query": "python tutorial", **arguments}))
    assert (result["location"], result["language"]) == resolved
    (sent,) = [r for r in emulator.requests() if r["path"] == "/v1/search"]
    assert {k: sent["query"][k] for k in arguments} == arguments


async def test_rate_limit_becomes_an_actionable_error(emulator: Any) -> None:
    async with connect(emulator) as client:
        for _ in range(5):  # the emulator allows 5 searches a minute per key
            structured(await client.call_tool("search", {"query": "playwright"}))
        text = error_text(await client.call_tool("search", {"query": "playwright"}))
    assert "RATE_LIMIT_EXCEEDED" in text
    assert "wait about 15-60 seconds" in text and "5 searches a minute" in text
    # The client retried once before giving up; nothing looped.
    assert len([r for r in emulator.requests() if r["path"] == "/v1/search"]) == 7


async def test_blank_query_refused_before_any_request(emulator: Any) -> None:
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("search", {"query": "   "}))
    assert "query" in text and "blank" in text
    assert emulator.requests() == []


async def test_unknown_location_is_reported_by_field(emulator: Any) -> None:
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("search", {"query": "tides", "location": "Atlantis"}))
    assert "INVALID_INPUT" in text and "location" in text


async def test_no_credit_key(emulator: Any) -> None:
    async with connect(emulator, api_key=emulator.no_credit_key) as client:
        text = error_text(await client.call_tool("search", {"query": "tides"}))
    assert "INSUFFICIENT_CREDITS" in text and "add credits" in text


async def test_over_stdio(emulator: Any) -> None:
    """The real server process, as a desktop client starts it."""
    async with stdio_server(emulator, mode="legacy") as client:
        result = structured(await client.call_tool("search", {"query": "Playwright", "language": "en"}))
    assert result["results"][0]["url"] == "https://playwright.dev/python/docs/intro"
    assert (result["location"], result["language"]) == ("US", "en")
