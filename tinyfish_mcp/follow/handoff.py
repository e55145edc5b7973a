"""Long-running work handed off as an MCP task instead of followed within the call.

When the Tasks extension makes a call a task (``pipeline/tasks.py``), the tool runs as
usual under :func:`handing_off`: its call window closes as soon as the work has an id
(``window.within_window``), so the tool answers RUNNING with the id at once and the work
goes on upstream. Later, each ``tasks/get`` looks at the work through its
:class:`TaskKind`, the same seams the follower polls with, on any replica.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mcp_types import CallToolResult

__all__ = ["Look", "TaskKind", "handing_off", "is_handing_off"]

_HANDING_OFF: ContextVar[bool] = ContextVar("tinyfish_handing_off", default=False)


@contextmanager
def handing_off() -> Iterator[None]:
    """Within: every call window closes as soon as its work has an id."""
    token = _HANDING_OFF.set(True)
    try:
        yield
    finally:
        _HANDING_OFF.reset(token)


def is_handing_off() -> bool:
    return _HANDING_OFF.get()


@dataclass(frozen=True)
class Look:
    """The work as one look saw it: going on (with its latest news) or ended (with the tool's result)."""

    status: Literal["working", "completed", "cancelled"]
    message: str | None = None
    result: CallToolResult | None = None  # once ended: exactly what the tool would have returned
    error: str | None = None  # once ended, when the tool would have answered with this error instead


class TaskKind(Protocol):
    """One kind of long-running work as a task: found in a tool's answer, looked at, cancelled."""

    name: str  # "run", "batch", "research", "dataset": sealed into the task id

    def ident(self, structured: Mapping[str, Any]) -> str | None:
        """The work's upstream id in the tool's RUNNING answer (None: nothing to hand off)."""

    async def look(self, key: str, ident: str) -> Look:
        """Read the work once upstream (raises ``UpstreamError``)."""

    async def cancel(self, key: str, ident: str) -> None:
        """Cancel the work upstream (raises ``UpstreamError``)."""
