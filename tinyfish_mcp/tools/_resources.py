"""Resource reads answer an unknown URI with a bounded, escaped quote of it.

The SDK's resource manager answers ``Unknown resource: <uri>`` with the URI whole, however
long (a 100,000-character run id came back whole). ``MCPServer`` has no hook for it, so
the manager's ``get_resource`` is wrapped once (the one private access, like
``_arguments.install_argument_checks``).
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ._wording import safe_text

__all__ = ["MAX_QUOTED_URI", "bound_resource_errors", "quoted_uri"]

MAX_QUOTED_URI = 120
"""Characters of a URI quoted in an error."""


def quoted_uri(uri: str) -> str:
    """``uri`` escaped and cut to :data:`MAX_QUOTED_URI` characters, saying its length when cut."""
    if len(uri) <= MAX_QUOTED_URI:
        return safe_text(uri, MAX_QUOTED_URI)
    return f"{safe_text(uri, MAX_QUOTED_URI)} ({len(uri):,} characters)"


def bound_resource_errors(mcp: MCPServer[Any]) -> None:
    """Make ``mcp``'s unknown-resource errors quote the URI bounded."""
    manager = mcp._resource_manager
    original = manager.get_resource

    async def get_resource(uri: Any, context: Any) -> Any:
        try:
            return await original(uri, context)
        except ResourceError as exc:
            text = str(uri)
            if text not in str(exc):
                raise
            bounded = str(exc).replace(text, quoted_uri(text))
            raise type(exc)(bounded) from None

    manager.get_resource = get_resource  # type: ignore[method-assign]
