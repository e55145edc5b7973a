"""Following long-running work within a call window, with progress and cancellation.

The shared part (:class:`Job`, :func:`within_window`) serves every product with
long-running work (agent runs here, research runs in ``research.py``): the call window
returns the work's id instead of hanging, a client cancel cancels it upstream, and a
failure on our side still names it. For agent runs, three situations share the loop:

* a new run through ``/run-sse``: every event becomes a progress notification;
* the SSE stream breaks after STARTED: the run goes on upstream (SSE has no resume),
  so we poll ``GET /v1/runs/{id}`` with backoff and report newly recorded steps;
* ``wait_for_run``: polling an existing run from the start.

The call never outlives its window (many clients give up after about 60 s whatever
progress they see): when it closes, the run's current state is returned and the run
goes on. Shutdown closes every window early (``_drain.py``), so a replica that stops
answers each follower with its run's id. When the client cancels the call, the upstream
run is cancelled too (unless ``mcp_cancel_on_disconnect`` is off), shielded from the
cancellation of this task.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..upstream.deadline import Deadline
from ..upstream.errors import (
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from ..upstream.models import (
    CompleteEvent,
    HeartbeatEvent,
    ProgressEvent,
    Run,
    RunEvent,
    RunRequest,
    StartedEvent,
    StreamingUrlEvent,
)
from ._drain import call_window
from ._recover import find_runs, lost_runs_error, not_started_error, utcnow
from .context import ToolDeps
from .errors import explain, tool_error
from .results import RunResult, error_info, finish, run_result

__all__ = ["CANCEL_TIMEOUT", "Job", "Progress", "follow_existing_run", "follow_new_run", "within_window"]

log = logging.getLogger(__name__)
R = TypeVar("R")

# How long the shielded upstream cancel may take once the client has gone.
CANCEL_TIMEOUT = 5.0
# How long the last look at a run may take when the window has closed.
SNAPSHOT_TIMEOUT = 5.0
# Slack given to the shared window guard around work that keeps its own deadline.
WINDOW_MARGIN = 1.0
# Consecutive transient poll failures tolerated before giving up (with the run_id).
MAX_POLL_FAILURES = 3
_TRANSIENT = (UpstreamConnectionError, UpstreamTimeoutError, ServerError, RateLimitError)
_MAYBE_STARTED = (
    "The run may have started anyway (runs are billed): do NOT start it again; look for it with "
    "list_runs(status='RUNNING') first."
)
# A stream that breaks after STARTED is followed by polling; other errors end the call.
_BROKEN_STREAM = (UpstreamConnectionError, UpstreamTimeoutError, UpstreamProtocolError, ServerError)


class Progress:
    """Progress notifications of one call, with a strictly increasing counter.

    ``ctx.report_progress`` is a no-op unless the request carried a progress token. A
    failure to deliver one (the client went away) must never fail the run.
    """

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self._ctx = ctx
        self.count = 0

    async def __call__(self, message: str | None = None) -> None:
        self.count += 1
        try:
            await self._ctx.report_progress(self.count, None, message)
        except Exception as exc:  # delivery is best effort; the run matters more
            log.debug("progress notification not delivered: %r", exc)


@dataclass
class Job(Generic[R]):
    """What the shared follower knows of one piece of long-running, billed work."""

    noun: str  # "run", "research run"
    ident: Callable[[], str | None]  # its id, once the service has named it
    cancel: Callable[[str], Awaitable[object]] | None  # cancels it upstream; None: it outlives the call
    check: Callable[[str], str]  # how the caller finds it again, e.g. "check it with get_run(...)"
    maybe_started: str  # what to do when it may exist but its id never came


async def cancel_upstream(deps: ToolDeps, job: Job[Any]) -> None:
    """Cancel the work because the client cancelled the call; must survive our own cancellation."""
    ident = job.ident()
    if job.cancel is None:
        return
    if ident is None or not deps.settings.mcp_cancel_on_disconnect:
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


async def within_window(
    deps: ToolDeps, job: Job[R], work: Callable[[], Awaitable[R]], window: float
) -> R | None:
    """``work()`` for at most ``window`` seconds; None when the window closed first.

    The client's cancellation cancels the work upstream; a failure on our side after the
    work exists is a tool error that names it; no id within the window is a tool error
    that says how to look for the work before starting it again.
    """
    try:
        # Shutdown closes the window early too (``_drain``), once the work has an id.
        with call_window(window, named=lambda: job.ident() is not None):
            return await work()
    except anyio.get_cancelled_exc_class():
        # Only the client's cancellation gets here: the window's own is absorbed above.
        await cancel_upstream(deps, job)
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


@dataclass
class Tracker:
    """What we know of the run being followed."""

    run_id: str | None = None
    streaming_url: str | None = None
    started_at: str | None = None
    steps_seen: int = 0
    last: Run | None = None
    # Told the run id as soon as STARTED names it (a session_id claim records it).
    on_started: Callable[[str], Awaitable[None]] | None = None
    lost: UpstreamError | str | None = None  # why the run's confirmation never arrived

    async def absorb(self, run: Run, progress: Progress, *, keepalive: bool = True) -> None:
        """Report what a poll shows that we have not reported yet."""
        self.last = run
        if run.streaming_url and run.streaming_url != self.streaming_url:
            self.streaming_url = run.streaming_url
            await progress(f"Watch the browser live: {run.streaming_url}")
        new_steps = run.steps[self.steps_seen :]
        for step in new_steps:
            self.steps_seen += 1
            await progress(step.action or f"step {self.steps_seen}")
        if not new_steps and keepalive:
            # Still a notification: clients reset their request timeout on progress.
            await progress(None)


async def _on_event(event: RunEvent, tracker: Tracker, progress: Progress) -> RunResult | None:
    if isinstance(event, StartedEvent):
        tracker.run_id = event.run_id
        tracker.started_at = event.timestamp
        if tracker.on_started is not None:
            await tracker.on_started(event.run_id)
        await progress(f"Run {event.run_id} started")
    elif isinstance(event, StreamingUrlEvent):
        tracker.streaming_url = event.streaming_url
        await progress(f"Watch the browser live: {event.streaming_url}")
    elif isinstance(event, ProgressEvent):
        tracker.steps_seen += 1
        await progress(event.purpose or f"step {tracker.steps_seen}")
    elif isinstance(event, HeartbeatEvent):
        await progress(None)
    elif isinstance(event, CompleteEvent):
        error = error_info(event.error)
        if error is not None:
            error.help_url = error.help_url or event.help_url
            error.help_message = error.help_message or event.help_message
        return finish(
            RunResult(
                run_id=tracker.run_id or event.run_id or "",
                status=event.status,
                result=event.result,
                error=error,
                num_of_steps=tracker.steps_seen,
                streaming_url=tracker.streaming_url,
                started_at=tracker.started_at,
                finished_at=event.timestamp,
            )
        )
    else:
        log.debug("ignoring run event of type %s", event.type)
    return None


async def _poll(
    deps: ToolDeps, key: str, tracker: Tracker, progress: Progress, *, wait_first: bool = False
) -> Run:
    """Poll the run with backoff until it reaches a terminal status."""
    assert tracker.run_id is not None
    delay = deps.settings.mcp_poll_initial
    failures = 0
    if wait_first:
        await anyio.sleep(delay)
    while True:
        try:
            run = await deps.client.get_run(key, tracker.run_id)
        except _TRANSIENT as exc:
            failures += 1
            if failures >= MAX_POLL_FAILURES:
                raise tool_error(exc, action="checking on the run", run_id=tracker.run_id) from None
            log.info("poll of run %s failed (%s); retrying", tracker.run_id, exc.code)
        except UpstreamError as exc:
            raise tool_error(exc, action="checking on the run", run_id=tracker.run_id) from None
        else:
            failures = 0
            await tracker.absorb(run, progress, keepalive=not run.is_terminal)
            if run.is_terminal:
                return run
        await anyio.sleep(delay)
        delay = min(delay * 2, deps.settings.mcp_poll_max)


async def _stream(
    deps: ToolDeps, key: str, request: RunRequest, tracker: Tracker, progress: Progress
) -> RunResult | None:
    """Follow the run's event stream: its result, or None when the stream ended early.

    None with ``tracker.run_id`` set means "poll the run"; with it unset, the answer that
    would have named the run was lost (``tracker.lost`` says how) and the caller looks for it.
    """
    try:
        async with deps.client.stream_run(key, request) as events:
            async for event in events:
                done = await _on_event(event, tracker, progress)
                if done is not None:
                    return done
    except UpstreamError as exc:
        if tracker.run_id is None:
            if not exc.may_have_been_processed:
                raise await not_started_error(exc, action="starting the run") from None
            tracker.lost = exc
            return None
        if not isinstance(exc, _BROKEN_STREAM):
            raise await explain(exc, action="running", run_id=tracker.run_id) from None
        log.info("stream of run %s broke (%s); polling instead", tracker.run_id, exc.code)
    if tracker.run_id is None:
        tracker.lost = tracker.lost or "the stream closed before confirming the run"
        return None
    await progress("The live stream broke; following the run by polling")
    return None


async def _recover(
    deps: ToolDeps, key: str, request: RunRequest, tracker: Tracker, progress: Progress, sent_at: datetime
) -> None:
    """Find the run whose confirmation was lost and follow it; else an error saying how to find it."""
    lookup = await find_runs(deps, key, [request], sent_at)
    ids = lookup.recovered
    cause = tracker.lost or "no confirmation came in time"
    if ids is None:
        raise lost_runs_error(cause, [request], lookup)
    tracker.run_id = ids[0]
    log.warning("run-sse answer lost (%s); found run %s and following it", cause, ids[0])
    if tracker.on_started is not None:
        await tracker.on_started(ids[0])
    await progress(f"Run {ids[0]} started (found after the stream was lost)")


async def _snapshot(deps: ToolDeps, key: str, tracker: Tracker, deadline: Deadline) -> RunResult:
    """The run's state when the call window closed (it may just have finished)."""
    assert tracker.run_id is not None
    run: Run | None = None
    with anyio.move_on_after(min(SNAPSHOT_TIMEOUT, deadline.remaining())):
        try:
            run = await deps.client.get_run(key, tracker.run_id)
        except UpstreamError as exc:
            log.info("could not look at run %s after the window: %s", tracker.run_id, exc.code)
    run = run or tracker.last
    if run is not None:
        return run_result(run)
    return finish(
        RunResult(
            run_id=tracker.run_id,
            status="RUNNING",
            num_of_steps=tracker.steps_seen,
            streaming_url=tracker.streaming_url,
            started_at=tracker.started_at,
        )
    )


