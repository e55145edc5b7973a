"""The 'fetch' toolset: ``fetch_content`` renders up to 10 pages and returns their text.

Page text can be huge, so every result is bounded: by default the result budget
(``settings.mcp_max_result_chars``, 20,000) is shared by the requested URLs, and a page
whose text does not fit says where to continue (``next_offset``) and the result's
``hint`` spells out the exact follow-up call. Lists of links share the same budget.

A call is three steps: ``fetch_request`` builds the upstream request (its bounds checked
in our words), ``call_fetch`` sends it to the fetch provider, and ``fetch_result``
(``_fetch_out.py``) bounds and formats the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, upstream_call
from ..runtime.schema import as_tool_result, schema_bounds
from ..upstream.constants import MAX_SELECTORS, PER_URL_TIMEOUT_MS
from ._fetch_out import FetchContentResult, fetch_result
from ._inputs import normalize_url
from ._provider_args import hide_arguments

if TYPE_CHECKING:
    from ..upstream.models import FetchRequest, FetchResponse

__all__ = ["FetchTools", "Highlights", "call_fetch", "fetch_request", "register"]

MAX_URLS = 10
MAX_CHARS_RANGE = (100, 200_000)


class Highlights(BaseModel):
    # Query-ranked snippets of each page instead of its whole text (markdown only). No
    # docstring: it would become a schema description the tool description already gives.
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on the first call

    query: Annotated[str, Field(description="What to find")]
    max_snippets: Annotated[int | None, schema_bounds(1, 20, description="Default 5")] = None
    max_characters: Annotated[int | None, schema_bounds(1)] = None
    include_full_page_text: bool = False


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
    # the payload models load on first use, not at start-up
    from ..upstream.models import FetchHighlights, FetchProxyConfig, FetchRequest

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


async def call_fetch(
    deps: ToolDeps, request: FetchRequest, *, action: str = "fetching the pages"
) -> FetchResponse:
    """The fetch provider's answer to ``request``, upstream failures as tool errors."""
    provider = deps.providers.fetch
    key = await provider.credential()
    return await upstream_call(action, provider.fetch(key, request))


DESCRIPTION = (
    "Read 1-10 known URLs in one call, free (rendered in a real browser; markdown, html or json). "
    "Use it rather than a paid automation run whenever you only need to read. Long page? "
    "highlights={query} returns just the passages that answer it: the cheapest read. CSS "
    "include_selectors/exclude_selectors scope it. To re-check later: include_etag_and_last_modified, "
    "then replay etag/last_modified as if_none_match/if_modified_since (one URL). Pass purpose. "
    "Per-URL failures are in errors; cut text continues with offset=next_offset (see hint)."
)


class FetchTools:
    """The fetch toolset's tool, bound to what it needs; ``register`` names it."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.budget = deps.settings.mcp_max_result_chars

    async def fetch_content(
        self,
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
        response = await call_fetch(self.deps, request)
        return as_tool_result(
            fetch_result(response, request, budget=self.budget, max_chars=max_chars, offset=offset)
        )


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``fetch_content`` on ``mcp``."""
    tools = FetchTools(deps)
    mcp.tool(description=DESCRIPTION, nature=Nature(budget="fetch"), annotations=READ_ONLY)(
        tools.fetch_content
    )
    hide_arguments(mcp, "fetch_content", deps.providers.fetch.hidden_arguments)
