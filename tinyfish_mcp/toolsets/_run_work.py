"""An agent run as the follower's work (``follow.Work``): its seam, and the run tools' windows.

Three situations share the one follower (``tinyfish_mcp.follow``):

* a new run through ``/run-sse``: every event becomes a progress notification;
* the SSE stream breaks after STARTED: the run goes on upstream (SSE has no resume),
  so the follower polls ``GET /v1/runs/{id}`` with backoff, reporting new steps;
* ``wait_for_run``: polling an existing run from the start.

The call never outlives its window (many clients give up after about 60 s whatever
progress they see): when it closes, the run's current state is returned and the run
goes on. A run whose confirmation was lost is looked for (``runtime/recover.py``), never
started again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio

from ..follow import (
    WINDOW_MARGIN,
    Closed,
    Job,
    Look,
    Progress,
    Reporter,
    call_window,
    follow_stream,
    poll,
    within_window,
)
from ..runtime.context import ToolDeps
from ..runtime.errors import explain, tool_error
from ..runtime.recover import find_runs, lost_runs_error, not_started_error, utcnow
from ..runtime.results import (
    RunResult,
    RunsBatch,
    bound_result,
    error_info,
    failed_run_error,
    finish,
    run_result,
    run_row,
)
from ..runtime.schema import as_tool_result
from ..upstream.deadline import Deadline
from ..upstream.errors import (
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:
    from ..upstream.models import CompleteEvent, Run, RunEvent, RunRequest

__all__ = ["RunTasks", "RunWork", "follow_existing_run", "follow_new_run", "run_job"]

log = logging.getLogger(__name__)

# How long the last look at a run may take when the window has closed.
SNAPSHOT_TIMEOUT = 5.0
_TRANSIENT = (UpstreamConnectionError, UpstreamTimeoutError, ServerError, RateLimitError)
_MAYBE_STARTED = (
    "The run may have started anyway (runs are billed): do NOT start it again; look for it with "
    "list_runs(status='RUNNING') first."
)
# A stream that breaks after STARTED is followed by polling; other errors end the call.
_BROKEN_STREAM = (UpstreamConnectionError, UpstreamTimeoutError, UpstreamProtocolError, ServerError)


@dataclass
class RunWork:
    """One agent run as the follower's work: what we know of it, and how to read it."""

    deps: ToolDeps
    key: str
    request: RunRequest | None = None  # what starts it; None: an existing run
    run_id: str | None = None
    streaming_url: str | None = None
    started_at: str | None = None
    steps_seen: int = 0
    last: Run | None = None
    # Told the run id as soon as STARTED names it (a session_id claim records it).
    on_started: Callable[[str], Awaitable[None]] | None = None
    lost: UpstreamError | str | None = None  # why the run's confirmation never arrived
    noun: str = "run"
    reconnects: int = 0  # SSE has no resume: a broken stream is followed by polling
    dropped_note: str = ""
    polling_note: str = "The live stream broke; following the run by polling"
    transient: tuple[type[UpstreamError], ...] = field(default=_TRANSIENT)

    def ident(self) -> str | None:
        return self.run_id

    @asynccontextmanager
    async def open(self) -> AsyncIterator[AsyncIterator[RunEvent]]:
        assert self.request is not None
        async with self.deps.client.stream_run(self.key, self.request) as events:
            yield events

    async def on_event(self, event: RunEvent, progress: Progress) -> RunResult | None:
        # the payload models load on first use, not at start-up
        from ..upstream.models import (
            CompleteEvent,
            HeartbeatEvent,
            ProgressEvent,
            StartedEvent,
            StreamingUrlEvent,
        )

        if isinstance(event, StartedEvent):
            self.run_id = event.run_id
            self.started_at = event.timestamp
            if self.on_started is not None:
                await self.on_started(event.run_id)
            await progress(f"Run {event.run_id} started")
        elif isinstance(event, StreamingUrlEvent):
            self.streaming_url = event.streaming_url
            await progress(f"Watch the browser live: {event.streaming_url}")
        elif isinstance(event, ProgressEvent):
            self.steps_seen += 1
            await progress(event.purpose or f"step {self.steps_seen}")
        elif isinstance(event, HeartbeatEvent):
            await progress(None)
        elif isinstance(event, CompleteEvent):
            return self._completed(event)
        else:
            log.debug("ignoring run event of type %s", event.type)
        return None

    def _completed(self, event: CompleteEvent) -> RunResult:
        error = error_info(event.error)
        if error is not None:
            error.help_url = error.help_url or event.help_url
            error.help_message = error.help_message or event.help_message
        return finish(
            RunResult(
                run_id=self.run_id or event.run_id or "",
                status=event.status,
                result=event.result,
                error=error,
                num_of_steps=self.steps_seen,
                streaming_url=self.streaming_url,
                started_at=self.started_at,
                finished_at=event.timestamp,
            )
        )

    async def closed(self, progress: Progress) -> RunResult | Closed:
        if self.run_id is None:
            self.lost = self.lost or "the stream closed before confirming the run"
        return "poll"

    async def failed(self, exc: UpstreamError) -> None:
        if self.run_id is None:
            if not exc.may_have_been_processed:
                raise await not_started_error(exc, action="starting the run") from None
            self.lost = exc  # the follower returns; the run is looked for
            return
        if not isinstance(exc, _BROKEN_STREAM):
            raise await explain(exc, action="running", run_id=self.run_id) from None

    async def look(self, progress: Progress) -> RunResult | None:
        assert self.run_id is not None
        run = await self.deps.client.get_run(self.key, self.run_id)
        await self.absorb(run, progress, keepalive=not run.is_terminal)
        return run_result(run) if run.is_terminal else None

    async def poll_error(self, exc: UpstreamError) -> Exception:
        return tool_error(exc, action="checking on the run", run_id=self.run_id)

    async def absorb(self, run: Run, progress: Progress, *, keepalive: bool = True) -> None:
        """Report what a look shows that we have not reported yet."""
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