def _tail(window: float) -> float:
    """Seconds of a window kept for the last look at the run (or the search for a lost one)."""
    return min(SNAPSHOT_TIMEOUT, window / 4)


async def _poll_until(
    deps: ToolDeps, key: str, tracker: Tracker, progress: Progress, deadline: Deadline, *, wait_first: bool
) -> RunResult:
    """Poll until the run ends or only the tail of the deadline is left, then take a last look."""
    with call_window(max(0.0, deadline.remaining() - _tail(deadline.seconds) / 2)):
        return run_result(await _poll(deps, key, tracker, progress, wait_first=wait_first))
    return await _snapshot(deps, key, tracker, deadline)


async def follow_new_run(
    deps: ToolDeps,
    key: str,
    request: RunRequest,
    ctx: Context[Any, Any],
    window: float,
    *,
    on_started: Callable[[str], Awaitable[None]] | None = None,
) -> RunResult:
    """Start ``request`` on ``/run-sse`` and follow it; answer within ``window`` seconds.

    The stream gets the window less a tail; the tail is kept for finding the run when its
    confirmation was lost (never by starting it again) and for the last look at it.
    ``on_started(run_id)`` is awaited as soon as the run is known (named by the stream, or found).
    """
    tracker = Tracker(on_started=on_started)
    progress = Progress(ctx)
    job: Job[RunResult] = Job(
        noun="run",
        ident=lambda: tracker.run_id,
        cancel=lambda run_id: deps.client.cancel_run(key, run_id),
        check=lambda run_id: f"check it with get_run(id='{run_id}') or wait_for_run",
        maybe_started=_MAYBE_STARTED,
    )
    deadline = Deadline(window)
    sent_at = utcnow()

    async def work() -> RunResult:
        streaming = deadline.reserve(_tail(window))
        with anyio.move_on_after(streaming.remaining()), streaming.applied():
            done = await _stream(deps, key, request, tracker, progress)
            if done is not None:
                return done
        if tracker.run_id is None:
            tracker.lost = tracker.lost or f"no confirmation within {deadline.describe()}"
            await _recover(deps, key, request, tracker, progress, sent_at)
        return await _poll_until(deps, key, tracker, progress, deadline, wait_first=False)

    with deadline.applied():
        # The work ends within the window by itself; the margin only guards against a slip.
        done = await within_window(deps, job, work, window + WINDOW_MARGIN)
        if done is not None:
            return done
        return await _snapshot(deps, key, tracker, deadline)


async def follow_existing_run(
    deps: ToolDeps, key: str, run_id: str, ctx: Context[Any, Any], window: float
) -> RunResult:
    """Poll an existing run, steps as progress; answer within ``window`` seconds."""
    progress = Progress(ctx)
    deadline = Deadline(window)
    with deadline.applied():
        try:
            first = await deps.client.get_run(key, run_id)
        except UpstreamError as exc:
            raise tool_error(exc, action=f"looking up run {run_id}") from None
        tracker = Tracker(run_id=run_id, streaming_url=first.streaming_url, last=first)
        tracker.steps_seen = len(first.steps)
        if first.is_terminal:
            return run_result(first)
        await progress(f"Run {run_id} is {first.status} ({len(first.steps)} steps so far)")
        return await _poll_until(deps, key, tracker, progress, deadline, wait_first=True)
