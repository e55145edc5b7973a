"""The 'usage' toolset: ``get_search_usage`` and ``list_fetch_usage``, the hosted server's audits.

Both page through the account's records (1-based ``page``, ``limit``) with the hosted
tools' filters: ``status`` (completed or failed) and a ``start_after`` / ``end_before``
window. Records come as TinyFish sends them, each bounded, and the page within the
result budget. For checking that TinyFish works, search and fetch_content are the test,
not these.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from ..pipeline.catalog import Catalog
from ..runtime.annotations import READ_ONLY
from ..runtime.bounds import records_within
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, upstream_call
from ..runtime.schema import OutputModel, as_tool_result
from ..upstream.usage import UsagePage, UsageQuery
from ._inputs import iso_filter

__all__ = ["UsageRecords", "UsageTools", "register", "usage_page"]

SEARCH = (
    "Past searches (query, status, result count), newest first, to audit usage: never to check that "
    "TinyFish works (call search for that). Filter by status and a start_after/end_before window."
)
FETCH = (
    "Past fetch_content requests, metadata only (URL, status, size), newest first, to audit usage: "
    "never to check that TinyFish works. Filter by status and a start_after/end_before window."
)

Page = Annotated[int, Field(ge=1, description="1-based")]
When = Annotated[str | None, Field(description="ISO datetime")]


class UsageRecords(OutputModel):
    records: list[dict[str, Any]]
    page: int
    total: int | None = None
    total_pages: int | None = None
    has_more: bool = False
    note: str | None = None


def usage_page(response: UsagePage, *, page: int, limit: int, budget: int) -> UsageRecords:
    """One page of records within ``budget`` characters; a shortened page says how to read on."""
    records = records_within(response.records, limit=limit, budget=budget)
    note = None
    if len(records) < min(limit, len(response.records)):
        note = f"Only {len(records)} records fit in one result: call again with limit={len(records)}."
    elif response.has_more:
        note = f"More records: page={page + 1}."
    return UsageRecords(
        records=records,
        page=response.page or page,
        total=response.total,
        total_pages=response.total_pages,
        has_more=response.has_more,
        note=note,
    )


class UsageTools:
    """The usage toolset's tools, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.budget = deps.settings.mcp_max_result_chars

    async def get_search_usage(
        self,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
        page: Page = 1,
        status: Literal["completed", "failed"] | None = None,
        start_after: When = None,
        end_before: When = None,
    ) -> Annotated[CallToolResult, UsageRecords]:
        return await self._listing("search", limit, page, status, start_after, end_before)

    async def list_fetch_usage(
        self,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        page: Page = 1,
        status: Literal["completed", "failed"] | None = None,
        start_after: When = None,
        end_before: When = None,
    ) -> Annotated[CallToolResult, UsageRecords]:
        return await self._listing("fetch", limit, page, status, start_after, end_before)

    async def _listing(
        self,
        kind: Literal["search", "fetch"],
        limit: int,
        page: int,
        status: str | None,
        after: str | None,
        before: str | None,
    ) -> CallToolResult:
        try:
            query = UsageQuery(
                limit=limit,
                page=page,
                status=status,
                start_after=iso_filter(after, "start_after"),
                end_before=iso_filter(before, "end_before"),
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        key = await self.deps.resolve_key()
        response = await upstream_call(f"reading {kind} usage", self.deps.client.usage.list(key, kind, query))
        return as_tool_result(usage_page(response, page=page, limit=limit, budget=self.budget))


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``get_search_usage`` and ``list_fetch_usage`` on ``mcp``."""
    tools = UsageTools(deps)
    mcp.tool(description=SEARCH, annotations=READ_ONLY)(tools.get_search_usage)
    mcp.tool(description=FETCH, annotations=READ_ONLY)(tools.list_fetch_usage)
