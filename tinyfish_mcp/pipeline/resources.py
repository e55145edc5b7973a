"""Resource reads answer an unknown URI with a bounded, escaped quote of it: a ``Server`` middleware.

The SDK answers ``Unknown resource: <uri>`` with the URI whole, however long (a
100,000-character run id came back whole), in the message and in the error's data. The
middleware rewrites that error on its way out of ``resources/read``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError

from .wording import safe_text

__all__ = ["MAX_QUOTED_URI", "ResourceErrors", "quoted_uri"]

MAX_QUOTED_URI = 120
"""Characters of a URI quoted in an error."""


def quoted_uri(uri: str) -> str:
    """``uri`` escaped and cut to :data:`MAX_QUOTED_URI` characters, saying its length when cut."""
    if len(uri) <= MAX_QUOTED_URI:
        return safe_text(uri, MAX_QUOTED_URI)
    return f"{safe_text(uri, MAX_QUOTED_URI)} ({len(uri):,} characters)"


class ResourceErrors(ServerMiddleware[Any]):
    """``resources/read`` errors quote the URI bounded."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "resources/read":
            return await call_next(ctx)
        try:
            return await call_next(ctx)
        except MCPError as exc:
            uri = ctx.params.get("uri") if ctx.params else None
            if not isinstance(uri, str) or uri not in exc.error.message:
                raise
            data = exc.error.data
            if isinstance(data, dict) and data.get("uri") == uri:
                data = {**data, "uri": quoted_uri(uri)}
            message = exc.error.message.replace(uri, quoted_uri(uri))
            raise MCPError(code=exc.error.code, message=message, data=data) from None
