"""The 'vault' toolset, i.e. the account tools: ``list_vault_items`` and ``get_usage``.

``list_vault_items`` is read only and returns what a run needs to log in with a
stored credential (the item ids for ``credential_item_ids``), never a secret value:
only the named, non-secret fields are copied out of the upstream items.

``get_usage`` reports browser-session or search usage. It lives here rather than in
the browser or search toolsets because it is an account question, like the vault, and
one tool with a ``kind`` argument is cheaper in the tools/list budget than two.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field

from ..pipeline.catalog import Catalog
from ..runtime.annotations import READ_ONLY
from ..runtime.bounds import records_within
from ..runtime.context import ToolDeps
from ..runtime.errors import upstream_call
from ..runtime.schema import OutputModel, as_tool_result, schema_bounds

__all__ = ["UsageResult", "VaultConnectionInfo", "VaultItemInfo", "VaultItems", "VaultTools", "register"]

MAX_ITEMS = 100
USAGE_LIMIT_RANGE = (1, 100)

ITEMS_DESCRIPTION = (
    "Credentials in the user's password managers (no secrets). To log in during a run, pass "
    "item_ids as credential_item_ids with use_vault=true."
)
USAGE_DESCRIPTION = (
    "Account usage records, newest first: browser sessions or searches. Page with next_cursor."
)


class VaultItemInfo(OutputModel):
    item_id: str
    label: str
    vault_name: str | None = None
    domains: list[str]
    has_totp: bool


class VaultConnectionInfo(OutputModel):
    provider: str
    status: str | None = None


class VaultItems(OutputModel):
    items: list[VaultItemInfo]
    connections: list[VaultConnectionInfo]
    note: str | None = None


class UsageResult(OutputModel):
    kind: str
    records: list[dict[str, Any]]
    total: int | None = None
    next_cursor: str | None = None
    note: str | None = None


class VaultTools:
    """The vault toolset's tools, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.budget = deps.settings.mcp_max_result_chars

    async def list_vault_items(self) -> Annotated[CallToolResult, VaultItems]:
        """List vault items and connections (see ITEMS_DESCRIPTION)."""
        key = await self.deps.resolve_key()
        connections = await upstream_call("listing the vault", self.deps.client.list_vault_connections(key))
        items = await upstream_call("listing the vault", self.deps.client.list_vault_items(key))
        shown = [
            VaultItemInfo(
                item_id=item.item_id,
                label=item.label,
                vault_name=item.vault_name,
                domains=item.domains,
                has_totp=item.has_totp,
            )
            for item in items.items[:MAX_ITEMS]
        ]
        note = None
        if not connections.connections:
            note = (
                "No password manager is connected. The user can connect 1Password or Bitwarden at "
                "https://agent.tinyfish.ai (Settings > Vault)."
            )
        elif len(items.items) > MAX_ITEMS:
            note = f"Showing {MAX_ITEMS} of {len(items.items)} items."
        elif not items.items:
            note = "The connected vaults have no items with website URLs (items need a URL to sync)."
        return as_tool_result(
            VaultItems(
                items=shown,
                connections=[
                    VaultConnectionInfo(provider=c.provider, status=c.connection_status)
                    for c in connections.connections
                ],
                note=note,
            )
        )

    async def get_usage(
        self,
        kind: Literal["browser", "search"],
        limit: Annotated[
            int,
            schema_bounds(*USAGE_LIMIT_RANGE),
        ] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> Annotated[CallToolResult, UsageResult]:
        """Usage records (see USAGE_DESCRIPTION)."""
        low, high = USAGE_LIMIT_RANGE
        if not low <= limit <= high:
            raise ToolError(f"limit must be between {low} and {high} (got {limit}).")
        key = await self.deps.resolve_key()
        read = self.deps.client.browser_usage if kind == "browser" else self.deps.client.search_usage
        response = await upstream_call(f"reading {kind} usage", read(key, limit=limit, cursor=cursor))
        # The service pages by limit already; the slice and the character budget bound the
        # result even when a page is larger than asked for or its records are large.
        records = records_within(response.data, limit=limit, budget=self.budget)
        note = None
        if len(records) < min(limit, len(response.data)):
            note = (
                f"Only {len(records)} records fit in one result: call again with limit={len(records)} "
                "and page with next_cursor."
            )
        page = response.pagination
        return as_tool_result(
            UsageResult(
                kind=kind,
                records=records,
                total=page.total if page else None,
                next_cursor=page.next_cursor if page and note is None else None,
                note=note,
            )
        )


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``list_vault_items`` and ``get_usage`` on ``mcp``."""
    tools = VaultTools(deps)
    mcp.tool(description=ITEMS_DESCRIPTION, annotations=READ_ONLY)(tools.list_vault_items)
    mcp.tool(description=USAGE_DESCRIPTION, annotations=READ_ONLY)(tools.get_usage)
