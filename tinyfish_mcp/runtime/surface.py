"""Which tools this server serves, so that no answer points the model at a tool it lacks.

``--toolsets hosted`` serves exactly the tools of TinyFish's hosted MCP server
(:data:`HOSTED_TOOLS`, from its own ``tools/list`` as published in
``tinyfish-io/tinyfish-mcp-server`` ``docs/tools.md``) plus ``wait_for_run``, which our
RUNNING answers name. :func:`keep_hosted_tools` removes the rest after the toolsets have
registered theirs.

Results and errors that suggest another tool ask :func:`served` first. The argument
layer (``pipeline/arguments.ArgumentChecks``) sets the served names for the length of each call, so
wording code needs no handle on the server; outside a call everything counts as served.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..pipeline.catalog import Catalog

__all__ = ["HOSTED_SERVED", "HOSTED_TOOLS", "keep_hosted_tools", "served", "serving"]

HOSTED_TOOLS: frozenset[str] = frozenset(
    {
        "search", "fetch_content",
        "run_web_automation", "run_web_automation_async", "get_run", "list_runs", "cancel_run",
        "batch_status", "batch_cancel",
        "create_browser_session", "list_browser_sessions", "close_browser_session",
        "create_profile", "list_profiles", "start_profile_setup_session", "save_profile_setup_session",
        "cancel_profile_setup_session",
        "create_monitor", "get_monitor", "list_monitors", "run_monitor", "pause_monitor",
        "resume_monitor", "cancel_monitor",
        "get_wallet", "get_search_usage", "list_fetch_usage", "guide_next_step",
    }
)  # fmt: skip
"""The 28 tools of the hosted server (tinyfish-io/tinyfish-mcp-server docs/tools.md, commit 2b95ede)."""

HOSTED_SERVED: frozenset[str] = HOSTED_TOOLS | {"wait_for_run"}
"""What ``--toolsets hosted`` serves: the hosted tools, and the tool our RUNNING answers name."""

_SERVED: ContextVar[frozenset[str] | None] = ContextVar("tinyfish_served_tools", default=None)


def served(name: str) -> bool:
    """Whether the server answering the current call serves the tool ``name``."""
    names = _SERVED.get()
    return names is None or name in names


@contextmanager
def serving(names: frozenset[str] | None) -> Iterator[None]:
    """Within the block, :func:`served` answers from ``names`` (None: every tool)."""
    token = _SERVED.set(names)
    try:
        yield
    finally:
        _SERVED.reset(token)


def keep_hosted_tools(catalog: Catalog) -> None:
    """Remove every catalogued tool the hosted surface does not serve (before the server is built)."""
    for tool in catalog.tools:
        if tool.name not in HOSTED_SERVED:
            catalog.remove_tool(tool.name)
