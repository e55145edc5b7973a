"""Every tool call runs under one deadline (see ``upstream/deadline.py``): a ``Server`` middleware.

The middleware opens the call's :class:`Deadline` around the ``tools/call`` handler, so
no tool module has to remember it: every upstream request, retry and wait made by the
tool draws from it. The figure comes from the tool's :class:`~.catalog.Nature` and schema:

* a tool that takes ``max_wait_seconds`` gets its call window (the argument, or
  ``mcp_call_window``) plus ``WINDOW_TAIL`` for the last look taken when the window closes;
  the run tools then hold themselves to the window itself (``toolsets/_run_work.py``);
* a tool that creates something billed gets ``mcp_create_deadline``;
* every other tool gets the deadline of its budget: ``mcp_search_deadline``,
  ``mcp_fetch_deadline`` or ``mcp_read_deadline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

from ..settings import Settings
from ..upstream.deadline import Deadline
from .catalog import Catalog, Nature

__all__ = ["Deadlines", "deadline_for"]

WINDOW_ARGUMENT = "max_wait_seconds"
WINDOW_TAIL = 5.0


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if isinstance(value, str):  # the SDK's validation accepts a number written as a string
        try:
            return _seconds(float(value))
        except ValueError:
            return None
    return None


def deadline_for(settings: Settings, nature: Nature, windowed: bool, arguments: Mapping[str, Any]) -> float:
    """Seconds one call may take, attempts and waits included."""
    if windowed:
        return (_seconds(arguments.get(WINDOW_ARGUMENT)) or settings.mcp_call_window) + WINDOW_TAIL
    if nature.billed:
        return settings.mcp_create_deadline
    if nature.budget == "search":
        return settings.mcp_search_deadline
    if nature.budget == "fetch":
        return settings.mcp_fetch_deadline
    return settings.mcp_read_deadline


class Deadlines(ServerMiddleware[Any]):
    """Opens each ``tools/call``'s deadline from the tool's nature."""

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self._settings = settings
        self._windowed = frozenset(
            tool.name for tool in catalog.tools if WINDOW_ARGUMENT in tool.parameters.get("properties", {})
        )
        self._catalog = catalog

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        name = params.get("name") if ctx.method == "tools/call" and params else None
        if not isinstance(name, str) or self._catalog.get_tool(name) is None:
            return await call_next(ctx)
        arguments = params.get("arguments") if params else None
        given = arguments if isinstance(arguments, Mapping) else {}
        seconds = deadline_for(self._settings, self._catalog.nature(name), name in self._windowed, given)
        with Deadline(seconds).applied():
            return await call_next(ctx)
