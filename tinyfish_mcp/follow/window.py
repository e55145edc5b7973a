"""The call window around long-running work: its id instead of a hang, a cancel sent upstream.

Every follower call (a run, a batch, a research run, a dataset population) answers within
its window: when the window closes, the caller returns the work's current state and the
work goes on upstream. Shutdown closes every window early (``drain.py``), once the work
has an id. When the client cancels the call, the work is cancelled upstream too (unless
``mcp_cancel_on_disconnect`` is off), shielded from the cancellation of this task. A
failure on our side after the work exists names it; no id within the window says how to
look for the work before starting it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from ..settings import Settings
from ..upstream.errors import UpstreamError
from .drain import call_window
from .handoff import is_handing_off

__all__ = ["CANCEL_TIMEOUT", "WINDOW_MARGIN", "Job", "cancel_upstream", "within_window"]

log = logging.getLogger(__name__)
R = TypeVar("R")

# How long the shielded upstream cancel may take once the client has gone.
CANCEL_TIMEOUT = 5.0
# Slack given to the shared window guard around work that keeps its own deadline.
WINDOW_MARGIN = 1.0
# How often a call handing its work to a task checks whether the work has an id yet.
HANDOFF_POLL = 0.02


@dataclass
class Job(Generic[R]):
    """What the window knows of one piece of long-running, billed work."""

    noun: str  # "run", "research run"
    ident: Callable[[], str | None]  # its id, once the service has named it
    cancel: Callable[[str], Awaitable[object]] | None  # cancels it upstream; None: it outlives the call
    check: Callable[[str], str]  # how the caller finds it again, e.g. "check it with get_run(...)"
    maybe_started: str  # what to do when it may exist but its id never came


async def cancel_upstream(settings: Settings, job: Job[Any]) -> None:
    """Cancel the work because the client cancelled the call; must survive our own cancellation."""
    ident = job.ident()
    if job.cancel is None:
        return
    if ident is None or not settings.mcp_cancel_on_disconnect:
        if ident is not None:
            log.info(
                "call cancelled; %s %s keeps going upstream (mcp_cancel_on_disconnect off)", job.noun, ident
            )
        return
    with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_TIMEOUT) as scope:
        try:
            await job.cancel(ident)
            log.info("call cancelled by the client; cancelled %s %s upstream", job.noun, ident)
        except UpstreamError as exc:
            log.warning("call cancelled by the client; cancelling %s %s failed: %s", job.noun, ident, exc)
    if scope.cancelled_caught:
        log.warning("call cancelled by the client; cancelling %s %s timed out", job.noun, ident)


async def _until_named(job: Job[R], work: Callable[[], Awaitable[R]], scope: anyio.CancelScope) -> R:
    """``work()``, with the window closed as soon as the work has an id (a task takes it over)."""

    async def watch() -> None:
        # The seams name their work in many places (an event, a lookup); a short poll sees them all.
        while job.ident() is None:  # noqa: ASYNC110
            await anyio.sleep(HANDOFF_POLL)
        scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            done = await work()
        finally:
            group.cancel_scope.cancel()
    return done


async def within_window(
    settings: Settings, job: Job[R], work: Callable[[], Awaitable[R]], window: float
) -> R | None:
    """``work()`` for at most ``window`` seconds; None when the window closed first."""
    try:
        # Shutdown closes the window early too (``drain``), once the work has an id.
        with call_window(window, named=lambda: job.ident() is not None) as scope:
            if is_handing_off():
                return await _until_named(job, work, scope)
            return await work()
    except anyio.get_cancelled_exc_class():
        # Only the client's cancellation gets here: the window's own is absorbed above.
        await cancel_upstream(settings, job)
        raise
    except ToolError:
        raise
    except Exception as exc:
        ident = job.ident()
        if ident is None:
            raise
        # Whatever broke on our side, the caller must still learn which work is going.
        log.exception("following %s %s failed", job.noun, ident)
        raise ToolError(
            f"Following {job.noun} {ident} failed here ({type(exc).__name__}), but it may still "
            f"be going: {job.check(ident)}."
        ) from None
    if job.ident() is None:
        raise ToolError(f"TinyFish did not confirm the {job.noun} within {window:g} s. {job.maybe_started}")
    return None
