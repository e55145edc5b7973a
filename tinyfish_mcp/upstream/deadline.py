"""One time budget per tool call, shared by every request, retry and wait inside it.

A client gives up on a tool call after about 60 s whatever happens underneath, so each
call gets one :class:`Deadline` and everything it does draws from it: request timeouts
shrink to what is left, a retry whose wait would cross it is not made, and a call that
runs out says so with the figure (``within the 20 s deadline of this call``).

The deadline travels in a context variable: the tool layer opens it
(``with Deadline(20).applied():``) and ``HttpCore`` reads it for every request, so no
client method needs a parameter for it. Without an active deadline the client behaves
as before (per-request timeouts only), which is what scripts using it directly get.

``reserve(seconds)`` hands out a shorter deadline for one step that must leave time
for a following one: a run creation keeps a few seconds back to look for the run it may
have created when its answer is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

import anyio

__all__ = ["Deadline", "current_deadline"]

_CURRENT: ContextVar[Deadline | None] = ContextVar("tinyfish_deadline", default=None)


class Deadline:
    """``seconds`` from now (anyio's clock), with the original figure kept for messages."""

    def __init__(self, seconds: float, *, _end: float | None = None, _budget: float | None = None) -> None:
        self.seconds = float(seconds)
        self.budget = float(_budget if _budget is not None else seconds)  # the figure a user was told
        self.end = _end if _end is not None else anyio.current_time() + self.seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.end - anyio.current_time())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def at(self, offset: float = 0.0) -> datetime:
        """Wall-clock time (UTC) ``offset`` seconds after now: for "try again after ..." text."""
        return datetime.now(UTC) + timedelta(seconds=offset)

    def reserve(self, seconds: float) -> Deadline:
        """A deadline ending ``seconds`` before this one (the same budget figure in messages)."""
        return Deadline(self.seconds, _end=self.end - max(0.0, seconds), _budget=self.budget)

    def describe(self) -> str:
        """``the 20 s deadline of this call``: what an error message quotes."""
        return f"the {self.budget:g} s deadline of this call"

    @contextmanager
    def applied(self) -> Iterator[Deadline]:
        """Make this the deadline of every upstream request made inside the block."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


def current_deadline() -> Deadline | None:
    """The deadline of the tool call being served, if one was applied."""
    return _CURRENT.get()
