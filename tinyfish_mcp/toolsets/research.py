"""The 'research' toolset: deep research runs, with the run tools' contract.

``run_research`` starts a run on the event stream and turns each stage (plan, searches,
sources read, agent runs, quick answer, report) into a progress notification. Its call
window returns RUNNING with the id (and the quick answer once it exists); a client cancel
cancels the run upstream; a dropped stream is resumed with ``Last-Event-ID`` (events the
service replays are reported once), falling back to polling. ``wait_for_research``
continues a run; ``get_research`` pages the report and the evidence; ``list_research``
and ``cancel_research`` manage runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from ..follow import Closed, Job, Look, Progress, follow, within_window
from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import CREATES, DESTRUCTIVE, READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import explain, invalid_input, shown_id, upstream_call
from ..upstream.errors import (
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from ..upstream.research import (
    TERMINAL_RESEARCH,
    EventCursor,
    ResearchEvent,
    ResearchRequest,
    ResearchRunDetail,
)
from ._research_out import (
    CancelledResearch,
    ResearchPage,
    ResearchResult,
    describe,
    evidence_page,
    research_result,
    research_row,
)
from ._research_owned import own_research

__all__ = ["register"]

log = logging.getLogger(__name__)

FIND = "list_research shows your research runs"
MAX_RECONNECTS = 3
SNAPSHOT_TIMEOUT = 5.0
_DROPPED = (UpstreamConnectionError, UpstreamTimeoutError, UpstreamProtocolError, ServerError, RateLimitError)
_MAYBE_STARTED = (
    "The research run may have started anyway: check list_research(status='RUNNING') before "
    "starting it again."
)
Events = AbstractAsyncContextManager[Any]
MaxWait = Annotated[float | None, Field(ge=1, le=600)]
RunIdArg = Annotated[str, Field(description="research_run_id from run_research or list_research")]

RUN = (
    "Deep research on a question: plans sub-questions, searches, reads sources (spawning agent runs) "
    "and writes a cited report. Billed per run; takes minutes. Stages arrive as progress. Waits "
    "max_wait_seconds (default {window:g}), then returns RUNNING with research_run_id and any quick "
    "answer: continue with wait_for_research, never start it again."
)


@dataclass
class ResearchWork:
    """One research run as the follower's work: the stream resumes with ``Last-Event-ID``."""

    deps: ToolDeps
    key: str
    budget: int
    request: ResearchRequest | None = None  # what starts it; None: an existing run
    cursor: EventCursor = field(default_factory=EventCursor)
    quick: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    writing: bool = False
    status: str | None = None  # the last status a look reported
    noun: str = "research run"
    reconnects: int = MAX_RECONNECTS
    dropped_note: str = "The event stream dropped; resuming it"
    polling_note: str = "The event stream keeps dropping; following the research run by polling"
    transient: tuple[type[UpstreamError], ...] = _DROPPED

    def ident(self) -> str | None:
        return self.cursor.run_id

    def open(self) -> Events:
        if self.request is not None and self.cursor.run_id is None:
            return self.deps.client.research.stream(self.key, self.request)
        assert self.cursor.run_id is not None
        return self.deps.client.research.events(self.key, self.cursor.run_id, self.cursor.last_event_id)

    async def on_event(
        self, item: tuple[str | None, ResearchEvent], progress: Progress
    ) -> ResearchResult | None:
        event_id, event = item
        if not self.cursor.accept(event_id, event):
            return None  # replayed state or an event this call already reported
        await self._report(event, progress)
        if event.event == "done":
            return await self._finished()
        return None

    async def _report(self, event: ResearchEvent, progress: Progress) -> None:
        if event.event == "partial_summary" and isinstance(event.get("answer"), str):
            self.quick = {"answer": event.get("answer"), "citations": event.get("citations") or []}
        elif event.event == "final_result":
            self.report = {
                "result": event.get("result") or "",
                "citations": event.get("citations") or [],
                "termination_reason": event.get("termination_reason"),
            }
        elif event.event == "error":
            self.error = str(event.get("message") or "the research pipeline failed")
        elif event.event == "synthesis_delta":
            if self.writing:
                await progress(None)  # many deltas: one message, then keep-alives
                return
            self.writing = True
        await progress(describe(event))

    async def closed(self, progress: Progress) -> ResearchResult | Closed:
        if self.cursor.run_id is None:
            raise ToolError(f"TinyFish closed the research stream before naming the run. {_MAYBE_STARTED}")
        return "reopen"

    async def failed(self, exc: UpstreamError) -> None:
        run_id = self.cursor.run_id
        if isinstance(exc, _DROPPED):
            if run_id is None:
                error = await explain(exc, action="starting the research run", find=FIND)
                raise ToolError(f"{error} {_MAYBE_STARTED}") from None
            return
        action = "starting the research run" if run_id is None else "following the research run"
        raise await explain(exc, action=action, run_id=run_id, find=FIND) from None

    async def look(self, progress: Progress) -> ResearchResult | None:
        run_id = self.cursor.run_id
        assert run_id is not None
        run = await self.deps.client.research.get(self.key, run_id)
        if run.status != self.status:
            self.status = run.status
            await progress(f"Research run {run_id} is {run.status}")
        else:
            await progress(None)
        if run.status in TERMINAL_RESEARCH:
            return research_result(run, self.budget, self.quick)
        return None

    async def poll_error(self, exc: UpstreamError) -> Exception:
        run_id = self.cursor.run_id
        return await explain(exc, action="checking on the research run", run_id=run_id, find=FIND)

    async def _finished(self) -> ResearchResult:
        run_id = self.cursor.run_id or ""
        detail = await _detail(self.deps, self.key, run_id)
        if detail is not None:
            return research_result(detail, self.budget, self.quick, self.report)
        status = "FAILED" if self.error else "COMPLETED"
        stub = ResearchRunDetail(research_run_id=run_id, status=status)
        return research_result(stub, self.budget, self.quick, self.report, error=self.error)

    async def snapshot(self) -> ResearchResult:
        """The run as the call window closed."""
        run_id = self.cursor.run_id or ""
        detail = await _detail(self.deps, self.key, run_id)
        detail = detail or ResearchRunDetail(research_run_id=run_id, status="RUNNING")
        return research_result(detail, self.budget, self.quick, self.report)


