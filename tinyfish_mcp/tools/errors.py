"""Turning upstream failures into tool errors that tell the model what to do next.

Upstream errors become ``isError`` tool results (not protocol errors), so the model
reads them and can act: fix the input, wait and retry, or ask the user for a key.
Whenever a run already exists, its id is part of the message, so the run is never lost.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from ..upstream.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    RateLimitError,
    UpstreamError,
)

__all__ = ["invalid_input", "tool_error", "upstream_call"]

T = TypeVar("T")


def tool_error(
    exc: UpstreamError, *, action: str, run_id: str | None = None, rate_limit: str | None = None
) -> ToolError:
    """A ``ToolError`` for ``exc`` raised while doing ``action`` (e.g. "starting the run").

    ``rate_limit`` names the product's own limit; it is said on a 429 only.
    """
    parts = [f"TinyFish failed while {action}: {str(exc).rstrip('.')}."]
    if run_id:
        parts.append(
            f"The run {run_id} was already started and may still be going: "
            f"check it with get_run(id='{run_id}') or wait_for_run."
        )
    if isinstance(exc, AuthenticationError):
        parts.append(
            "The API key was not accepted. Ask the user to check TINYFISH_API_KEY "
            "(or to sign in again on a hosted server)."
        )
    elif isinstance(exc, RateLimitError):
        if rate_limit:
            parts.append(f"{rate_limit.rstrip('.')}.")
        if exc.retry_at:
            parts.append(f"Rate limited: {exc.hint}")
        else:
            parts.append("Rate limited: wait about 15-60 seconds before calling again; do not loop quickly.")
    elif isinstance(exc, NotFoundError):
        parts.append("Check the id (list_runs shows recent runs).")
    elif isinstance(exc, InvalidInputError):
        parts.append("Correct the named fields and call again.")
    else:
        parts.append(exc.hint)
    return ToolError(" ".join(parts))


def invalid_input(exc: ValidationError, *, what: str = "the arguments") -> ToolError:
    """A ``ToolError`` listing each invalid field of ``what`` in plain words."""
    problems = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(input)"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{loc}: {msg}")
    return ToolError(f"Invalid {what}: " + "; ".join(problems) + ". Fix these and call again.")


async def upstream_call(
    action: str, call: Awaitable[T], *, run_id: str | None = None, rate_limit: str | None = None
) -> T:
    """Await ``call``; an upstream failure becomes a tool error saying what we were doing."""
    try:
        return await call
    except UpstreamError as exc:
        raise tool_error(exc, action=action, run_id=run_id, rate_limit=rate_limit) from None
