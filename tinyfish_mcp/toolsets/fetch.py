"""The 'fetch' toolset: ``fetch_content`` renders up to 10 pages and returns their text.

Page text can be huge, so every result is bounded: by default the result budget
(``settings.mcp_max_result_chars``, 20,000) is shared by the requested URLs, and a page
whose text does not fit says where to continue (``next_offset``) and the result's
``hint`` spells out the exact follow-up call. Lists of links share the same budget.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import READ_ONLY
from ..runtime.bounds import clip
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, upstream_call
from ..runtime.schema import OutputModel, as_tool_result, schema_bounds
from ..upstream.models import FetchHighlights, FetchProxyConfig, FetchRequest, FetchResponse, FetchResult
from ..upstream.models.products import MAX_SELECTORS, PER_URL_TIMEOUT_MS
from ._inputs import normalize_url
from ._provider_args import hide_arguments

__all__ = [
    "FetchContentResult",
    "FetchFailure",
    "FetchedPage",
    "Highlights",
    "bounded_pages",
    "call_fetch",
    "failures_of",
    "fetch_request",
    "fetch_result",
    "register",
]

MAX_URLS = 10
MIN_TEXT_CHARS = 500  # a page always gets at least this much text, however many URLs share the budget
MAX_CHARS_RANGE = (100, 200_000)
METADATA_VALUE_CHARS = 300  # one page_metadata value (a long description or keyword list is cut)
METADATA_TAGS = 40  # named tags kept per group of page_metadata

# A scheme other than http(s) written without "//" (mailto:, javascript:, data:, file:...).
# "localhost:8080" is a host and port, not a scheme: the lookahead refuses a digit after ':'.

# Hints for the per-URL failures the documents list, so the model knows what to try next.
_FAILURE_HINTS = {
    "selector_not_matched": "no include_selectors entry matched: retry with one of candidate_selectors, "
    "or without selectors",
    "selector_unsupported": "this document has no HTML to scope: fetch it without selectors",
    "timeout": "the page was too slow; retry once with a higher per_url_timeout_ms, or use "
    "run_web_automation for slow sites",
    "bot protection": "retry with proxy_country, or use run_web_automation with a stealth profile",
    "no extractable content": "the URL is not a text page (image or binary); fetch a page that links to it",
    "disallowed": "only public http(s) pages can be fetched (no private or local addresses)",
    "proxy": "the proxy failed; retry without proxy_country or with another country",
}


class Highlights(BaseModel):
    # Query-ranked snippets of each page instead of its whole text (markdown only). No
    # docstring: it would become a schema description the tool description already gives.
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(description="What to find")]
    max_snippets: Annotated[int | None, schema_bounds(1, 20, description="Default 5")] = None
    max_characters: Annotated[int | None, schema_bounds(1)] = None
    include_full_page_text: bool = False


class Snippet(OutputModel):
    text: str
    rank: int


class FetchedPage(OutputModel):
    url: str
    final_url: str | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None
    author: str | None = None
    published_date: str | None = None
    text: str | None = None
    total_chars: int = 0
    next_offset: int | None = None
    highlights: list[Snippet] | None = None
    links: list[str] | None = None
    image_links: list[str] | None = None
    not_modified: bool | None = None
    etag: str | None = None
    last_modified: str | None = None
    conditional_unsupported: bool | None = None
    unmatched_selectors: list[str] | None = None
    page_metadata: dict[str, Any] | None = None


class FetchFailure(OutputModel):
    url: str
    error: str
    unmatched_selectors: list[str] | None = None
    candidate_selectors: list[str] | None = None


class FetchContentResult(OutputModel):
    results: list[FetchedPage]
    errors: list[FetchFailure]
    hint: str | None = None


def _failure_text(error: str) -> str:
    lowered = error.lower()
    for marker, hint in _FAILURE_HINTS.items():
        if marker in lowered:
            return f"{error}: {hint}"
    return error


def _text_of(result: FetchResult) -> str:
    """The page text as a string; a JSON document tree is serialized compactly."""
    text = result.text
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return json.dumps(text, ensure_ascii=False, separators=(",", ":"))


def _bounded_links(links: list[str], budget: int) -> tuple[list[str], int]:
    """As many links as fit in ``budget`` characters, and how many were left out."""
    kept: list[str] = []
    used = 0
    for link in links:
        used += len(link) + 3  # quotes and comma in the serialized list
        if used > budget:
            break
        kept.append(link)
    return kept, len(links) - len(kept)


def _metadata(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """page_metadata as sent, each value cut to a bounded length and each group to a bounded size."""
    if data is None:
        return None

    def cut(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k)[:100]: cut(v) for k, v in list(value.items())[:METADATA_TAGS]}
        if isinstance(value, str) and len(value) > METADATA_VALUE_CHARS:
            return value[: METADATA_VALUE_CHARS - 3] + "..."
        return value if value is None or isinstance(value, str | int | float | bool) else str(value)[:100]

    shaped: dict[str, Any] = cut(data)
    return shaped


def bounded_pages(
    results: list[FetchResult],
    *,
    budget: int,
    count: int,
    max_chars: int | None,
    offset: int,
    want: dict[str, bool],
) -> tuple[list[FetchedPage], int]:
    """The pages of a fetch within ``budget`` characters shared by ``count`` URLs, and links left out."""
    share = budget // max(count, 1)
    pages: list[FetchedPage] = []
    omitted = 0
    for result in results:
        page, dropped = _page(result, share=share, max_chars=max_chars, offset=offset, want=want)
        pages.append(page)
        omitted += dropped
    return pages, omitted


def failures_of(errors: list[Any]) -> list[FetchFailure]:
    """The per-URL failures of a fetch, each with what to try next."""
    return [
        FetchFailure(
            url=e.url,
            error=_failure_text(e.error),
            unmatched_selectors=e.unmatched_selectors,
            candidate_selectors=e.candidate_selectors,
        )
        for e in errors
    ]


def _page(
    result: FetchResult, *, share: int, max_chars: int | None, offset: int, want: dict[str, bool]
) -> tuple[FetchedPage, int]:
    """One bounded page, and how many of its links were left out."""
    page = FetchedPage(
        url=result.url,
        final_url=result.final_url if result.final_url != result.url else None,
        title=result.title,
        description=result.description,
        language=result.language,
        author=result.author,
        published_date=result.published_date,
        not_modified=result.not_modified,
        etag=result.etag,
        last_modified=result.last_modified,
        conditional_unsupported=result.conditional_unsupported,
        unmatched_selectors=result.unmatched_selectors,
        page_metadata=_metadata(result.page_metadata),
    )
    used = sum(len(v or "") for v in (page.final_url, page.title, page.description)) + 200
    if result.highlights is not None:
        page.highlights = []
        for snippet in sorted(result.highlights, key=lambda h: h.rank):
            if page.highlights and used + len(snippet.text) > max(share, max_chars or 0):
                break  # snippets are ranked: the best ones are kept
            text, _ = clip(snippet.text, max(MIN_TEXT_CHARS, share - used), 0)
            page.highlights.append(Snippet(text=text, rank=snippet.rank))
            used += len(text) + 20
    omitted = 0
    # Links may take up to half of this page's share; the text gets what is left.
    link_budget = max(share, max_chars or 0) // 2
    for name in ("links", "image_links"):
        if want[name]:
            kept, dropped = _bounded_links(getattr(result, name), link_budget)
            setattr(page, name, kept)
            omitted += dropped
            size = sum(len(link) + 3 for link in kept)
            used += size
            link_budget -= size
    if result.text is None:
        return page, omitted  # unchanged (not_modified), or snippets only
    text = _text_of(result)
    limit = max_chars if max_chars is not None else max(MIN_TEXT_CHARS, share - used)
    page.text, page.next_offset = clip(text, limit, offset)
    page.total_chars = len(text)
    return page, omitted


def _hint(
    pages: list[FetchedPage], omitted: int, *, fmt: str, max_chars: int, scope: dict[str, list[str]]
) -> str | None:
    """The exact follow-up call for cut text, and a word on omitted links and validators.

    ``scope`` holds the selectors of the call: offsets count in the scoped text, so the
    follow-up call must scope the page the same way.
    """
    cut = [p for p in pages if p.next_offset is not None]
    notes: list[str] = []
    if any(p.not_modified for p in pages):
        notes.append("not_modified: the page is unchanged since your validators; reuse what you read.")
    if any(p.conditional_unsupported for p in pages):
        notes.append("conditional_unsupported: that site sends no validators; compare the text instead.")
    if cut:
        first = cut[0]
        notes.append(
            f"{len(cut)} page(s) were cut to bound the result. To read on, call fetch_content("
            f"urls=[{first.url!r}], format={fmt!r}, "
            + "".join(f"{name}={value!r}, " for name, value in scope.items() if value)
            + f"offset={first.next_offset}, max_chars={max_chars})"
            + (" and likewise for the others." if len(cut) > 1 else ".")
            + " Each call fetches the page again."
        )
    if omitted:
        notes.append(f"{omitted} links were left out: fetch fewer URLs per call to see more of them.")
    return " ".join(notes) or None


def fetch_request(
    urls: list[str],
    *,
    max_chars: int | None,
    offset: int,
    highlights: Highlights | None,
    proxy_country: str | None,
    **fields: Any,
) -> FetchRequest:
    """The upstream request of a ``fetch_content`` call, its bounds checked in our words.

    ``fields`` are the other ``FetchRequest`` fields, as the tool passes them.
    """
    if not urls:
        raise ToolError("urls is empty: give 1 to 10 page URLs.")
    if len(urls) > MAX_URLS:
        raise ToolError(
            f"fetch_content takes at most {MAX_URLS} URLs per call (got {len(urls)}): "
            "split them into several calls."
        )
    low, high = MAX_CHARS_RANGE
    if max_chars is not None and not low <= max_chars <= high:
        raise ToolError(f"max_chars must be between {low} and {high} (got {max_chars}).")
    if offset < 0:
        raise ToolError(f"offset must be 0 or more (got {offset}): use the next_offset of a cut page.")
    normalized = [normalize_url(url, f"urls[{i}]") for i, url in enumerate(urls)]
    try:
        return FetchRequest(
            urls=normalized,
            highlights=FetchHighlights(
                query=highlights.query,
                max_snippets=highlights.max_snippets,
                max_characters=highlights.max_characters,
                include_full_page_text=highlights.include_full_page_text or None,
            )
            if highlights
            else None,
            proxy_config=FetchProxyConfig(country_code=proxy_country) if proxy_country else None,
            **fields,
        )
    except ValidationError as exc:
        raise invalid_input(exc) from exc


async def call_fetch(deps: ToolDeps, request: FetchRequest) -> FetchResponse:
    """The fetch provider's answer to ``request``, upstream failures as tool errors."""
    provider = deps.providers.fetch
    key = await provider.credential()
    return await upstream_call("fetching the pages", provider.fetch(key, request))


