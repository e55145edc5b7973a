"""One process-wide signal that closes every live call window early, for shutdown.

Each follower of long-running work (``follow.window``) opens its call window through
:func:`call_window`. When the process shuts down, :func:`close_windows` cancels every
window whose work already has an id: the follower then answers as it does when its
window closes by itself (the run's id and its current status, RUNNING when it goes on),
and the work carries on upstream for another replica to follow. A window whose work has
no id yet is left open, because closing it would lose the id: the caller closes windows
again until none is left (each call closes the ones named since).

A process has one event loop, so module state is the signal; nothing here is thread-safe
and nothing needs to be.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio

__all__ = ["call_window", "close_all_windows", "close_windows", "closing", "live_windows", "reopen"]

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Window:
    scope: anyio.CancelScope
    named: Callable[[], bool]  # whether the work has an id yet (closing before would lose it)


_windows: set[_Window] = set()
_closing = False


def _always() -> bool:
    return True


@contextmanager
def call_window(seconds: float, named: Callable[[], bool] = _always) -> Iterator[anyio.CancelScope]:
    """``anyio.move_on_after(seconds)`` that shutdown may also close (once ``named()`` is true)."""
    with anyio.move_on_after(seconds) as scope:
        window = _Window(scope, named)
        _windows.add(window)
        try:
            if _closing and named():
                scope.cancel()
            yield scope
        finally:
            _windows.discard(window)


def close_windows() -> int:
    """Close every live window whose work has an id; how many windows are still open after."""
    global _closing
    _closing = True
    left = 0
    for window in list(_windows):
        if window.named():
            if not window.scope.cancel_called:
                window.scope.cancel()
        else:
            left += 1
    return left


async def close_all_windows(poll: float = 0.2) -> None:
    """Close windows until none is left (a window without an id closes once it has one).

    Each follower answers as its window closes; the caller bounds the wait.
    """
    while True:
        close_windows()
        if not live_windows():
            return
        await anyio.sleep(poll)


def live_windows() -> int:
    """How many call windows are open in this process."""
    return len(_windows)


def closing() -> bool:
    """Whether shutdown has started closing windows."""
    return _closing


def reopen() -> None:
    """Forget an earlier shutdown (for a process that serves again, such as a test run)."""
    global _closing
    _closing = False
