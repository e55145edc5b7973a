"""What ``fetch_content`` returns: the fetched pages bounded to the result budget, the per-URL
failures with what to try next, and the hint that spells out the follow-up call for cut text.

``search`` reads its top results through the same bounding (``bounded_pages``, ``failures_of``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..runtime.bounds import clip
from ..runtime.schema import OutputModel

if TYPE_CHECKING:
    from ..upstream.models import FetchRequest, FetchResponse, FetchResult

__all__ = [
    "FetchContentResult",
    "FetchFailure",
    "FetchedPage",
    "Snippet",
    "bounded_pages",
    "failures_of",
    "fetch_result",
]

MIN_TEXT_CHARS = 500  # a page always gets at least this much text, however many URLs share the budget
METADATA_VALUE_CHARS = 300  # one page_metadata value (a long description or keyword list is cut)
METADATA_TAGS = 40  # named tags kept per group of page_metadata

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