def fetch_result(
    response: FetchResponse, request: FetchRequest, *, budget: int, max_chars: int | None, offset: int
) -> FetchContentResult:
    """The bounded result of a fetch: its pages share ``budget``; cut text says how to read on."""
    want = {"links": bool(request.links), "image_links": bool(request.image_links)}
    pages, omitted = bounded_pages(
        response.results,
        budget=budget,
        count=len(request.urls),
        max_chars=max_chars,
        offset=offset,
        want=want,
    )
    return FetchContentResult(
        results=pages,
        errors=failures_of(response.errors),
        hint=_hint(
            pages,
            omitted,
            fmt=request.format or "markdown",
            max_chars=max_chars or budget,
            scope={
                "include_selectors": request.include_selectors or [],
                "exclude_selectors": request.exclude_selectors or [],
            },
        ),
    )


DESCRIPTION = (
    "Read 1-10 known URLs in one call, free (rendered in a real browser; markdown, html or json). "
    "Use it rather than a paid automation run whenever you only need to read. Long page? "
    "highlights={query} returns just the passages that answer it: the cheapest read. CSS "
    "include_selectors/exclude_selectors scope it. To re-check later: include_etag_and_last_modified, "
    "then replay etag/last_modified as if_none_match/if_modified_since (one URL). Pass purpose. "
    "Per-URL failures are in errors; cut text continues with offset=next_offset (see hint)."
)


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``fetch_content`` on ``mcp``."""
    budget = deps.settings.mcp_max_result_chars

    @mcp.tool(
        description=DESCRIPTION,
        nature=Nature(budget="fetch"),
        annotations=READ_ONLY,
    )
    async def fetch_content(
        urls: Annotated[
            list[str],
            schema_bounds(max_items=MAX_URLS),
        ],
        format: Literal["markdown", "html", "json"] = "markdown",
        links: bool = False,
        image_links: bool = False,
        page_metadata: Annotated[
            bool, Field(description="Also the parsed <head>: canonical, og, ...")
        ] = False,
        include_selectors: Annotated[
            list[str] | None,
            schema_bounds(max_items=MAX_SELECTORS),
        ] = None,
        exclude_selectors: Annotated[
            list[str] | None,
            schema_bounds(max_items=MAX_SELECTORS),
        ] = None,
        if_none_match: Annotated[str | None, Field(description="A prior etag")] = None,
        if_modified_since: Annotated[str | None, Field(description="A prior last_modified")] = None,
        include_etag_and_last_modified: bool = False,
        per_url_timeout_ms: Annotated[
            int | None,
            schema_bounds(*PER_URL_TIMEOUT_MS),
        ] = None,
        purpose: Annotated[str | None, Field(description="Why you read these pages")] = None,
        highlights: Highlights | None = None,
        include_html_head: bool = False,
        ttl: Annotated[
            int | None,
            schema_bounds(0, description="Max cache age in s; 0 = live fetch"),
        ] = None,
        proxy_country: Literal["US", "GB", "CA", "DE", "FR", "JP", "AU"] | None = None,
        max_chars: Annotated[
            int | None,
            schema_bounds(*MAX_CHARS_RANGE, description="Per page"),
        ] = None,
        offset: Annotated[int, schema_bounds(0, description="Text start (a next_offset)")] = 0,
    ) -> Annotated[CallToolResult, FetchContentResult]:
        """Fetch pages through TinyFish Fetch and bound their text (see DESCRIPTION)."""
        request = fetch_request(
            urls,
            max_chars=max_chars,
            offset=offset,
            purpose=purpose,
            format=format,
            include_html_head=include_html_head or None,
            page_metadata=page_metadata or None,
            links=links or None,
            image_links=image_links or None,
            ttl=ttl,
            per_url_timeout_ms=per_url_timeout_ms,
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
            include_etag_and_last_modified=include_etag_and_last_modified or None,
            highlights=highlights,
            include_selectors=include_selectors or None,
            exclude_selectors=exclude_selectors or None,
            proxy_country=proxy_country,
        )
        response = await call_fetch(deps, request)
        return as_tool_result(
            fetch_result(response, request, budget=budget, max_chars=max_chars, offset=offset)
        )

    hide_arguments(mcp, "fetch_content", deps.providers.fetch.hidden_arguments)
