"""Graceful shutdown of a replica: drain, let calls finish within a grace period, name the rest.

On SIGTERM (or SIGINT) uvicorn stops accepting connections and waits for the open ones
up to its ``timeout_graceful_shutdown``. Alongside, :class:`Drain` turns ``/readyz``
unready at once, lets in-flight tool calls go on for ``mcp_shutdown_grace_seconds``,
then closes every live call window (``follow/drain.py``): each follower answers with its
run's id and current status (RUNNING when it goes on), and another replica can follow it
with ``wait_for_run``. A window whose run has no id yet stays open until it has one, so
no id is ever lost. uvicorn's own timeout is the grace plus time for those last answers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType
from typing import Any

from ..follow.drain import close_all_windows, live_windows, reopen

__all__ = ["ANSWER_SECONDS", "Drain", "graceful_timeout"]

logger = logging.getLogger(__name__)

# Time given after the grace for the last look at each run and the answers to go out.
ANSWER_SECONDS = 10.0
_POLL = 0.2
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def graceful_timeout(grace: float) -> int:
    """uvicorn's ``timeout_graceful_shutdown`` for a grace period of ``grace`` seconds."""
    return int(grace + ANSWER_SECONDS + 0.999)


class Drain:
    """A replica's shutdown state: whether it is draining, and the closing of call windows."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.draining = False
        self._task: asyncio.Task[None] | None = None
        self._previous: dict[int, Any] = {}

    def begin(self) -> None:
        """Start draining (idempotent): unready now, call windows closed after the grace."""
        if self.draining:
            return
        self.draining = True
        logger.info(
            "shutting down: not ready; %d call(s) following runs get %g s, then answer with their run ids",
            live_windows(),
            self.grace,
        )
        self._task = asyncio.get_running_loop().create_task(self._close_after_grace())

    async def _close_after_grace(self) -> None:
        await asyncio.sleep(self.grace)
        open_windows = live_windows()
        if open_windows:
            logger.info("grace period over: %d call(s) answer now with their run ids", open_windows)
        await close_all_windows(_POLL)

    def watch_signals(self) -> None:
        """Begin draining on SIGTERM/SIGINT, after the handler already installed (uvicorn's) ran.

        Only in the main thread, where signal handlers live; uvicorn restores its own
        handlers when it stops, which drops these.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        reopen()
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            previous = self._previous.get(signum)
            if callable(previous):
                previous(signum, frame)
            loop.call_soon_threadsafe(self.begin)

        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, on_signal)

    def unwatch_signals(self) -> None:
        """Put back the handlers :meth:`watch_signals` replaced (when still ours)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def finish(self) -> None:
        """At lifespan shutdown (every connection has ended): stop the closing loop."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