def run_job(work: RunWork) -> Job[RunResult]:
    """The call window's view of a run: its id, how to cancel it and find it again."""
    deps, key = work.deps, work.key
    return Job(
        noun="run",
        ident=work.ident,
        cancel=lambda run_id: deps.client.cancel_run(key, run_id),
        check=lambda run_id: f"check it with get_run(id='{run_id}') or wait_for_run",
        maybe_started=_MAYBE_STARTED,
    )


async def _recover(work: RunWork, progress: Progress, sent_at: datetime) -> None:
    """Find the run whose confirmation was lost and follow it; else an error saying how to find it."""
    assert work.request is not None
    lookup = await find_runs(work.deps, work.key, [work.request], sent_at)
    ids = lookup.recovered
    cause = work.lost or "no confirmation came in time"
    if ids is None:
        raise lost_runs_error(cause, [work.request], lookup)
    work.run_id = ids[0]
    log.warning("run-sse answer lost (%s); found run %s and following it", cause, ids[0])
    if work.on_started is not None:
        await work.on_started(ids[0])
    await progress(f"Run {ids[0]} started (found after the stream was lost)")


async def _snapshot(work: RunWork, deadline: Deadline) -> RunResult:
    """The run's state when the call window closed (it may just have finished)."""
    assert work.run_id is not None
    run: Run | None = None
    with anyio.move_on_after(min(SNAPSHOT_TIMEOUT, deadline.remaining())):
        try:
            run = await work.deps.client.get_run(work.key, work.run_id)
        except UpstreamError as exc:
            log.info("could not look at run %s after the window: %s", work.run_id, exc.code)
    run = run or work.last
    if run is not None:
        return run_result(run)
    return finish(
        RunResult(
            run_id=work.run_id,
            status="RUNNING",
            num_of_steps=work.steps_seen,
            streaming_url=work.streaming_url,
            started_at=work.started_at,
        )
    )


def _tail(window: float) -> float:
    """Seconds of a window kept for the last look at the run (or the search for a lost one)."""
    return min(SNAPSHOT_TIMEOUT, window / 4)


async def _poll_until(
    work: RunWork, progress: Progress, deadline: Deadline, *, wait_first: bool
) -> RunResult:
    """Poll until the run ends or only the tail of the deadline is left, then take a last look."""
    with call_window(max(0.0, deadline.remaining() - _tail(deadline.seconds) / 2)):
        return await poll(work.deps.settings, work, progress, wait_first=wait_first)
    return await _snapshot(work, deadline)


