"""Every tool call runs under a request id (``tracing.py``).

Over HTTP the access log has opened a trace for the request and put its id in the
request's ``X-Request-Id`` header (the client's, or one it made): the call keeps that
trace, or opens one of that id when it runs in another task (stateful sessions run
their calls in the session's task). Over stdio each call gets a new id.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from ..tracing import REQUEST_ID_HEADER, Trace, current_trace, sane_request_id, traced

__all__ = ["apply_request_ids", "trace_for"]


def trace_for(context: Context[Any, Any] | None) -> Trace | str | None:
    """The trace a call of ``context`` runs under: the open one of its request, its id, or None (new)."""
    headers = None
    if context is not None:
        try:
            headers = context.headers
        except (AttributeError, LookupError, ValueError):  # no request context (a direct call)
            headers = None
    given = sane_request_id(headers.get(REQUEST_ID_HEADER.lower())) if headers is not None else None
    trace = current_trace()
    if trace is not None and (given is None or given == trace.request_id):
        return trace
    return given


class _TracedCalls:
    """Mixed into the server's tool manager: each call under :func:`trace_for`'s trace."""

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        context: Context[Any, Any],
        convert_result: bool = False,
    ) -> Any:
        with traced(trace_for(context)):
            return await super().call_tool(name, arguments, context, convert_result)  # type: ignore[misc]


def apply_request_ids(mcp: MCPServer[Any]) -> None:
    """Run every tool call of ``mcp`` under a request id (after the other manager layers)."""
    manager = mcp._tool_manager
    if isinstance(manager, _TracedCalls):
        return
    # The manager gains behaviour, not state: swapping its class keeps everything registered.
    manager.__class__ = type("TracedToolManager", (_TracedCalls, type(manager)), {})