async def _detail(deps: ToolDeps, key: str, run_id: str) -> ResearchRunDetail | None:
    with anyio.move_on_after(SNAPSHOT_TIMEOUT):
        try:
            return await deps.client.research.get(key, run_id)
        except UpstreamError as exc:
            log.info("could not read research run %s: %s", run_id, exc.code)
    return None


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the five research tools on ``mcp``."""
    mcp.add_task_kind(ResearchTasks(deps))
    window = deps.settings.mcp_call_window
    budget = deps.settings.mcp_max_result_chars

    def _job(work: ResearchWork, *, cancels: bool) -> Job[ResearchResult]:
        key = work.key
        return Job(
            noun="research run",
            ident=work.ident,
            cancel=(lambda run_id: deps.client.research.cancel(key, run_id)) if cancels else None,
            check=lambda run_id: f"continue with wait_for_research(research_run_id='{run_id}')",
            maybe_started=_MAYBE_STARTED,
        )

    @mcp.tool(
        description=RUN.format(window=window),
        nature=Nature(billed=True, long_running=True, task="research"),
        annotations=CREATES,
    )
    async def run_research(
        query: str,
        ctx: Context[Any, Any],
        mode: Annotated[
            Literal["deep", "max"] | None, Field(description="max digs further (costs more)")
        ] = None,
        domain_type: Literal["web", "news", "research_paper"] | None = None,
        recency_minutes: int | None = None,
        after_date: str | None = None,
        before_date: str | None = None,
        output_language: str | None = None,
        domain_filter: Annotated[
            dict[str, Any] | None, Field(description="{mode: include|exclusive, domains?, block?}")
        ] = None,
        max_wait_seconds: MaxWait = None,
    ) -> Annotated[CallToolResult, ResearchResult]:
        try:
            request = ResearchRequest.model_validate(
                {
                    "query": query,
                    "mode": mode,
                    "domain_type": domain_type,
                    "recency_minutes": recency_minutes,
                    "after_date": after_date,
                    "before_date": before_date,
                    "output_language": output_language,
                    "domain_filter": domain_filter,
                }
            )
        except ValidationError as exc:
            raise invalid_input(exc) from None
        key = await deps.resolve_key()
        work, progress = ResearchWork(deps, key, budget, request), Progress(ctx)
        try:
            done = await within_window(
                deps.settings,
                _job(work, cancels=True),
                lambda: follow(deps.settings, work, progress),
                max_wait_seconds or window,
            )
        finally:
            # Whatever happened, a research run that was named is its caller's.
            if work.cursor.run_id:
                await deps.record_owned(key, "research", [work.cursor.run_id])
        return _deliver(done or await work.snapshot())

    @mcp.tool(
        description="Continue a research run (after RUNNING) with progress, up to max_wait_seconds; "
        "returns it finished or still RUNNING. Free.",
        annotations=READ_ONLY,
    )
    async def wait_for_research(
        research_run_id: RunIdArg, ctx: Context[Any, Any], max_wait_seconds: MaxWait = None
    ) -> Annotated[CallToolResult, ResearchResult]:
        key = await deps.resolve_key()
        await _require(deps, key, research_run_id, "looking up")
        first = await upstream_call(
            f"looking up research run {shown_id(research_run_id)}",
            deps.client.research.get(key, research_run_id),
            find=FIND,
        )
        if first.status in TERMINAL_RESEARCH:
            return _deliver(research_result(first, budget))
        work = ResearchWork(deps, key, budget, cursor=EventCursor(run_id=first.research_run_id))
        progress = Progress(ctx)
        await progress(f"Research run {first.research_run_id} is {first.status}")
        done = await within_window(
            deps.settings,
            _job(work, cancels=False),
            lambda: follow(deps.settings, work, progress),
            max_wait_seconds or window,
        )
        return _deliver(done or await work.snapshot())

    @mcp.tool(
        description="A research run's report (part 'report', paged by offset), its evidence (part "
        "'evidence': sources and claims, paged by offset) or its plan. Free.",
        annotations=READ_ONLY,
    )
    async def get_research(
        research_run_id: RunIdArg,
        part: Literal["report", "evidence"] = "report",
        offset: Annotated[int, Field(ge=0)] = 0,
        max_chars: Annotated[int | None, Field(ge=500, le=100_000)] = None,
    ) -> Annotated[CallToolResult, ResearchResult]:
        key = await deps.resolve_key()
        await _require(deps, key, research_run_id, "reading")
        run = await upstream_call(
            f"reading research run {shown_id(research_run_id)}",
            deps.client.research.get(key, research_run_id),
            find=FIND,
        )
        if part == "evidence":
            return _deliver(evidence_page(run, offset, max_chars or budget))
        return _deliver(research_result(run, max_chars or budget, offset=offset))

    @mcp.tool(
        description="Your research runs, newest first; page with next_cursor. Free.", annotations=READ_ONLY
    )
    async def list_research(
        status: Literal["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] | None = None,
        query: Annotated[str | None, Field(description="words the query contains")] = None,
        cursor: str | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> Annotated[CallToolResult, ResearchPage]:
        key = await deps.resolve_key()
        if deps.ownership is not None:
            return _deliver(
                await own_research(deps, key, status=status, query=query, cursor=cursor, limit=limit)
            )
        listed = await upstream_call(
            "listing research runs",
            deps.client.research.list(key, status=status, query=query, cursor=cursor, limit=limit),
        )
        page = listed.pagination
        return _deliver(
            ResearchPage(
                runs=[research_row(run) for run in listed.data[:limit]],
                total=page.total if page else None,
                next_cursor=page.next_cursor if page else None,
            )
        )

    @mcp.tool(
        description="Stop a research run (idempotent; a finished run stays as it is).",
        annotations=DESTRUCTIVE,
    )
    async def cancel_research(research_run_id: RunIdArg) -> Annotated[CallToolResult, CancelledResearch]:
        key = await deps.resolve_key()
        await _require(deps, key, research_run_id, "cancelling")
        result = await upstream_call(
            f"cancelling research run {shown_id(research_run_id)}",
            deps.client.research.cancel(key, research_run_id),
            find=FIND,
        )
        note = None if result.cancelled else f"Not changed: the run is already {result.status}."
        return _deliver(
            CancelledResearch(
                research_run_id=result.research_run_id,
                status=result.status,
                cancelled=result.cancelled,
                note=note,
            )
        )


async def _require(deps: ToolDeps, key: str, research_run_id: str, verb: str) -> None:
    """Not found, as TinyFish says it, unless the caller owns the research run (shared key)."""
    await upstream_call(
        f"{verb} research run {shown_id(research_run_id)}",
        deps.require_owned(key, "research", research_run_id),
        find=FIND,
    )


def _deliver(out: Any) -> CallToolResult:
    from ..runtime.schema import as_tool_result

    return as_tool_result(out)


@dataclass
class ResearchTasks:
    """Research runs as MCP tasks (``follow.TaskKind``)."""

    deps: ToolDeps
    name: str = "research"

    def ident(self, structured: Mapping[str, Any]) -> str | None:
        run_id = structured.get("research_run_id")
        return str(run_id) if run_id else None

    async def look(self, key: str, ident: str) -> Look:
        run = await self.deps.client.research.get(key, ident)
        message = f"Research run {ident} is {run.status}"
        if run.status not in TERMINAL_RESEARCH:
            return Look("working", message)
        result = _deliver(research_result(run, self.deps.settings.mcp_max_result_chars))
        return Look("cancelled" if run.status == "CANCELLED" else "completed", message, result=result)

    async def cancel(self, key: str, ident: str) -> None:
        await self.deps.client.research.cancel(key, ident)
