"""Progress notifications of one call, with a strictly increasing counter."""

from __future__ import annotations

import logging
from typing import Protocol

__all__ = ["Progress", "Reporter", "silent"]

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """What sends one call's progress: ``ctx.report_progress`` of the SDK's ``Context``."""

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None: ...


class Progress:
    """Progress notifications of one call, with a strictly increasing counter.

    ``ctx.report_progress`` is a no-op unless the request carried a progress token. A
    failure to deliver one (the client went away) must never fail the work. ``latest``
    keeps the last message said, for whoever asks later (a task's status message).
    """

    def __init__(self, ctx: Reporter | None) -> None:
        self._ctx = ctx
        self.count = 0
        self.latest: str | None = None

    async def __call__(self, message: str | None = None) -> None:
        self.count += 1
        if message is not None:
            self.latest = message
        if self._ctx is None:
            return
        try:
            await self._ctx.report_progress(self.count, None, message)
        except Exception as exc:  # delivery is best effort; the work matters more
            log.debug("progress notification not delivered: %r", exc)


def silent() -> Progress:
    """Progress that goes nowhere (a task polled later has no request to report on)."""
    return Progress(None)
