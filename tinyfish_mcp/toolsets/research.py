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

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from ..follow import Job, Progress, follow, within_window
from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import CREATES, DESTRUCTIVE, READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, shown_id, upstream_call
from ..runtime.schema import as_tool_result
from ..upstream.research import TERMINAL_RESEARCH, EventCursor, ResearchRequest
from ._followed import MaxWait
from ._owned_lists import owned_key
from ._research_out import (
    CancelledResearch,
    ResearchPage,
    ResearchResult,
    evidence_page,
    research_result,
    research_row,
)
from ._research_owned import own_research
from ._research_work import FIND, MAYBE_STARTED, ResearchTasks, ResearchWork

__all__ = ["ResearchTools", "register"]

RunIdArg = Annotated[str, Field(description="research_run_id from run_research or list_research")]
FOLLOWS = Nature(billed=True, long_running=True, task="research")

RUN = (
    "Deep research on a question: plans sub-questions, searches, reads sources (spawning agent runs) "
    "and writes a cited report. Billed per run; takes minutes. Stages arrive as progress. Waits "
    "max_wait_seconds (default {window:g}), then returns RUNNING with research_run_id and any quick "
    "answer: continue with wait_for_research, never start it again."
)
WAIT = (
    "Continue a research run (after RUNNING) with progress, up to max_wait_seconds; "
    "returns it finished or still RUNNING. Free."
)
GET = (
    "A research run's report (part 'report', paged by offset), its evidence (part "
    "'evidence': sources and claims, paged by offset) or its plan. Free."
)
LIST = "Your research runs, newest first; page with next_cursor. Free."
CANCEL = "Stop a research run (idempotent; a finished run stays as it is)."


class ResearchTools:
    """The research toolset's tools, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.window = deps.settings.mcp_call_window
        self.budget = deps.settings.mcp_max_result_chars

    async def run_research(
        self,
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
        key = await self.deps.resolve_key()
        work, progress = ResearchWork(self.deps, key, self.budget, request), Progress(ctx)
        try:
            return await self._follow_within(
                work, progress, cancels=True, wait=max_wait_seconds or self.window
            )
        finally:
            # Whatever happened, a research run that was named is its caller's.
            if work.cursor.run_id:
                await self.deps.record_owned(key, "research", [work.cursor.run_id])

    async def wait_for_research(
        self, research_run_id: RunIdArg, ctx: Context[Any, Any], max_wait_seconds: MaxWait = None
    ) -> Annotated[CallToolResult, ResearchResult]:
        key = await self._owned_key(research_run_id, "looking up")
        first = await upstream_call(
            f"looking up research run {shown_id(research_run_id)}",
            self.deps.client.research.get(key, research_run_id),
            find=FIND,
        )
        if first.status in TERMINAL_RESEARCH:
            return as_tool_result(research_result(first, self.budget))
        work = ResearchWork(self.deps, key, self.budget, cursor=EventCursor(run_id=first.research_run_id))
        progress = Progress(ctx)
        await progress(f"Research run {first.research_run_id} is {first.status}")
        return await self._follow_within(work, progress, cancels=False, wait=max_wait_seconds or self.window)

    async def get_research(
        self,
        research_run_id: RunIdArg,
        part: Literal["report", "evidence"] = "report",
        offset: Annotated[int, Field(ge=0)] = 0,
        max_chars: Annotated[int | None, Field(ge=500, le=100_000)] = None,
    ) -> Annotated[CallToolResult, ResearchResult]:
        key = await self._owned_key(research_run_id, "reading")
        run = await upstream_call(
            f"reading research run {shown_id(research_run_id)}",
            self.deps.client.research.get(key, research_run_id),
            find=FIND,
        )
        if part == "evidence":
            return as_tool_result(evidence_page(run, offset, max_chars or self.budget))
        return as_tool_result(research_result(run, max_chars or self.budget, offset=offset))

    async def list_research(
        self,
        status: Literal["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] | None = None,
        query: Annotated[str | None, Field(description="words the query contains")] = None,
        cursor: str | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> Annotated[CallToolResult, ResearchPage]:
        key = await self.deps.resolve_key()
        if self.deps.ownership is not None:
            return as_tool_result(
                await own_research(self.deps, key, status=status, query=query, cursor=cursor, limit=limit)
            )
        listed = await upstream_call(
            "listing research runs",
            self.deps.client.research.list(key, status=status, query=query, cursor=cursor, limit=limit),
        )
        page = listed.pagination
        return as_tool_result(
            ResearchPage(
                runs=[research_row(run) for run in listed.data[:limit]],
                total=page.total if page else None,
                next_cursor=page.next_cursor if page else None,
            )
        )

    async def cancel_research(
        self, research_run_id: RunIdArg
    ) -> Annotated[CallToolResult, CancelledResearch]:
        key = await self._owned_key(research_run_id, "cancelling")
        result = await upstream_call(
            f"cancelling research run {shown_id(research_run_id)}",
            self.deps.client.research.cancel(key, research_run_id),
            find=FIND,
        )
        note = None if result.cancelled else f"Not changed: the run is already {result.status}."
        return as_tool_result(
            CancelledResearch(
                research_run_id=result.research_run_id,
                status=result.status,
                cancelled=result.cancelled,
                note=note,
            )
        )

    async def _owned_key(self, research_run_id: str, verb: str) -> str:
        """The caller's key, once the research run is known to be theirs (not found otherwise)."""
        action = f"{verb} research run {shown_id(research_run_id)}"
        return await owned_key(self.deps, "research", research_run_id, action=action, find=FIND)

    def _job(self, work: ResearchWork, *, cancels: bool) -> Job[ResearchResult]:
        key = work.key
        return Job(
            noun="research run",
            ident=work.ident,
            cancel=(lambda run_id: self.deps.client.research.cancel(key, run_id)) if cancels else None,
            check=lambda run_id: f"continue with wait_for_research(research_run_id='{run_id}')",
            maybe_started=MAYBE_STARTED,
        )

    async def _follow_within(
        self, work: ResearchWork, progress: Progress, *, cancels: bool, wait: float
    ) -> CallToolResult:
        """Follow ``work`` within the call window: the run finished, or as it stands when it closes."""
        settings = self.deps.settings
        job = self._job(work, cancels=cancels)
        done = await within_window(settings, job, lambda: follow(settings, work, progress), wait)
        return as_tool_result(done or await work.snapshot())


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the five research tools on ``mcp``."""
    mcp.add_task_kind(ResearchTasks(deps))
    tools = ResearchTools(deps)
    run = RUN.format(window=tools.window)
    mcp.tool(description=run, nature=FOLLOWS, annotations=CREATES)(tools.run_research)
    mcp.tool(description=WAIT, annotations=READ_ONLY)(tools.wait_for_research)
    mcp.tool(description=GET, annotations=READ_ONLY)(tools.get_research)
    mcp.tool(description=LIST, annotations=READ_ONLY)(tools.list_research)
    mcp.tool(description=CANCEL, annotations=DESTRUCTIVE)(tools.cancel_research)
