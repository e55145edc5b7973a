"""fetch_content against the emulator's own fixture pages, through a real MCP client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _inmemory import connect, error_text, structured
from _mcp import stdio_server


def fixture_url(emulator: Any, name: str) -> str:
    return f"{emulator.base_url}/_fixtures/{name}"


def fetch_requests(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"] == "/v1/fetch"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_article_in_markdown_with_links_and_images(emulator: Any, mode: str) -> None:
    url = fixture_url(emulator, "article.html")
    async with connect(emulator, mode=mode) as client:
        result = structured(
            await client.call_tool("fetch_content", {"urls": [url], "links": True, "image_links": True})
        )
    (page,) = result["results"]
    assert result["errors"] == [] and "hint" not in result
    assert page["url"] == url
    assert page["title"] == "Tide Pools of the Northern Coast"
    assert page["description"].startswith("A field guide to the creatures")
    assert page["language"] == "en"
    assert page["text"].startswith("# Tide Pools of the Northern Coast")
    assert "Sponsored" not in page["text"]  # page chrome is not content
    assert page["total_chars"] == len(page["text"]) and "next_offset" not in page
    assert "https://tides.example.org/tables" in page["links"]
    assert f"{emulator.base_url}/guides/anemones" in page["links"]
    assert page["image_links"] == [
        f"{emulator.base_url}/images/sea-star.jpg",
        "https://cdn.example.org/pools/anemone.png",
    ]
    (sent,) = fetch_requests(emulator)
    assert sent["body"] == {"urls": [url], "format": "markdown", "links": True, "image_links": True}


async def test_html_and_json_formats(emulator: Any) -> None:
    url = fixture_url(emulator, "article.html")
    async with connect(emulator) as client:
        as_html = structured(await client.call_tool("fetch_content", {"urls": [url], "format": "html"}))
        as_json = structured(await client.call_tool("fetch_content", {"urls": [url], "format": "json"}))
    html_text = as_html["results"][0]["text"]
    assert "<h1>Tide Pools of the Northern Coast</h1>" in html_text and "<script" not in html_text
    assert "links" not in as_html["results"][0]  # not asked for
    json_text = as_json["results"][0]["text"]
    assert ": " not in json_text[:200] and ", " not in json_text[:200]  # compact serialization
    tree = json.loads(json_text)
    assert tree["type"] == "document"
    assert tree["children"][0] == {"type": "heading", "level": 1, "text": "Tide Pools of the Northern Coast"}


async def test_per_url_errors_do_not_fail_the_rest(emulator: Any) -> None:
    good = fixture_url(emulator, "notes.txt")
    moved = fixture_url(emulator, "redirect")
    image = fixture_url(emulator, "image.png")
    private = "http://10.1.2.3/admin"
    async with connect(emulator) as client:
        result = structured(await client.call_tool("fetch_content", {"urls": [good, moved, image, private]}))
    assert [p["url"] for p in result["results"]] == [good, moved]
    assert "Counted 14 sea stars" in result["results"][0]["text"]
    assert "final_url" not in result["results"][0]  # only told when it differs
    assert result["results"][1]["final_url"] == fixture_url(emulator, "article.html")
    errors = {e["url"]: e["error"] for e in result["errors"]}
    assert errors[image].startswith("no extractable content: ")
    assert "not a text page" in errors[image]
    assert errors[private].startswith("Invalid or disallowed URL: ")
    assert "no private or local addresses" in errors[private]


async def test_cut_text_continues_with_offset_and_reassembles(emulator: Any) -> None:
    url = fixture_url(emulator, "long.html")
    async with connect(emulator) as client:
        full = structured(await client.call_tool("fetch_content", {"urls": [url], "max_chars": 200_000}))
        whole = full["results"][0]["text"]
        assert len(whole) == full["results"][0]["total_chars"] > 40_000

        first = structured(await client.call_tool("fetch_content", {"urls": [url]}))
        page = first["results"][0]
        assert len(page["text"]) <= 20_000 and page["next_offset"] == len(page["text"])
        assert first["hint"] is not None
        assert (
            f"urls=[{url!r}], format='markdown', offset={page['next_offset']}, max_chars=20000"
            in first["hint"]
        )

        chunks = [page["text"]]
        offset = page["next_offset"]
        while offset is not None:
            more = structured(
                await client.call_tool(
                    "fetch_content", {"urls": [url], "offset": offset, "max_chars": 15_000}
                )
            )["results"][0]
            assert len(more["text"]) <= 15_000
            chunks.append(more["text"])
            offset = more.get("next_offset")
    assert "".join(chunks) == whole
    assert len(chunks) >= 3


async def test_default_budget_is_shared_by_the_urls(emulator: Any) -> None:
    urls = [fixture_url(emulator, f"long.html?copy={i}") for i in range(4)]
    async with connect(emulator) as client:
        result = structured(await client.call_tool("fetch_content", {"urls": urls}))
    pages = result["results"]
    assert len(pages) == 4
    assert all(p["next_offset"] == len(p["text"]) for p in pages)
    assert sum(len(p["text"]) for p in pages) <= 20_000
    assert "4 page(s) were cut" in result["hint"]


async def test_links_share_the_budget(emulator: Any) -> None:
    urls = [fixture_url(emulator, f"article.html?copy={i}") for i in range(10)]
    async with connect(emulator, mcp_max_result_chars=1000) as client:
        result = structured(await client.call_tool("fetch_content", {"urls": urls, "links": True}))
    assert all(len(json.dumps(p["links"])) <= 60 for p in result["results"])
    assert "links were left out" in result["hint"]


async def test_more_than_ten_urls_refused_before_any_request(emulator: Any) -> None:
    urls = [f"https://example.com/page{i}" for i in range(11)]
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("fetch_content", {"urls": urls}))
    assert "at most 10 URLs per call (got 11)" in text and "split them" in text
    assert emulator.requests() == []


@pytest.mark.parametrize(
    "url", ["ftp://files.example.com/a.txt", "file:///etc/passwd", "mailto:x@example.com"]
)
async def test_other_schemes_refused_before_any_request(emulator: Any, url: str) -> None:
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("fetch_content", {"urls": ["example.com", url]}))
    assert "urls[1]" in text and "only http:// and https://" in text
    assert emulator.requests() == []


async def test_bare_domain_is_fetched_over_https_with_proxy(emulator: Any) -> None:
    async with connect(emulator) as client:
        result = structured(
            await client.call_tool(
                "fetch_content", {"urls": ["shop.example.com/pricing"], "proxy_country": "DE"}
            )
        )
    assert result["results"][0]["url"] == "https://shop.example.com/pricing"
    assert "Pricing" in result["results"][0]["title"]
    (sent,) = fetch_requests(emulator)
    assert sent["body"]["urls"] == ["https://shop.example.com/pricing"]
    assert sent["body"]["proxy_config"] == {"country_code": "DE"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_chars": 10}, "max_chars must be between 100 and 200000"),
        ({"offset": -5}, "offset must be 0 or more"),
        ({"proxy_country": "BR"}, "proxy_country"),
        ({"format": "pdf"}, "format"),
    ],
)
async def test_invalid_arguments(emulator: Any, arguments: dict[str, Any], message: str) -> None:
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("fetch_content", {"urls": ["example.com"], **arguments}))
    assert message in text
    assert emulator.requests() == []


async def test_key_errors_say_what_to_do(emulator: Any) -> None:
    async with connect(emulator, api_key=None) as client:
        missing = error_text(await client.call_tool("fetch_content", {"urls": ["example.com"]}))
    assert "TINYFISH_API_KEY" in missing
    assert emulator.requests() == []
    async with connect(emulator, api_key=emulator.no_credit_key) as client:
        broke = error_text(await client.call_tool("fetch_content", {"urls": ["example.com"]}))
    assert "credits" in broke.lower()
    assert emulator.no_credit_key not in broke


async def test_over_stdio(emulator: Any) -> None:
    """The real server process, as a desktop client starts it."""
    url = fixture_url(emulator, "long.html")
    async with stdio_server(emulator) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        result = structured(await client.call_tool("fetch_content", {"urls": [url, "10.0.0.1"]}))
    assert "fetch_content" in listed
    (page,) = result["results"]
    assert page["title"] == "Full Season Survey Log"
    assert len(page["text"]) <= 20_000 and page["next_offset"] == len(page["text"])
    assert result["errors"][0]["url"] == "https://10.0.0.1"
