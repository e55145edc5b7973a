"""The 'search' toolset: ``search`` returns ranked web, news or research-paper results.

The tool and its arguments carry the names of TinyFish's hosted ``search`` tool, plus
the filters the official SDK sends (domains, publication years). Filters are checked
as the SDK checks them, before anything is sent. The Search API allows only a few
requests a minute; the client retries a 429 with a backoff, and when that is not
enough the tool error tells the model to wait instead of looping.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field, ValidationError

from ..pipeline.catalog import Catalog, Nature
from ..upstream.models import SearchParams, SearchResult
from ..upstream.models.products import SEARCH_MAX_PAGE, SEARCH_RECENCY_MAX_MINUTES
from ._provider_args import hide_arguments
from ._schema import OutputModel, as_tool_result
from .context import ToolDeps
from .errors import invalid_input, upstream_call

__all__ = ["MAX_QUERY_STRING", "SearchHit", "SearchWebResult", "check_query_length", "register"]

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
    "searches a minute: if rate limited, wait. More: page=1..10."
)


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


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``search`` on ``mcp``."""

    @mcp.tool(
        description=DESCRIPTION,
        nature=Nature(budget="search"),
        annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=True),
    )
    async def search(
        query: str,
        location: Annotated[str | None, Field(description="Country code, e.g. US")] = None,
        language: Annotated[str | None, Field(description="Language code, e.g. en")] = None,
        domain_type: Literal["web", "news", "research_paper"] | None = None,
        recency_minutes: Annotated[
            int | None,
            Field(
                description="Past N minutes (1440 = a day)",
                json_schema_extra={"minimum": 1, "maximum": SEARCH_RECENCY_MAX_MINUTES},
            ),
        ] = None,
        after_date: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
        before_date: Annotated[str | None, Field(description="YYYY-MM-DD")] = None,
        include_thumbnail: bool = False,
        page: Annotated[
            int | None, Field(json_schema_extra={"minimum": 0, "maximum": SEARCH_MAX_PAGE})
        ] = None,
        purpose: Annotated[str | None, Field(description="Why you search")] = None,
        include_domains: Annotated[
            str | None, Field(description="Comma-separated, e.g. github.com,arxiv.org")
        ] = None,
        exclude_domains: Annotated[str | None, Field(description="Comma-separated")] = None,
        pub_year_min: Annotated[int | None, Field(json_schema_extra={"minimum": 0})] = None,
        pub_year_max: Annotated[int | None, Field(json_schema_extra={"maximum": 9999})] = None,
    ) -> Annotated[CallToolResult, SearchWebResult]:
        """Search through TinyFish Search (see DESCRIPTION)."""
        try:
            params = SearchParams(
                query=query,
                purpose=purpose,
                location=_blank_to_none(location),
                language=_blank_to_none(language),
                include_domains=_blank_to_none(include_domains),
                exclude_domains=_blank_to_none(exclude_domains),
                after_date=_blank_to_none(after_date),
                before_date=_blank_to_none(before_date),
                recency_minutes=recency_minutes,
                domain_type=domain_type,
                pub_year_min=pub_year_min,
                pub_year_max=pub_year_max,
                include_thumbnail=include_thumbnail or None,
                page=page,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        check_query_length(params.to_body())
        provider = deps.providers.search
        key = await provider.credential()
        # A 429 names the Search API's own limit, which is what a rate-limited caller needs.
        response = await upstream_call(
            "searching",
            provider.search(key, params),
            rate_limit="The Search API allows about 5 searches a minute",
        )
        hits = [_hit(r) for r in sorted(response.results, key=lambda r: r.position)[:MAX_RESULTS]]
        location = response.location or params.location
        return as_tool_result(
            SearchWebResult(
                query=response.query or params.query,
                # Country codes read best upper case (US), as the documents write them.
                location=location.upper() if location and len(location) == 2 else location,
                language=response.language or params.language,
                results=hits,
                total_results=max(response.total_results, len(hits)),
                page=response.page,
                hint=_hint(len(hits), response.total_results, response.page),
            )
        )

    hide_arguments(mcp, "search", deps.providers.search.hidden_arguments)
