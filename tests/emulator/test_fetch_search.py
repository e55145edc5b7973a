"""Fetch (real extraction from the emulator's fixtures) and Search (corpus, locale, limits)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest


def _fetch(api: httpx.Client, urls: list[str], **options: Any) -> dict[str, Any]:
    response = api.post("/v1/fetch", json={"urls": urls, **options})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_fetch_article_as_markdown(api: httpx.Client, emulator: Any) -> None:
    url = f"{emulator.base_url}/_fixtures/article.html"

    body = _fetch(api, [url])

    assert body["errors"] == []
    [page] = body["results"]
    assert page["url"] == page["final_url"] == url
    assert page["title"] == "Tide Pools of the Northern Coast"
    assert page["description"].startswith("A field guide to the creatures")
    assert (page["language"], page["author"]) == ("en", "Marina Okafor")
    assert page["published_date"] == "2025-06-14T09:30:00Z"
    assert page["format"] == "markdown"
    assert isinstance(page["latency_ms"], float)
    text = page["text"]
    assert text.startswith("# Tide Pools of the Northern Coast\n")
    assert "## Visiting safely" in text
    assert "- Ochre sea stars clinging to the mussel beds" in text
    assert "1. Check the tide table" in text
    assert f"[anemone guide]({emulator.base_url}/guides/anemones)" in text
    assert "**small worlds**" in text
    assert "| Sea star | Middle |" in text
    assert "```\nlow tide: 06:42" in text
    for chrome in ("window.analytics", "Subscribe", "Sponsored", "Privacy", "font-family"):
        assert chrome not in text
    assert "links" not in page and "image_links" not in page


def test_fetch_links_and_images_are_absolute(api: httpx.Client, emulator: Any) -> None:
    base = emulator.base_url
    [page] = _fetch(api, [f"{base}/_fixtures/article.html"], links=True, image_links=True)["results"]

    assert f"{base}/guides/anemones" in page["links"]
    assert "https://tides.example.org/tables" in page["links"]
    assert page["image_links"] == [f"{base}/images/sea-star.jpg", "https://cdn.example.org/pools/anemone.png"]


def test_fetch_html_format_is_semantic(api: httpx.Client, emulator: Any) -> None:
    [page] = _fetch(api, [f"{emulator.base_url}/_fixtures/article.html"], format="html")["results"]

    html = page["text"]
    assert page["format"] == "html"
    assert html.startswith("<h1>Tide Pools of the Northern Coast</h1>")
    assert "<strong>small worlds</strong>" in html
    assert f'<a href="{emulator.base_url}/guides/anemones">' in html
    assert "<script" not in html and "<nav" not in html and "<style" not in html


def test_fetch_json_format_is_a_document_tree(api: httpx.Client, emulator: Any) -> None:
    [page] = _fetch(api, [f"{emulator.base_url}/_fixtures/article.html"], format="json")["results"]

    tree = json.loads(page["text"])  # a string on the wire, as the SDK models it
    assert tree["type"] == "document"
    kinds = [block["type"] for block in tree["children"]]
    assert kinds[:3] == ["heading", "paragraph", "heading"]
    assert {"list", "image", "quote", "code", "table"} <= set(kinds)
    lists = [block for block in tree["children"] if block["type"] == "list"]
    assert [lst["ordered"] for lst in lists] == [False, True]
    assert lists[0]["items"][0] == "Ochre sea stars clinging to the mussel beds"


def test_fetch_other_content_types(api: httpx.Client, emulator: Any) -> None:
    base = f"{emulator.base_url}/_fixtures"

    body = _fetch(api, [f"{base}/report.pdf", f"{base}/data.json", f"{base}/notes.txt", f"{base}/long.html"])

    pdf, data, notes, long = body["results"]
    assert pdf["text"].startswith("Quarterly Tide Report\n\nAverage low tide fell by 4 cm")
    assert '"station": "North Point"' in data["text"]
    assert notes["text"].startswith("Field notes, day 3.")
    assert long["title"] == "Full Season Survey Log"
    assert long["text"].count("## Survey section") == 60
    assert len(long["text"]) > 20_000


def test_fetch_redirect_reports_final_url(api: httpx.Client, emulator: Any) -> None:
    [page] = _fetch(api, [f"{emulator.base_url}/_fixtures/redirect"])["results"]

    assert page["url"].endswith("/_fixtures/redirect")
    assert page["final_url"].endswith("/_fixtures/article.html")


def test_fetch_per_url_errors_do_not_fail_the_batch(api: httpx.Client, emulator: Any) -> None:
    base = f"{emulator.base_url}/_fixtures"
    urls = [
        f"{base}/article.html",
        f"{base}/slow.html",
        f"{base}/image.png",
        f"{base}/blocked.html",
        f"{base}/missing.html",
        "http://10.1.2.3/admin",
        "http://localhost:9/x",
        "http://169.254.169.254/latest/meta-data",
        f"{emulator.base_url}/v1/runs",
        "ftp://files.example.com/a.txt",
    ]

    body = _fetch(api, urls)

    assert [page["url"] for page in body["results"]] == [urls[0]]
    errors = {error["url"]: error["error"] for error in body["errors"]}
    assert errors == {
        urls[1]: "fetch timeout",
        urls[2]: "no extractable content",
        urls[3]: "bot protection detected",
        urls[4]: "fetch failed: HTTP 404",
        urls[5]: "Invalid or disallowed URL",
        urls[6]: "Invalid or disallowed URL",
        urls[7]: "Invalid or disallowed URL",
        urls[8]: "Invalid or disallowed URL",
        urls[9]: "Invalid or disallowed URL",
    }


def test_fetch_public_url_gets_a_synthetic_page(api: httpx.Client) -> None:
    [page] = _fetch(api, ["https://www.example.com/pricing-plans"], links=True)["results"]

    assert page["title"] == "Pricing Plans | www.example.com"
    assert page["text"].startswith("# Pricing Plans\n")
    assert "https://www.example.com/about" in page["links"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, ["urls"]),
        ({"urls": []}, ["urls"]),
        ({"urls": [f"https://e.example.com/{i}" for i in range(11)]}, ["urls"]),
        ({"urls": [42]}, ["urls", 0]),
        ({"urls": ["https://e.example.com/"], "format": "pdf"}, ["format"]),
        ({"urls": ["https://e.example.com/"], "links": "yes"}, ["links"]),
        (
            {"urls": ["https://e.example.com/"], "proxy_config": {"country_code": "ZZ"}},
            ["proxy_config", "country_code"],
        ),
    ],
)
def test_fetch_validation(api: httpx.Client, body: dict[str, Any], path: list[Any]) -> None:
    response = api.post("/v1/fetch", json=body)

    assert response.status_code == 400
    assert [detail["path"] for detail in response.json()["error"]["details"]] == [path]


def test_fetch_fixture_is_served_over_http(emulator: Any) -> None:
    response = emulator.http.get(f"{emulator.base_url}/_fixtures/article.html")

    assert response.status_code == 200
    assert "<title>Tide Pools of the Northern Coast</title>" in response.text


# --------------------------------------------------------------------------- search


def test_search_ranks_deterministically(api: httpx.Client) -> None:
    first = api.get("/v1/search", params={"query": "python asyncio"}).json()
    second = api.get("/v1/search", params={"query": "python asyncio"}).json()

    assert first == second
    assert first["query"] == "python asyncio"
    assert first["results"][0]["url"] == "https://docs.python.org/3/library/asyncio.html"
    assert [r["position"] for r in first["results"]] == list(range(1, len(first["results"]) + 1))
    assert first["total_results"] == len(first["results"])
    result = first["results"][0]
    assert set(result) >= {"position", "title", "url", "snippet", "site_name"}
    assert result["site_name"] == "docs.python.org"
    assert (first["page"], first["location"], first["language"]) == (0, "us", "en")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ("us", "en")),
        ({"location": "FR"}, ("fr", "fr")),
        ({"location": "BR"}, ("br", "pt")),
        ({"location": "United Kingdom"}, ("gb", "en")),
        ({"language": "ja"}, ("jp", "ja")),
        ({"language": "de"}, ("de", "de")),
        ({"location": "CA", "language": "fr"}, ("ca", "fr")),
    ],
)
def test_search_location_language_resolution(
    api: httpx.Client, params: dict[str, str], expected: tuple[str, str]
) -> None:
    body = api.get("/v1/search", params={"query": "weather", **params}).json()

    assert (body["location"], body["language"]) == expected


def test_search_language_boosts_matching_results(api: httpx.Client) -> None:
    body = api.get("/v1/search", params={"query": "automatisierung python", "language": "de"}).json()

    assert body["results"][0]["url"] == "https://blog.beispiel.de/web-automatisierung"


def test_search_pages(api: httpx.Client) -> None:
    first = api.get("/v1/search", params={"query": "web automation"}).json()
    second = api.get("/v1/search", params={"query": "web automation", "page": 1}).json()

    assert len(first["results"]) == 10
    assert second["page"] == 1
    assert second["results"][0]["position"] == 11
    assert not {r["url"] for r in first["results"]} & {r["url"] for r in second["results"]}


def test_search_without_matches_is_empty(api: httpx.Client) -> None:
    body = api.get("/v1/search", params={"query": "zzzqqq"}).json()

    assert body["results"] == [] and body["total_results"] == 0


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({}, ["query"]),
        ({"query": "  "}, ["query"]),
        ({"query": "x", "location": "Atlantis"}, ["location"]),
        ({"query": "x", "language": "klingon"}, ["language"]),
        ({"query": "x", "page": -1}, ["page"]),
        ({"query": "x", "page": "two"}, ["page"]),
    ],
)
def test_search_validation(api: httpx.Client, params: dict[str, Any], path: list[str]) -> None:
    response = api.get("/v1/search", params=params)

    assert response.status_code == 400
    assert [detail["path"] for detail in response.json()["error"]["details"]] == [path]


def test_search_rate_limit_is_per_key(api: httpx.Client, emulator: Any) -> None:
    answers = [api.get("/v1/search", params={"query": f"q{i}"}) for i in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json() == {
        "error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Rate limit exceeded. Try again in 60 seconds."}
    }
    assert "retry-after" not in answers[-1].headers
    other = api.get("/v1/search", params={"query": "q"}, headers={"X-API-Key": emulator.other_key})
    assert other.status_code == 200
    emulator.reset()
    assert api.get("/v1/search", params={"query": "q"}).status_code == 200


def test_search_usage_lists_the_callers_searches(api: httpx.Client, emulator: Any) -> None:
    for query in ("alpha", "beta", "gamma"):
        api.get("/v1/search", params={"query": query})
    api.get("/v1/search", params={"query": "other"}, headers={"X-API-Key": emulator.other_key})

    page = api.get("/v1/search/usage", params={"limit": 2}).json()

    assert [r["query"] for r in page["data"]] == ["gamma", "beta"]
    assert page["pagination"]["total"] == 3 and page["pagination"]["has_more"] is True
    rest = api.get("/v1/search/usage", params={"cursor": page["pagination"]["next_cursor"]}).json()
    assert [r["query"] for r in rest["data"]] == ["alpha"]
    assert rest["pagination"]["next_cursor"] is None
    assert set(rest["data"][0]) >= {"query", "status", "result_count", "created_at"}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"page": 0}, {"cursor": "%%%"}])
def test_usage_validation(api: httpx.Client, params: dict[str, Any]) -> None:
    assert api.get("/v1/search/usage", params=params).status_code == 400
    assert api.get("/v1/browser/usage", params=params).status_code == 400
