"""MCP Apps this server serves (``io.modelcontextprotocol/ui``): today the live view."""

from __future__ import annotations

from .live_view import (
    DOCUMENTED_FRAME_DOMAINS,
    INFERRED_CONNECT_DOMAINS,
    INFERRED_FRAME_DOMAINS,
    live_view_app,
)

__all__ = ["DOCUMENTED_FRAME_DOMAINS", "INFERRED_CONNECT_DOMAINS", "INFERRED_FRAME_DOMAINS", "live_view_app"]
