"""search's filters and fetch_content's highlights, selectors and conditional requests,
through a real MCP client against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from _inmemory import connect, error_text, structured


def _sent(emulator: Any, path: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"] == path]


# ------------------------------------------------------------------------------ search


async def test_news_search_returns_dates_publishers_and_paging(emulator: Any) -> None:
    arguments = {"query": "coast", "domain_type": "news", "recency_minutes": 7 * 1440, "purpose": "brief"}
    async with connect(emulator) as client:
        result = structured(await client.call_tool("search", arguments))
    assert result["results"] and result["page"] == 0
    assert result["total_results"] == len(result["results"])
    assert all(hit["publisher"] and hit["date"] for hit in result["results"])
    (sent,) = _sent(emulator, "/v1/search")
    assert sent["query"] == {
        "query": "coast", "purpose": "brief", "domain_type": "news", "recency_minutes": "10080",
    }  # fmt: skip


async def test_research_papers_with_publication_years(emulator: Any) -> None:
    arguments = {"query": "tide pool sea star", "domain_type": "research_paper", "pub_year_min": 2020}
    async with connect(emulator) as client:
        result = structured(await client.call_tool("search", arguments))
    (paper,) = result["results"]
    assert paper["year"] == 2021 and paper["authors"] == ["J. Park"] and paper["venue"] == "arXiv"
    assert paper["cited_by_count"] == 88 and paper["pdf_url"].startswith("https://")
    assert _sent(emulator, "/v1/search")[0]["query"]["pub_year_min"] == "2020"


async def test_domains_thumbnails_and_a_date_window(emulator: Any) -> None:
    arguments = {
        "query": "web automation",
        "include_domains": "blog.example.com",
        "include_thumbnail": True,
        "after_date": "2025-01-01",
        "before_date": "2025-12-31",
    }
    async with connect(emulator) as client:
        result = structured(await client.call_tool("search", arguments))
    (hit,) = result["results"]
    assert hit["site_name"] == "blog.example.com" and hit["date"] == "2025-09-02"
    assert hit["thumbnail"].startswith("https://images.example.com/")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"page": 11}, ["page"]),
        ({"recency_minutes": 0}, ["recency_minutes"]),
        ({"recency_minutes": 60, "after_date": "2026-01-01"}, ["recency_minutes", "after_date"]),
        ({"domain_type": "research_paper", "before_date": "2026-01-01"}, ["research_paper", "pub_year"]),
        ({"after_date": "2026-02-01", "before_date": "2026-01-01"}, ["after_date", "before_date"]),
        ({"after_date": "01/02/2026"}, ["after_date", "YYYY-MM-DD"]),
        ({"pub_year_min": 2020}, ["research_paper"]),
        ({"domain_type": "research_paper", "pub_year_min": 2024, "pub_year_max": 2020}, ["pub_year_min"]),
        ({"purpose": "  "}, ["purpose"]),
    ],
)
async def test_search_filters_refused_before_anything_is_sent(
    emulator: Any, arguments: dict[str, Any], words: list[str]
) -> None:
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("search", {"query": "tides", **arguments}))
    assert all(word in text for word in words), text
    assert "Traceback" not in text and "pydantic" not in text and len(text) < 400
    assert emulator.requests() == []


# ------------------------------------------------------------------------------- fetch


def _article(emulator: Any) -> str:
    return f"{emulator.base_url}/_fixtures/article.html"


async def test_highlights_instead_of_the_page(emulator: Any) -> None:
    arguments = {"urls": [_article(emulator)], "highlights": {"query": "anemone", "max_snippets": 2}}
    async with connect(emulator) as client:
        result = structured(await client.call_tool("fetch_content", arguments))
    (page,) = result["results"]
    assert "text" not in page and page["total_chars"] == 0
    assert [h["rank"] for h in page["highlights"]] == [1, 2]
    assert all("anemone" in h["text"].lower() for h in page["highlights"])
    assert _sent(emulator, "/v1/fetch")[0]["body"]["highlights"] == {"query": "anemone", "max_snippets": 2}


async def test_selectors_scope_and_report_misses(emulator: Any) -> None:
    url = _article(emulator)
    async with connect(emulator) as client:
        scoped = structured(
            await client.call_tool(
                "fetch_content",
                {"urls": [url], "include_selectors": ["article", ".nope"], "exclude_selectors": ["ul"]},
            )
        )
        missed = structured(
            await client.call_tool("fetch_content", {"urls": [url], "include_selectors": ["#x"]})
        )
    (page,) = scoped["results"]
    assert page["unmatched_selectors"] == [".nope"] and "Ochre sea stars" not in page["text"]
    (failure,) = missed["errors"]
    assert failure["unmatched_selectors"] == ["#x"] and "main" in failure["candidate_selectors"]
    assert "candidate_selectors" in failure["error"]  # says what to try next


async def test_conditional_fetch_round_trip(emulator: Any) -> None:
    url = _article(emulator)
    async with connect(emulator) as client:
        first = structured(
            await client.call_tool("fetch_content", {"urls": [url], "include_etag_and_last_modified": True})
        )
        (page,) = first["results"]
        again = structured(
            await client.call_tool(
                "fetch_content",
                {"urls": [url], "if_none_match": page["etag"], "if_modified_since": page["last_modified"]},
            )
        )
        generated = structured(
            await client.call_tool(
                "fetch_content",
                {"urls": ["https://generated.example.com/x"], "include_etag_and_last_modified": True},
            )
        )
    assert page["not_modified"] is False and page["text"]
    (unchanged,) = again["results"]
    assert unchanged["not_modified"] is True and "text" not in unchanged
    assert "unchanged" in again["hint"]
    assert generated["results"][0]["conditional_unsupported"] is True
    assert "no validators" in generated["hint"]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (
            {"if_none_match": '"x"', "urls": ["https://a.example.com", "https://b.example.com"]},
            ["single URL"],
        ),
        ({"highlights": {"query": "x"}, "format": "html"}, ["highlights", "markdown"]),
        ({"highlights": {"query": " "}}, ["highlights.query"]),
        ({"per_url_timeout_ms": 0}, ["per_url_timeout_ms"]),
        ({"purpose": " "}, ["purpose"]),
        ({"include_selectors": ["  "]}, ["selector"]),
        ({"include_selectors": ["p"] * 21}, ["include_selectors"]),
    ],
)
async def test_fetch_options_refused_before_anything_is_sent(
    emulator: Any, arguments: dict[str, Any], words: list[str]
) -> None:
    body = {"urls": ["https://a.example.com"], **arguments}
    async with connect(emulator) as client:
        text = error_text(await client.call_tool("fetch_content", body))
    assert all(word in text for word in words), text
    assert "Traceback" not in text and len(text) < 400
    assert emulator.requests() == []


async def test_include_thumbnail_as_the_hosted_skill_writes_it(emulator: Any) -> None:
    """The hosted skill documents include_thumbnail as "true"/"false" strings; both forms work."""
    async with connect(emulator) as client:
        as_text = structured(
            await client.call_tool("search", {"query": "web automation", "include_thumbnail": "true"})
        )
    assert any("thumbnail" in hit for hit in as_text["results"])
    assert _sent(emulator, "/v1/search")[0]["query"]["include_thumbnail"] == "true"


async def test_cut_scoped_text_continues_with_the_same_selectors(emulator: Any) -> None:
    url = f"{emulator.base_url}/_fixtures/long.html"
    arguments = {"urls": [url], "include_selectors": ["main"], "exclude_selectors": ["h2"], "max_chars": 500}
    async with connect(emulator) as client:
        first = structured(await client.call_tool("fetch_content", arguments))
        rest = structured(await client.call_tool("fetch_content", {**arguments, "offset": 500}))
        whole = structured(await client.call_tool("fetch_content", {**arguments, "max_chars": 200_000}))
    (page,) = first["results"]
    assert page["next_offset"] == 500
    assert "include_selectors=['main'], exclude_selectors=['h2'], offset=500" in first["hint"]
    text = whole["results"][0]["text"]
    assert "## Survey section" not in text and "Section 1, paragraph 1" in text  # headings excluded
    assert page["text"] == text[:500] and rest["results"][0]["text"] == text[500:1000]
