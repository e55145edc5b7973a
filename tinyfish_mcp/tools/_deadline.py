"""Every tool call runs under one deadline (see ``upstream/deadline.py``).

``apply_deadlines`` wraps each registered tool once, after registration, so no tool
module has to remember it: the wrapper opens the call's :class:`Deadline` and every
upstream request, retry and wait made by the tool draws from it. The figure depends
on what the tool does:

* a tool with ``max_wait_seconds`` gets its call window (the argument, or
  ``mcp_call_window``) plus ``WINDOW_TAIL`` for the last look taken when the window closes;
  the agent run tools then hold themselves to the window itself (``_watch.py``);
* a tool that creates runs or sessions gets ``mcp_create_deadline``;
* search and fetch get ``mcp_search_deadline`` and ``mcp_fetch_deadline``;
* every other tool (the reads) gets ``mcp_read_deadline``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer

from ..settings import Settings
from ..upstream.deadline import Deadline

__all__ = ["CREATING_TOOLS", "apply_deadlines", "deadline_for"]

# Tools that may create something billable.
CREATING_TOOLS = frozenset({"run_web_automation_async", "batch_create", "create_browser_session"})
_SEARCH_TOOLS = frozenset({"search"})
_FETCH_TOOLS = frozenset({"fetch_content"})
WINDOW_ARGUMENT = "max_wait_seconds"
WINDOW_TAIL = 5.0


def deadline_for(settings: Settings, tool: str, arguments: dict[str, Any]) -> float:
    """Seconds one call of ``tool`` with ``arguments`` may take, attempts and waits included."""
    if WINDOW_ARGUMENT in arguments:
        window = arguments[WINDOW_ARGUMENT]
        given = isinstance(window, int | float) and window > 0
        return (float(window) if given else settings.mcp_call_window) + WINDOW_TAIL
    if tool in CREATING_TOOLS:
        return settings.mcp_create_deadline
    if tool in _SEARCH_TOOLS:
        return settings.mcp_search_deadline
    if tool in _FETCH_TOOLS:
        return settings.mcp_fetch_deadline
    return settings.mcp_read_deadline


def _with_deadline(
    fn: Callable[..., Awaitable[Any]], settings: Settings, tool: str
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def call(**kwargs: Any) -> Any:
        with Deadline(deadline_for(settings, tool, kwargs)).applied():
            return await fn(**kwargs)

    return call


def apply_deadlines(mcp: MCPServer[Any], settings: Settings) -> None:
    """Run every registered (async) tool of ``mcp`` under its deadline."""
    for tool in mcp._tool_manager.list_tools():
        if tool.is_async and not getattr(tool.fn, "_tinyfish_deadline", False):
            wrapped = _with_deadline(tool.fn, settings, tool.name)
            wrapped._tinyfish_deadline = True  # type: ignore[attr-defined]
            tool.fn = wrapped
