"""A research run as the follower's work and as an MCP task.

The research tools (``research.py``) start or find the run; :class:`ResearchWork` follows
its event stream (resumed with ``Last-Event-ID``, events reported once, then polled) and
:class:`ResearchTasks` reads and cancels it for a task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from ..follow import Closed, Look, Progress
from ..runtime.context import ToolDeps
from ..runtime.errors import explain
from ..runtime.schema import as_tool_result
from ..upstream.errors import UpstreamError
from ..upstream.research import (
    TERMINAL_RESEARCH,
    EventCursor,
    ResearchEvent,
    ResearchRequest,
    ResearchRunDetail,
)
from ._followed import DROPPED, MAX_RECONNECTS, answer_id
from ._research_out import ResearchResult, describe, research_result

__all__ = ["FIND", "MAYBE_STARTED", "ResearchTasks", "ResearchWork"]

log = logging.getLogger(__name__)

FIND = "list_research shows your research runs"
SNAPSHOT_TIMEOUT = 5.0
MAYBE_STARTED = (
    "The research run may have started anyway: check list_research(status='RUNNING') before "
    "starting it again."
)
Events = AbstractAsyncContextManager[Any]


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
    transient: tuple[type[UpstreamError], ...] = DROPPED

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
            raise ToolError(f"TinyFish closed the research stream before naming the run. {MAYBE_STARTED}")
        return "reopen"

    async def failed(self, exc: UpstreamError) -> None:
        run_id = self.cursor.run_id
        if isinstance(exc, DROPPED):
            if run_id is None:
                error = await explain(exc, action="starting the research run", find=FIND)
                raise ToolError(f"{error} {MAYBE_STARTED}") from None
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
    """The run, read within ``SNAPSHOT_TIMEOUT``; None when it cannot be read."""
    with anyio.move_on_after(SNAPSHOT_TIMEOUT):
        try:
            return await deps.client.research.get(key, run_id)
        except UpstreamError as exc:
            log.info("could not read research run %s: %s", run_id, exc.code)
    return None


@dataclass
class ResearchTasks:
    """Research runs as MCP tasks (``follow.TaskKind``)."""

    deps: ToolDeps
    name: str = "research"

    def ident(self, structured: Mapping[str, Any]) -> str | None:
        return answer_id(structured, "research_run_id")

    async def look(self, key: str, ident: str) -> Look:
        run = await self.deps.client.research.get(key, ident)
        message = f"Research run {ident} is {run.status}"
        if run.status not in TERMINAL_RESEARCH:
            return Look("working", message)
        result = as_tool_result(research_result(run, self.deps.settings.mcp_max_result_chars))
        return Look("cancelled" if run.status == "CANCELLED" else "completed", message, result=result)

    async def cancel(self, key: str, ident: str) -> None:
        await self.deps.client.research.cancel(key, ident)
