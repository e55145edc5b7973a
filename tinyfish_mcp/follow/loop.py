"""The one follower loop: event stream, drop, reconnect or resume, poll with backoff.

Each kind of long-running work (an agent run, a batch, a research run, a dataset
population) is a :class:`Work`: a small seam that opens its event stream, reports one
event, says what a failure means and looks at the work once. This module owns the loop
around it, so no kind writes its own:

* :func:`follow_stream` reads the stream to the work's result. A stream that drops is
  reopened (``open`` resumes it: ``Last-Event-ID``, or a new connection) up to
  ``reconnects`` times, then the caller polls; a stream that closes early asks the kind
  (``closed``) whether to reopen, poll or stop with what it knows.
* :func:`poll` looks at the work with capped exponential backoff until it ends,
  tolerating ``MAX_POLL_FAILURES`` consecutive transient failures.

The call window (``window.py``) bounds both; progress goes through ``progress.py``.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol, TypeVar

import anyio

from ..settings import Settings
from ..upstream.errors import UpstreamError
from .progress import Progress

__all__ = ["MAX_POLL_FAILURES", "Closed", "Work", "follow", "follow_stream", "poll"]

log = logging.getLogger(__name__)
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# Consecutive transient poll failures tolerated before giving up (with the work's id).
MAX_POLL_FAILURES = 3
# What a stream that closed without the result means: read it again, or poll the work.
Closed = Literal["reopen", "poll"]


class Work(Protocol[R_co]):
    """One kind of long-running work, as the follower sees it (one instance per followed item)."""

    noun: str
    reconnects: int  # reopenings of a dropped stream before polling (0: poll at once)
    dropped_note: str  # progress message when the stream dropped and is reopened
    polling_note: str  # progress message when the follower turns to polling
    transient: tuple[type[UpstreamError], ...]  # poll failures tolerated (MAX_POLL_FAILURES in a row)

    def ident(self) -> str | None:
        """The work's id, once the service has named it."""

    def open(self) -> AbstractAsyncContextManager[Any]:
        """The event stream: the first call starts or joins the work, a later one resumes it."""

    async def on_event(self, event: Any, progress: Progress) -> R_co | None:
        """Report one event; the result once the work has ended."""

    async def closed(self, progress: Progress) -> R_co | Closed:
        """The stream closed without the result: the result, or whether to reopen or poll."""

    async def failed(self, exc: UpstreamError) -> None:
        """Raise the tool error for ``exc`` unless it is a drop to ride out (return then)."""

    async def look(self, progress: Progress) -> R_co | None:
        """Look at the work once (raising ``UpstreamError``), reporting news; its result once ended."""

    async def poll_error(self, exc: UpstreamError) -> Exception:
        """The error that ends a poll that failed with ``exc``."""


async def follow_stream(work: Work[R], progress: Progress) -> R | None:
    """The work's result from its stream; None when it must be polled now.

    None with ``work.ident()`` unset means the stream never named the work (a kind's
    ``failed`` or ``closed`` recorded how): the caller looks for it, never starts it again.
    """
    drops = 0
    while True:
        try:
            async with work.open() as events:
                async for event in events:
                    done = await work.on_event(event, progress)
                    if done is not None:
                        return done
            after = await work.closed(progress)
            if after == "reopen":
                continue
            if after != "poll":
                return after
            if work.ident() is None:
                return None
            await progress(work.polling_note)
            return None
        except UpstreamError as exc:
            await work.failed(exc)
            ident = work.ident()
            if ident is None:
                return None
            drops += 1
            log.info("event stream of %s %s dropped (%s)", work.noun, ident, exc.code)
            if drops > work.reconnects:
                await progress(work.polling_note)
                return None
            await progress(work.dropped_note)
            await anyio.sleep(min(0.2 * drops, 2.0))


async def poll(settings: Settings, work: Work[R], progress: Progress, *, wait_first: bool = False) -> R:
    """Look at the work with capped exponential backoff until it has ended."""
    delay = settings.mcp_poll_initial
    failures = 0
    if wait_first:
        await anyio.sleep(delay)
    while True:
        try:
            done = await work.look(progress)
        except UpstreamError as exc:
            failures += 1
            if not isinstance(exc, work.transient) or failures >= MAX_POLL_FAILURES:
                raise await work.poll_error(exc) from None
            log.info("look at %s %s failed (%s); retrying", work.noun, work.ident(), exc.code)
        else:
            failures = 0
            if done is not None:
                return done
        await anyio.sleep(delay)
        delay = min(delay * 2, settings.mcp_poll_max)


async def follow(settings: Settings, work: Work[R], progress: Progress) -> R:
    """The work's result: its stream while it serves, then polling (work that has an id)."""
    done = await follow_stream(work, progress)
    return done if done is not None else await poll(settings, work, progress)
