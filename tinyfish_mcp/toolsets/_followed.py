"""What the product toolsets that follow work of their own share (datasets, research).

Both read a product's event stream through the one follower (``tinyfish_mcp.follow``):
the same failures mean the stream dropped and is reopened, as many times; their tools
wait for the same bounded time; their task kinds find the work's id in one field of the
tool's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from ..upstream.errors import (
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)

__all__ = ["DROPPED", "MAX_RECONNECTS", "MaxWait", "answer_id"]

MAX_RECONNECTS = 3
"""Reopenings of a dropped event stream before the follower polls instead."""

DROPPED: tuple[type[UpstreamError], ...] = (
    UpstreamConnectionError,
    UpstreamTimeoutError,
    UpstreamProtocolError,
    ServerError,
    RateLimitError,
)
"""Failures that mean the stream dropped (the work goes on upstream), not that the work failed."""

MaxWait = Annotated[float | None, Field(ge=1, le=600)]


def answer_id(structured: Mapping[str, Any], name: str) -> str | None:
    """The work's id in field ``name`` of a tool's answer (None: the answer names no work)."""
    value = structured.get(name)
    return str(value) if value else None
