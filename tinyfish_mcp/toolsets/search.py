"""The 'search' toolset: ``search`` returns ranked web, news or research-paper results.

The tool and its arguments carry the names of TinyFish's hosted ``search`` tool, plus
the filters the official SDK sends (domains, publication years). Filters are checked
as the SDK checks them, before anything is sent. The Search API allows only a few
requests a minute; the client retries a 429 with a backoff, and when that is not
enough the tool error tells the model to wait instead of looping.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlencode

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, upstream_call
from ..runtime.schema import OutputModel, as_tool_result, schema_bounds
from ..upstream.constants import (
    MAX_SELECTORS,
    PER_URL_TIMEOUT_MS,
    SEARCH_MAX_PAGE,
    SEARCH_RECENCY_MAX_MINUTES,
)
from ._fetch_out import FetchedPage, FetchFailure, bounded_pages, failures_of
from ._provider_args import hide_arguments
from .fetch import call_fetch

if TYPE_CHECKING:
    from ..upstream.models import SearchResult

__all__ = [
    "MAX_QUERY_STRING",
    "SearchHit",
    "SearchTools",
    "SearchWebResult",
    "check_query_length",
    "register",
]

SNIPPET_CHARS = 400  # results are short by nature; this only guards against a runaway snippet
MAX_RESULTS = 20
MAX_AUTHORS = 10
MAX_QUERY_STRING = 6_000
"""Bytes of the URL-encoded query string a search may send (a search is a GET: servers and
proxies refuse longer URLs, often by closing the connection, which reads as an outage)."""

DESCRIPTION = (
    "Search the web, free: ranked results. Then read pages with fetch_content (also free), not a "
    "paid run. domain_type='news' adds publisher and date; 'research_paper' adds authors, venue, "
    "year, cited_by_count, pdf_url (filter by pub_year_min/max, not dates). Freshness: "
    "recency_minutes or after_date/before_date, not both. Pass purpose (improves ranking). About 5 "
    "searches a minute: if rate limited, wait. More: page=1..10. fetch={} also reads the top results."
)
FETCH_DEFAULT = 3  # results read by fetch={} unless it says how many


class SearchFetch(BaseModel):
    """What ``fetch`` may hold: how many top results to read, and fetch_content's reading options."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on the first search

    results: int = Field(default=FETCH_DEFAULT, ge=1, le=10)
    format: Literal["markdown", "html", "json"] = "markdown"
    links: bool = False
    image_links: bool = False
    page_metadata: bool = False
    include_selectors: list[str] | None = Field(default=None, min_length=1, max_length=MAX_SELECTORS)
    exclude_selectors: list[str] | None = Field(default=None, min_length=1, max_length=MAX_SELECTORS)
    per_url_timeout_ms: int | None = Field(default=None, ge=PER_URL_TIMEOUT_MS[0], le=PER_URL_TIMEOUT_MS[1])
    ttl: int | None = Field(default=None, ge=0)