async def follow_new_run(
    deps: ToolDeps,
    key: str,
    request: RunRequest,
    ctx: Reporter | None,
    window: float,
    *,
    on_started: Callable[[str], Awaitable[None]] | None = None,
) -> RunResult:
    """Start ``request`` on ``/run-sse`` and follow it; answer within ``window`` seconds.

    The stream gets the window less a tail; the tail is kept for finding the run when its
    confirmation was lost (never by starting it again) and for the last look at it.
    ``on_started(run_id)`` is awaited as soon as the run is known (named by the stream, or found).
    """
    work = RunWork(deps, key, request, on_started=on_started)
    progress = Progress(ctx)
    deadline = Deadline(window)
    sent_at = utcnow()

    async def follow() -> RunResult:
        streaming = deadline.reserve(_tail(window))
        with anyio.move_on_after(streaming.remaining()), streaming.applied():
            done = await follow_stream(work, progress)
            if done is not None:
                return done
        if work.run_id is None:
            work.lost = work.lost or f"no confirmation within {deadline.describe()}"
            await _recover(work, progress, sent_at)
        return await _poll_until(work, progress, deadline, wait_first=False)

    with deadline.applied():
        # The work ends within the window by itself; the margin only guards against a slip.
        done = await within_window(deps.settings, run_job(work), follow, window + WINDOW_MARGIN)
        if done is not None:
            return done
        return await _snapshot(work, deadline)


async def follow_existing_run(
    deps: ToolDeps, key: str, run_id: str, ctx: Reporter | None, window: float
) -> RunResult:
    """Poll an existing run, steps as progress; answer within ``window`` seconds."""
    progress = Progress(ctx)
    deadline = Deadline(window)
    with deadline.applied():
        try:
            first = await deps.client.get_run(key, run_id)
        except UpstreamError as exc:
            raise tool_error(exc, action=f"looking up run {run_id}") from None
        work = RunWork(deps, key, run_id=run_id, streaming_url=first.streaming_url, last=first)
        work.steps_seen = len(first.steps)
        if first.is_terminal:
            return run_result(first)
        await progress(f"Run {run_id} is {first.status} ({len(first.steps)} steps so far)")
        return await _poll_until(work, progress, deadline, wait_first=True)


@dataclass
class RunTasks:
    """Agent runs as MCP tasks (``follow.TaskKind``): a run, or a batch of runs read together."""

    deps: ToolDeps
    name: str = "run"

    def ident(self, structured: Mapping[str, Any]) -> str | None:
        if self.name == "batch":
            ids = structured.get("run_ids")
            return ",".join(str(i) for i in ids) if isinstance(ids, list) and ids else None
        run_id = structured.get("run_id")
        return str(run_id) if run_id else None

    async def look(self, key: str, ident: str) -> Look:
        if self.name == "batch":
            return await self._look_batch(key, ident.split(","))
        run = await self.deps.client.get_run(key, ident)
        steps = [step.action for step in run.steps if step.action]
        latest = steps[-1] if steps else f"Run {ident} is {run.status}"
        if not run.is_terminal:
            return Look("working", latest)
        out = run_result(run)
        if out.status == "FAILED":
            return Look("completed", latest, error=str(failed_run_error(out.run_id, out.error)))
        result = as_tool_result(bound_result(out, self.deps.settings.mcp_max_result_chars))
        if out.status == "CANCELLED":
            return Look("cancelled", latest, result=result)
        return Look("completed", latest, result=result)

    async def _look_batch(self, key: str, run_ids: list[str]) -> Look:
        found = await self.deps.client.get_runs(key, run_ids)
        rows = RunsBatch(runs=[run_row(run) for run in found.data], not_found=found.not_found)
        going = [run for run in found.data if not run.is_terminal]
        if going:
            return Look("working", f"{len(run_ids) - len(going)} of {len(run_ids)} runs have finished")
        return Look("completed", f"All {len(run_ids)} runs have finished", result=as_tool_result(rows))

    async def cancel(self, key: str, ident: str) -> None:
        if self.name == "batch":
            await self.deps.client.cancel_runs(key, ident.split(","))
        else:
            await self.deps.client.cancel_run(key, ident)
