"""Tools of the 'fetch' toolset (to be written)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from .context import ToolDeps

__all__ = ["register"]


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register this toolset's tools on ``mcp``."""
