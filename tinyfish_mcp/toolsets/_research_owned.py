"""list_research where users share one key (jwt mode): the caller's research runs only."""

from __future__ import annotations

from ..runtime.context import ToolDeps
from ..runtime.errors import upstream_call
from ..upstream.research import ResearchRunDetail
from ._owned_lists import fetch_each, owned_page
from ._research_out import ResearchPage, research_row

__all__ = ["own_research"]


async def own_research(
    deps: ToolDeps, key: str, *, status: str | None, query: str | None, cursor: str | None, limit: int
) -> ResearchPage:
    """list_research where users share a key: the caller's research runs, paged by our cursor."""
    words = (query or "").casefold()

    def keep(run: ResearchRunDetail) -> bool:
        return (status is None or run.status == status) and (
            not words or words in (run.query or "").casefold()
        )

    async def fetch(ids: list[str]) -> dict[str, ResearchRunDetail]:
        return await fetch_each(ids, lambda ident: deps.client.research.get(key, ident))

    page = await upstream_call(
        "listing research runs",
        owned_page(
            deps,
            key,
            "research",
            cursor=cursor,
            limit=limit,
            fetch=fetch,
            keep=keep,
            chunk=20,
            filtered=status is not None or bool(words),
        ),
    )
    return ResearchPage(
        runs=[research_row(run) for run in page.items], total=page.total, next_cursor=page.next_cursor
    )
