"""Search filters and Fetch's highlights, conditional requests and selectors, through the
official SDK where it sends them, and over plain HTTP for what only the API takes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tinyfish import TinyFish


@pytest.fixture
def sdk(emulator: Any) -> Iterator[TinyFish]:
    client = TinyFish(api_key=emulator.api_key, base_url=emulator.base_url)
    yield client
    client.close()


def _fixture(emulator: Any, name: str) -> str:
    return f"{emulator.base_url}/_fixtures/{name}"


# ------------------------------------------------------------------------------ search


def test_news_within_a_recency_window_carry_dates_and_publishers(sdk: TinyFish) -> None:
    day = sdk.search.query("coast", domain_type="news", recency_minutes=1440)
    week = sdk.search.query("coast", domain_type="news", recency_minutes=7 * 1440)

    assert day.results and len(week.results) > len(day.results)
    cutoff = datetime.now(UTC) - timedelta(minutes=1440)
    for hit in day.results:
        assert hit.publisher and hit.date
        assert datetime.fromisoformat(hit.date.replace("Z", "+00:00")) >= cutoff
    assert {h.url for h in day.results} <= {h.url for h in week.results}
    assert day.total_results == len(day.results)


def test_research_papers_carry_scholarly_fields_and_honour_years(sdk: TinyFish) -> None:
    papers = sdk.search.query("tide pool sea star", domain_type="research_paper")
    recent = sdk.search.query(
        "tide pool sea star", domain_type="research_paper", pub_year_min=2020, pub_year_max=2024
    )

    assert len(papers.results) >= 2
    for hit in papers.results:
        assert hit.authors and hit.venue and hit.year and hit.cited_by_count is not None
    assert any(hit.pdf_url for hit in papers.results)
    assert recent.results and all(2020 <= (hit.year or 0) <= 2024 for hit in recent.results)
    assert len(recent.results) < len(papers.results)


def test_domain_filters_and_a_date_window(sdk: TinyFish) -> None:
    only = sdk.search.query("automation", include_domains="blog.example.com")
    without = sdk.search.query("automation", exclude_domains="blog.example.com")
    window = sdk.search.query("automation", after_date="2025-01-01", before_date="2025-12-31")

    assert only.results and all(h.site_name == "blog.example.com" for h in only.results)
    assert without.results and all(h.site_name != "blog.example.com" for h in without.results)
    assert window.results
    assert all(h.date and "2025-01-01" <= h.date[:10] <= "2025-12-31" for h in window.results)


def test_pages_share_one_total(sdk: TinyFish) -> None:
    first = sdk.search.query("tide", domain_type="news")
    broad = sdk.search.query("the a of", page=0)
    assert first.page == 0 and first.total_results == len(first.results)
    assert broad.total_results >= len(broad.results)


def test_thumbnails_only_on_request(api: httpx.Client) -> None:
    plain = api.get("/v1/search", params={"query": "web automation"}).json()
    with_thumbs = api.get(
        "/v1/search", params={"query": "web automation", "include_thumbnail": "true"}
    ).json()

    assert not any("thumbnail" in hit for hit in plain["results"])
    assert any(hit.get("thumbnail", "").startswith("https://") for hit in with_thumbs["results"])


def test_the_service_refuses_what_the_sdk_refuses(api: httpx.Client, sdk: TinyFish) -> None:
    for params in (
        {"recency_minutes": "60", "after_date": "2026-01-01"},
        {"domain_type": "research_paper", "recency_minutes": "60"},
        {"after_date": "2026-02-01", "before_date": "2026-01-01"},
        {"page": "11"},
    ):
        response = api.get("/v1/search", params={"query": "tide", **params})
        assert response.status_code == 400, params
    with pytest.raises(ValueError, match="recency_minutes cannot be combined"):
        sdk.search.query("tide", recency_minutes=60, after_date="2026-01-01")


# ------------------------------------------------------------------------------- fetch


def test_highlights_rank_the_passages_that_answer_the_query(sdk: TinyFish, emulator: Any) -> None:
    url = _fixture(emulator, "article.html")
    response = sdk.fetch.get_contents([url], highlights={"query": "anemone touched", "max_snippets": 3})
    full = sdk.fetch.get_contents(
        [url], highlights={"query": "anemone", "max_characters": 60, "include_full_page_text": True}
    )

    [page] = response.results
    assert page.text is None and page.highlights
    assert [h.rank for h in page.highlights] == list(range(1, len(page.highlights) + 1))
    assert len(page.highlights) <= 3
    assert page.highlights[0].text == "- Giant green anemones that close when touched"
    [both] = full.results
    assert both.text and "Tide Pools" in both.text
    assert both.highlights and sum(len(h.text) for h in both.highlights) <= 60


def test_conditional_requests_answer_not_modified(sdk: TinyFish, emulator: Any) -> None:
    url = _fixture(emulator, "article.html")
    first = sdk.fetch.get_contents([url], include_etag_and_last_modified=True).results[0]
    assert first.etag and first.last_modified and first.not_modified is False and first.text

    again = sdk.fetch.get_contents([url], if_none_match=first.etag, include_etag_and_last_modified=True)
    [unchanged] = again.results
    assert unchanged.not_modified is True and unchanged.text is None and unchanged.etag == first.etag

    older = sdk.fetch.get_contents([url], if_modified_since="Mon, 01 Jan 2024 00:00:00 GMT").results[0]
    newer = sdk.fetch.get_contents([url], if_modified_since=first.last_modified).results[0]
    assert older.not_modified is False and older.text
    assert newer.not_modified is True and newer.text is None
    stale = sdk.fetch.get_contents([url], if_none_match='"other"').results[0]
    assert stale.not_modified is False and stale.text


def test_a_page_without_validators_says_so(api: httpx.Client) -> None:
    body = api.post(
        "/v1/fetch",
        json={"urls": ["https://generated.example.com/page"], "include_etag_and_last_modified": True},
    ).json()
    [page] = body["results"]
    assert page["conditional_unsupported"] is True and "etag" not in page and page["text"]


def test_html_head_json_and_per_url_timeout(sdk: TinyFish, emulator: Any) -> None:
    url = _fixture(emulator, "article.html")
    headed = sdk.fetch.get_contents([url], format="html", include_html_head=True).results[0]
    as_json = sdk.fetch.get_contents([url], format="json").results[0]
    slow = sdk.fetch.get_contents([_fixture(emulator, "slow.html"), url], per_url_timeout_ms=5)

    assert headed.text and headed.text.startswith("<!DOCTYPE html>")
    assert "<title>Tide Pools of the Northern Coast</title>" in headed.text
    assert as_json.format == "json" and as_json.text and as_json.text.startswith('{"type":"document"')
    assert [e.error for e in slow.errors] == ["fetch timeout"] and len(slow.results) == 1


def _scoped(api: httpx.Client, url: str, **options: Any) -> httpx.Response:
    return api.post("/v1/fetch", json={"urls": [url], **options})


def test_selectors_scope_the_page(api: httpx.Client, emulator: Any) -> None:
    url = _fixture(emulator, "article.html")
    nav = _scoped(api, url, include_selectors=["nav"]).json()["results"][0]
    pruned = _scoped(api, url, include_selectors=["article"], exclude_selectors=["ul", "table, pre"]).json()
    partial = _scoped(api, url, include_selectors=["article > h2", ".missing"]).json()["results"][0]

    assert "About" in nav["text"] and "Subscribe" in nav["text"] and "sea stars" not in nav["text"]
    text = pruned["results"][0]["text"]
    assert "Visiting safely" in text and "Ochre sea stars" not in text and "| Species" not in text
    assert "low tide: 06:42" not in text
    assert partial["unmatched_selectors"] == [".missing"]
    assert "What you will find" in partial["text"] and "Twice a day" not in partial["text"]


def test_selector_failures(api: httpx.Client, emulator: Any) -> None:
    url = _fixture(emulator, "article.html")
    missed = _scoped(api, url, include_selectors=["#nope"]).json()
    pdf = _scoped(api, _fixture(emulator, "report.pdf"), include_selectors=["main"]).json()
    invalid = _scoped(api, url, include_selectors=["main >> p"])

    [error] = missed["errors"]
    assert error["error"].startswith("selector_not_matched")
    assert error["unmatched_selectors"] == ["#nope"] and "main" in error["candidate_selectors"]
    assert pdf["errors"][0]["error"].startswith("selector_unsupported")
    assert invalid.status_code == 422


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"highlights": {"query": "x"}, "format": "html"}, ["highlights"]),
        ({"highlights": {"query": "x", "max_snippets": 21}}, ["highlights", "max_snippets"]),
        ({"highlights": {"query": "x", "bogus": 1}}, ["highlights"]),
        ({"per_url_timeout_ms": 0}, ["per_url_timeout_ms"]),
        ({"ttl": -1}, ["ttl"]),
        ({"purpose": " "}, ["purpose"]),
        ({"include_selectors": []}, ["include_selectors"]),
    ],
)
def test_fetch_option_validation(api: httpx.Client, body: dict[str, Any], path: list[Any]) -> None:
    response = api.post("/v1/fetch", json={"urls": ["https://e.example.com/"], **body})
    assert response.status_code == 400
    assert [detail["path"] for detail in response.json()["error"]["details"]] == [path]


def test_conditional_headers_need_a_single_url(api: httpx.Client) -> None:
    urls = ["https://a.example.com/", "https://b.example.com/"]
    response = api.post("/v1/fetch", json={"urls": urls, "if_none_match": '"x"'})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["path"] == ["if_none_match"]
