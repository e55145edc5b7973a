"""Every tool call runs under a request id (``tracing.py``): a ``Server`` middleware.

Over HTTP the access log has opened a trace for the request and put its id in the
request's ``X-Request-Id`` header (the client's, or one it made): the call keeps that
trace, or opens one of that id when it runs in another task (stateful sessions run
their calls in the session's task). Over stdio each call gets a new id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

from ..tracing import REQUEST_ID_HEADER, Trace, current_trace, sane_request_id, traced

__all__ = ["RequestIds", "trace_for"]


def trace_for(headers: Mapping[str, str] | None) -> Trace | str | None:
    """The trace a call with these request headers runs under: the open one, its id, or None (new)."""
    given = sane_request_id(headers.get(REQUEST_ID_HEADER.lower())) if headers is not None else None
    trace = current_trace()
    if trace is not None and (given is None or given == trace.request_id):
        return trace
    return given


class RequestIds(ServerMiddleware[Any]):
    """Runs each ``tools/call`` under :func:`trace_for`'s trace."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        headers: Mapping[str, str] | None = getattr(ctx.request, "headers", None)
        with traced(trace_for(headers)):
            return await call_next(ctx)
