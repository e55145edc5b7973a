"""The live-view app's address, as the tools that show a live browser declare it.

``run_web_automation``, ``wait_for_run``, ``create_browser_session`` and
``start_profile_setup_session`` carry ``_meta.ui.resourceUri`` (MCP Apps,
``io.modelcontextprotocol/ui``): a host that renders apps shows their result in the live
view (``tinyfish_mcp/apps/live_view.py`` serves it). The results themselves are the same
with or without such a host.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LIVE_VIEW_META", "LIVE_VIEW_URI"]

LIVE_VIEW_URI = "ui://tinyfish/live-view.html"
LIVE_VIEW_META: dict[str, Any] = {"ui": {"resourceUri": LIVE_VIEW_URI}}