def _fetch_options(value: str | dict[str, Any] | None) -> SearchFetch | None:
    """``fetch`` as an object or its JSON text (as the hosted tool takes it); refused in one line."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    raw: Any = value
    if isinstance(value, str):
        try:
            raw = json.loads(value)
        except ValueError:
            raise ToolError('fetch must be a JSON object such as {"results": 3}, or its JSON text') from None
    if not isinstance(raw, dict):
        raise ToolError('fetch must be a JSON object such as {"results": 3}')
    try:
        return SearchFetch.model_validate(raw)
    except ValidationError as exc:
        raise invalid_input(exc) from exc


def _domains(value: str | list[str] | None) -> str | None:
    """Domains as the API takes them: one comma-separated string (a list is joined)."""
    if isinstance(value, list):
        value = ",".join(part.strip() for part in value if part.strip())
    return _blank_to_none(value)


class SearchHit(OutputModel):
    position: int
    title: str
    url: str
    snippet: str
    site_name: str | None = None
    date: str | None = None
    publisher: str | None = None
    authors: list[str] | None = None
    venue: str | None = None
    year: int | None = None
    cited_by_count: int | None = None
    pdf_url: str | None = None
    thumbnail: str | None = None


class SearchWebResult(OutputModel):
    query: str
    location: str | None = None
    language: str | None = None
    results: list[SearchHit]
    total_results: int
    page: int
    pages: list[FetchedPage] | None = None
    fetch_errors: list[FetchFailure] | None = None
    hint: str | None = None


def _hit(result: SearchResult) -> SearchHit:
    snippet = result.snippet
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 3] + "..."
    return SearchHit(
        position=result.position,
        title=result.title,
        url=result.url,
        snippet=snippet,
        site_name=result.site_name or None,
        date=result.date,
        publisher=result.publisher,
        authors=result.authors[:MAX_AUTHORS] if result.authors else None,
        venue=result.venue,
        year=result.year,
        cited_by_count=result.cited_by_count,
        pdf_url=result.pdf_url,
        thumbnail=result.thumbnail,
    )


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _hint(count: int, total: int, page: int) -> str | None:
    if count == 0:
        return (
            "No results: rephrase the query by angle rather than synonym, or drop the most "
            "restrictive filter (a date bound or include_domains)."
        )
    if (page + 1) * 10 < total and page < SEARCH_MAX_PAGE:
        return f"{total} results in all: call search again with page={page + 1} for more."
    return None


def check_query_length(params: dict[str, object]) -> None:
    """Refuse, naming the argument, a search whose URL would be too long for TinyFish to take."""
    sent = {name: value for name, value in params.items() if value is not None}
    size = len(urlencode(sent))
    if size <= MAX_QUERY_STRING:
        return
    longest = max(sent, key=lambda name: len(urlencode({name: sent[name]})))
    text = str(sent[longest])
    raise ToolError(
        f"{longest}: too long to send. A search goes on a URL of at most {MAX_QUERY_STRING:,} bytes once "
        f"URL-encoded; this {longest} ({len(text):,} characters) takes "
        f"{len(urlencode({longest: text})):,} (characters outside ASCII take 6 to 12 bytes each). "
        "Shorten it to the words that matter and search again."
    )


class SearchTools:
    """The search toolset's tool, bound to what it needs; ``register`` names it."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps

    async def search(
        self,
        query: str,
        location: Annotated[str | None, Field(description="Country code, e.g. US")] = None,
        language: Annotated[str | None, Field(description="Language code, e.g. en")] = None,
        domain_type: Literal["web", "news", "research_paper"] | None = None,
        recency_minutes: Annotated[
            int | None,
            schema_bounds(1, SEARCH_RECENCY_MAX_MINUTES, description="Past N minutes (1440 = a day)"),
        ] = None,
        after_date: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
        before_date: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
        include_thumbnail: bool | Literal["true", "false"] = False,
        page: Annotated[int | None, schema_bounds(0, SEARCH_MAX_PAGE)] = None,
        purpose: Annotated[str | None, Field(description="Why you search")] = None,
        include_domains: Annotated[
            str | list[str] | None, Field(description="Comma-separated or a list, e.g. github.com,arxiv.org")
        ] = None,
        exclude_domains: Annotated[
            str | list[str] | None, Field(description="Comma-separated or a list")
        ] = None,
        pub_year_min: Annotated[int | None, schema_bounds(0)] = None,
        pub_year_max: Annotated[int | None, schema_bounds(maximum=9999)] = None,
        fetch: Annotated[
            str | dict[str, Any] | None,
            Field(
                description="Read the top results too: {results: 1-10 (3), format, links, page_metadata, ...}"
            ),
        ] = None,
    ) -> Annotated[CallToolResult, SearchWebResult]:
        """Search through TinyFish Search (see DESCRIPTION)."""
        from ..upstream.models import SearchParams  # the payload models load on first use, not at start-up

        reading = _fetch_options(fetch)
        thumbnails = include_thumbnail is True or include_thumbnail == "true"
        try:
            params = SearchParams(
                query=query,
                purpose=purpose,
                location=_blank_to_none(location),
                language=_blank_to_none(language),
                include_domains=_domains(include_domains),
                exclude_domains=_domains(exclude_domains),
                after_date=_blank_to_none(after_date),
                before_date=_blank_to_none(before_date),
                recency_minutes=recency_minutes,
                domain_type=domain_type,
                pub_year_min=pub_year_min,
                pub_year_max=pub_year_max,
                include_thumbnail=thumbnails or None,
                page=page,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        check_query_length(params.to_body())
        provider = self.deps.providers.search
        key = await provider.credential()
        # A 429 names the Search API's own limit, which is what a rate-limited caller needs.
        response = await upstream_call(
            "searching",
            provider.search(key, params),
            rate_limit="The Search API allows about 5 searches a minute",
        )
        hits = [_hit(r) for r in sorted(response.results, key=lambda r: r.position)[:MAX_RESULTS]]
        location = response.location or params.location
        pages, failures = (None, None) if reading is None else await self._read_top(hits, reading)
        return as_tool_result(
            SearchWebResult(
                query=response.query or params.query,
                # Country codes read best upper case (US), as the documents write them.
                location=location.upper() if location and len(location) == 2 else location,
                language=response.language or params.language,
                results=hits,
                total_results=max(response.total_results, len(hits)),
                page=response.page,
                pages=pages,
                fetch_errors=failures,
                hint=_hint(len(hits), response.total_results, response.page),
            )
        )

    async def _read_top(
        self, hits: list[SearchHit], reading: SearchFetch
    ) -> tuple[list[FetchedPage], list[FetchFailure]]:
        """The top ``reading.results`` hits read with the fetch provider, bounded like fetch_content."""
        from ..upstream.models import FetchRequest  # the payload models load on first use, not at start-up

        urls = [hit.url for hit in hits[: reading.results]]
        if not urls:
            return [], []
        try:
            request = FetchRequest(
                urls=urls,
                format=reading.format,
                links=reading.links or None,
                image_links=reading.image_links or None,
                page_metadata=reading.page_metadata or None,
                include_selectors=reading.include_selectors,
                exclude_selectors=reading.exclude_selectors,
                per_url_timeout_ms=reading.per_url_timeout_ms,
                ttl=reading.ttl,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        response = await call_fetch(self.deps, request, action="reading the top results")
        # The search results take part of the result budget; the pages share the rest.
        budget = self.deps.settings.mcp_max_result_chars * 3 // 4
        want = {"links": reading.links, "image_links": reading.image_links}
        pages, _ = bounded_pages(
            response.results, budget=budget, count=len(urls), max_chars=None, offset=0, want=want
        )
        return pages, failures_of(response.errors)


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``search`` on ``mcp``."""
    tools = SearchTools(deps)
    mcp.tool(description=DESCRIPTION, nature=Nature(budget="search"), annotations=READ_ONLY)(tools.search)
    hide_arguments(mcp, "search", deps.providers.search.hidden_arguments)
