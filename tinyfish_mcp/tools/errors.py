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
from ._wording import describe_errors, join_problems

__all__ = ["invalid_input", "tool_error", "upstream_call"]

T = TypeVar("T")


def tool_error(exc: UpstreamError, *, action: str, run_id: str | None = None) -> ToolError:
    """A ``ToolError`` for ``exc`` raised while doing ``action`` (e.g. "starting the run")."""
    parts = [f"TinyFish failed while {action}: {str(exc).rstrip('.')}."]
    if run_id:
        parts.append(
            f"The run {run_id} was already started and may still be going: "
            f"check it with get_run(run_id='{run_id}') or wait_for_run."
        )
    if isinstance(exc, AuthenticationError):
        parts.append(
            "The API key was not accepted. Ask the user to check TINYFISH_API_KEY "
            "(or to sign in again on a hosted server)."
        )
    elif isinstance(exc, RateLimitError):
        parts.append("Rate limited: wait about 15-60 seconds before calling again; do not loop quickly.")
    elif isinstance(exc, NotFoundError):
        parts.append("Check the id (list_runs shows recent runs).")
    elif isinstance(exc, InvalidInputError):
        parts.append("Correct the named fields and call again.")
    else:
        parts.append(exc.hint)
    return ToolError(" ".join(parts))


def invalid_input(exc: ValidationError, *, what: str = "arguments") -> ToolError:
    """A ``ToolError`` with one line per invalid field of ``what``, in our words, bounded and safe.

    ``what`` is kept for callers' wording; the field paths already say where each problem is.
    """
    del what
    return ToolError(join_problems(describe_errors(exc)))


async def upstream_call(action: str, call: Awaitable[T], *, run_id: str | None = None) -> T:
    """Await ``call``; an upstream failure becomes a tool error saying what we were doing."""
    try:
        return await call
    except UpstreamError as exc:
        raise tool_error(exc, action=action, run_id=run_id) from None
