"""The 'fetch' toolset: ``fetch_content`` renders up to 10 pages and returns their text.

Page text can be huge, so every result is bounded: by default the result budget
(``settings.mcp_max_result_chars``, 20,000) is shared by the requested URLs, and a page
whose text does not fit says where to continue (``next_offset``) and the result's
``hint`` spells out the exact follow-up call. Lists of links share the same budget.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field, ValidationError

from ..upstream.models import FetchProxyConfig, FetchRequest, FetchResult
from ._inputs import normalize_url
from ._schema import OutputModel, as_tool_result
from .bounds import clip
from .context import ToolDeps
from .errors import invalid_input, upstream_call

__all__ = ["FetchContentResult", "FetchFailure", "FetchedPage", "register"]

MAX_URLS = 10
MIN_TEXT_CHARS = 500  # a page always gets at least this much text, however many URLs share the budget
MAX_CHARS_RANGE = (100, 200_000)

# A scheme other than http(s) written without "//" (mailto:, javascript:, data:, file:...).
# "localhost:8080" is a host and port, not a scheme: the lookahead refuses a digit after ':'.

# Hints for the per-URL failures the documents list, so the model knows what to try next.
_FAILURE_HINTS = {
    "timeout": "the page took over 30 s; retry once, or use run_web_automation for slow sites",
    "bot protection": "retry with proxy_country, or use run_web_automation with a stealth profile",
    "no extractable content": "the URL is not a text page (image or binary); fetch a page that links to it",
    "disallowed": "only public http(s) pages can be fetched (no private or local addresses)",
    "proxy": "the proxy failed; retry without proxy_country or with another country",
}


class FetchedPage(OutputModel):
    url: str
    final_url: str | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None
    text: str
    total_chars: int
    next_offset: int | None = None
    links: list[str] | None = None
    image_links: list[str] | None = None


class FetchFailure(OutputModel):
    url: str
    error: str


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
        text="",
        total_chars=0,
    )
    used = sum(len(v or "") for v in (page.final_url, page.title, page.description)) + 200
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
    text = _text_of(result)
    limit = max_chars if max_chars is not None else max(MIN_TEXT_CHARS, share - used)
    page.text, page.next_offset = clip(text, limit, offset)
    page.total_chars = len(text)
    return page, omitted


def _hint(pages: list[FetchedPage], omitted: int, *, fmt: str, max_chars: int) -> str | None:
    """The exact follow-up call for cut text, and a word on omitted links."""
    cut = [p for p in pages if p.next_offset is not None]
    notes: list[str] = []
    if cut:
        first = cut[0]
        notes.append(
            f"{len(cut)} page(s) were cut to bound the result. To read on, call fetch_content("
            f"urls=[{first.url!r}], format={fmt!r}, offset={first.next_offset}, max_chars={max_chars})"
            + (" and likewise for the others." if len(cut) > 1 else ".")
            + " Each call fetches the page again."
        )
    if omitted:
        notes.append(f"{omitted} links were left out: fetch fewer URLs per call to see more of them.")
    return " ".join(notes) or None


DESCRIPTION = (
    "Read 1-10 web pages (rendered in a real browser) as markdown, html or json text, with title "
    "and optional links. Long text is cut: continue with offset=next_offset (see hint). Per-URL "
    "failures are in errors."
)


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register ``fetch_content`` on ``mcp``."""
    budget = deps.settings.mcp_max_result_chars

    @mcp.tool(
        description=DESCRIPTION,
        annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=True),
    )
    async def fetch_content(
        urls: Annotated[
            list[str],
            Field(description="Bare domains get https://", json_schema_extra={"maxItems": MAX_URLS}),
        ],
        format: Literal["markdown", "html", "json"] = "markdown",
        links: bool = False,
        image_links: bool = False,
        proxy_country: Literal["US", "GB", "CA", "DE", "FR", "JP", "AU"] | None = None,
        max_chars: Annotated[
            int | None,
            Field(
                description="Per page; default 20000 split across the URLs",
                json_schema_extra={"minimum": MAX_CHARS_RANGE[0], "maximum": MAX_CHARS_RANGE[1]},
            ),
        ] = None,
        offset: Annotated[
            int, Field(description="Text start (a next_offset)", json_schema_extra={"minimum": 0})
        ] = 0,
    ) -> Annotated[CallToolResult, FetchContentResult]:
        """Fetch pages through TinyFish Fetch and bound their text (see DESCRIPTION)."""
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
            request = FetchRequest(
                urls=normalized,
                format=format,
                links=links or None,
                image_links=image_links or None,
                proxy_config=FetchProxyConfig(country_code=proxy_country) if proxy_country else None,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        key = await deps.resolve_key()
        response = await upstream_call("fetching the pages", deps.client.fetch(key, request))
        share = budget // len(normalized)
        want = {"links": links, "image_links": image_links}
        pages: list[FetchedPage] = []
        omitted = 0
        for result in response.results:
            page, dropped = _page(result, share=share, max_chars=max_chars, offset=offset, want=want)
            pages.append(page)
            omitted += dropped
        failures = [FetchFailure(url=e.url, error=_failure_text(e.error)) for e in response.errors]
        return as_tool_result(
            FetchContentResult(
                results=pages,
                errors=failures,
                hint=_hint(pages, omitted, fmt=format, max_chars=max_chars or budget),
            )
        )
