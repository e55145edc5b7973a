"""What only some browser providers offer: saved-login contexts, and a session's artifacts.

``create_browser_context`` is registered when the provider ``supports_contexts``; each of
the provider's ``artifacts`` (Browserbase: logs, recording, downloads) is a resource
``{provider}://sessions/{session_id}/{kind}``, readable by the session's owner only and
bounded like every result (the oldest entries are kept; the rest are counted). The browser
toolset's ``register`` (``browser.py``) registers them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import CallToolResult

from ..runtime.errors import tool_error, upstream_call
from ..runtime.schema import OutputModel, as_tool_result
from ..runtime.sessions import BrowserSessionStore
from ..upstream.errors import NotFoundError, UpstreamError
from ..upstream.providers import BrowserProvider

__all__ = ["CONTEXT_DESCRIPTION", "BrowserExtras", "NewBrowserContext", "bounded"]

CONTEXT_DESCRIPTION = (
    "A new browser context: a saved login that outlives sessions. Pass its context_id with "
    "persist=true to create_browser_session, sign in, close the session; later sessions with the same "
    "context_id are signed in."
)


class NewBrowserContext(OutputModel):
    context_id: str
    note: str


def bounded(data: Any, budget: int) -> dict[str, Any]:
    """``data`` within ``budget`` characters: a list keeps its first items that fit."""
    if not isinstance(data, list):
        text = json.dumps(data, ensure_ascii=False)
        return {"data": data} if len(text) <= budget else {"data": None, "note": "too large to show"}
    kept: list[Any] = []
    used = 0
    for item in data:
        size = len(json.dumps(item, ensure_ascii=False)) + 2
        if used + size > budget:
            break
        kept.append(item)
        used += size
    answer: dict[str, Any] = {"items": kept, "total": len(data)}
    if len(kept) < len(data):
        answer["note"] = f"{len(data) - len(kept)} later entries were left out to bound the answer."
    return answer


class BrowserExtras:
    """The provider-only tool and resources, bound to the browser toolset's provider, store and caller."""

    def __init__(
        self,
        provider: BrowserProvider,
        store: BrowserSessionStore,
        caller: Callable[[], Awaitable[tuple[str, str]]],
        budget: int,
    ) -> None:
        self.provider = provider
        self.store = store
        self.caller = caller
        self.budget = budget

    async def create_browser_context(self) -> Annotated[CallToolResult, NewBrowserContext]:
        """A new saved-login context (see CONTEXT_DESCRIPTION)."""
        key, _ = await self.caller()
        context_id = await upstream_call("creating the browser context", self.provider.create_context(key))
        return as_tool_result(
            NewBrowserContext(
                context_id=context_id,
                note="create_browser_session(context_id=..., persist=true) saves what the session "
                "signs in to when it is closed; without persist the context is only read.",
            )
        )

    def artifact_reader(self, kind: str) -> Callable[[str], Awaitable[str]]:
        """The resource function of the artifact ``kind``: ``read_artifact`` with the kind bound."""

        async def read(session_id: str) -> str:
            return await self.read_artifact(kind, session_id)

        return read

    async def read_artifact(self, kind: str, session_id: str) -> str:
        """A session's ``kind`` artifact as JSON, for its owner only, bounded to the budget."""
        try:
            key, owner = await self.caller()
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        if await self.store.get(owner, session_id) is None:
            raise ResourceError(
                f"No browser session {session_id!r} was created through this server for you "
                "(list_browser_sessions shows yours)."
            )
        try:
            data = await self.provider.artifact(key, session_id, kind)
        except (NotFoundError, UpstreamError) as exc:
            raise ResourceError(str(tool_error(exc, action=f"reading the {kind} of {session_id}"))) from None
        return json.dumps({"session_id": session_id, kind: bounded(data, self.budget)}, ensure_ascii=False)
