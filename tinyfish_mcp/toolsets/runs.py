"""The 'runs' toolset: look up, list and cancel runs, one at a time or in batches.

Also the ``tinyfish://runs/{run_id}`` resource, the same run as JSON for clients that
attach resources to the conversation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, ContentBlock, ImageContent
from pydantic import Field, ValidationError

from ..pipeline.catalog import Catalog
from ..runtime.annotations import CANCELS_RUNS, READS_RUNS
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, shown_id, tool_error, upstream_call
from ..runtime.results import (
    CancelBatch,
    CancelInfo,
    RunDetail,
    RunPage,
    RunsBatch,
    StepPage,
    bound_result,
    run_result,
    run_row,
    step_rows,
)
from ..runtime.schema import as_tool_result
from ..upstream.errors import NotFoundError, UpstreamError
from ._owned_lists import owned_key, owned_page

if TYPE_CHECKING:
    from ..upstream.models import CancelResult, ListRunsParams, Run

__all__ = ["RunsTools", "register", "run_detail", "step_page"]

RunIdArg = Annotated[str, Field(min_length=1)]
MAX_IDS = 100  # what /v1/runs/batch and /batch/cancel take (TinyFish's hosted server stops at 8)
DEFAULT_STEPS = 20
MAX_SCREENSHOTS = 5
RunIds = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=MAX_IDS)]
Status = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]


def run_detail(run: Run, *, max_chars: int, offset: int = 0) -> RunDetail:
    """``run`` with its details, bounded to about ``max_chars`` of JSON."""
    base = run_result(run)
    detail = RunDetail(
        **base.model_dump(),
        goal=run.goal,
        url=run.url,
        created_at=run.created_at,
        video_url=run.video_url,
    )
    out = bound_result(detail, max_chars, offset)
    assert isinstance(out, RunDetail)
    return out


def step_page(run: Run, *, offset: int, limit: int, max_chars: int) -> StepPage:
    """Steps ``offset`` to ``offset + limit`` of ``run``, within about ``max_chars`` of JSON."""
    rows = step_rows(run.steps[offset : offset + limit], offset)
    kept, size = 0, 300  # room for the page's own fields and note
    for row in rows:
        size += len(row.model_dump_json()) + 1
        if size > max_chars and kept:
            break
        kept += 1
    end = offset + kept
    page = StepPage(
        run_id=run.run_id,
        status=run.status,
        total_steps=len(run.steps),
        offset=offset,
        steps=rows[:kept],
    )
    if end < len(run.steps):
        page.next_offset = end
        page.next_step = f"More steps: get_steps(runId='{run.run_id}', offset={end})."
    elif not run.is_terminal:
        page.next_step = "The run is still going; later steps appear as it works (wait_for_run follows it)."
    return page


def _screenshot(data_url: str | None) -> ImageContent | None:
    """A step's ``data:image/...;base64,...`` screenshot as an image block."""
    if not data_url or not data_url.startswith("data:image/") or ";base64," not in data_url:
        return None
    header, data = data_url.split(",", 1)
    return ImageContent(type="image", data=data, mime_type=header[5:].split(";", 1)[0])


def _moment(value: object) -> datetime | None:
    """An ISO 8601 time (or a datetime) as an aware datetime; None when absent or unreadable."""
    if value is None:
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _cancel_info(res: CancelResult) -> CancelInfo:
    return CancelInfo(
        run_id=res.run_id, status=res.status, cancelled_at=res.cancelled_at, message=res.message
    )


def _check_time(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(
            f"Invalid {name} {value!r}: use ISO 8601 like 2026-01-31 or 2026-01-31T00:00:00Z."
        ) from None


GET_RUN_DESCRIPTION = (
    "Get a run by id: status, result, error, goal, timestamps. Free. A long result is clipped: "
    "read on with offset (and a larger max_chars)."
)
STEPS_HINT = " Steps and screenshots: get_steps."  # where get_steps is served (not on the hosted surface)
STEPS_DESCRIPTION = (
    "The steps a run's agent took (what it did, when, how long), a page at a time from offset. "
    f"Free. screenshots=true adds each step's screenshot as an image (50-100 KB each, so at most "
    f"{MAX_SCREENSHOTS} steps per call): use it to see why a run failed or missed its goal."
)
LIST_DESCRIPTION = (
    "List runs, newest first, as short rows: find a run whose id you lost. Free. goal: text "
    "search; status filters; created_after/created_before: ISO 8601; cursor: the last next_cursor."
)
CANCEL_DESCRIPTION = (
    "Stop a running or pending run, which stops its billing (idempotent; a finished run stays as it is)."
)
BATCH_STATUS_DESCRIPTION = (
    f"Status of up to {MAX_IDS} runs at once{{source}}, as short rows, plus the "
    "ids not found. Free; poll every 30-60 s until all are COMPLETED, FAILED or CANCELLED."
)
BATCH_CANCEL_DESCRIPTION = f"Stop up to {MAX_IDS} runs at once (idempotent), plus the ids not found."
RUN_RESOURCE = "tinyfish://runs/{run_id}"
RUN_RESOURCE_DESCRIPTION = "A TinyFish run as JSON: status, result, error and steps."


class RunsTools:
    """The runs toolset's tools and run resource, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.default_chars = deps.settings.mcp_max_result_chars

    async def get_run(
        self,
        id: RunIdArg,
        max_chars: Annotated[int | None, Field(ge=1000, le=200_000)] = None,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> Annotated[CallToolResult, RunDetail]:
        """One run with its details (see GET_RUN_DESCRIPTION)."""
        deps = self.deps
        key = await owned_key(deps, "run", id, action=f"getting run {shown_id(id)}")
        run = await upstream_call(f"getting run {shown_id(id)}", deps.client.get_run(key, id))
        return as_tool_result(run_detail(run, max_chars=max_chars or self.default_chars, offset=offset))

    async def get_steps(
        self,
        runId: RunIdArg,
        screenshots: bool = False,
        offset: Annotated[int, Field(ge=0)] = 0,
        limit: Annotated[int | None, Field(ge=1, le=100)] = None,
    ) -> Annotated[CallToolResult, StepPage]:
        """A page of a run's steps, with screenshots if asked (see STEPS_DESCRIPTION)."""
        deps = self.deps
        action = f"getting the steps of run {shown_id(runId)}"
        key = await owned_key(deps, "run", runId, action=action)
        run = await upstream_call(action, deps.client.get_run(key, runId, screenshots=screenshots))
        count = limit or DEFAULT_STEPS
        if screenshots:
            count = min(count, MAX_SCREENSHOTS)
        page = step_page(run, offset=offset, limit=count, max_chars=self.default_chars)
        images: list[ContentBlock] = []
        if screenshots:
            shown = run.steps[page.offset : page.offset + len(page.steps)]
            images = [img for step in shown if (img := _screenshot(step.screenshot)) is not None]
        return as_tool_result(page, images)

    async def list_runs(
        self,
        status: Status | None = None,
        goal: str | None = None,
        limit: Annotated[int | None, Field(ge=1, le=100)] = None,
        cursor: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        sort_direction: Literal["asc", "desc"] | None = None,
    ) -> Annotated[CallToolResult, RunPage]:
        """A page of runs as short rows (see LIST_DESCRIPTION)."""
        from ..upstream.models import ListRunsParams  # the payload models load on first use, not at start-up

        deps = self.deps
        key = await deps.resolve_key()
        _check_time("created_after", created_after)
        _check_time("created_before", created_before)
        try:
            params = ListRunsParams(
                status=status,
                goal=goal,
                created_after=created_after,
                created_before=created_before,
                sort_direction=sort_direction,
                cursor=cursor,
                limit=limit,
            )
        except ValidationError as exc:
            raise invalid_input(exc) from None
        if deps.ownership is not None:
            return as_tool_result(await self._own_runs(key, params))
        page = await upstream_call("listing runs", deps.client.list_runs(key, params))
        return as_tool_result(
            RunPage(
                runs=[run_row(run) for run in page.data],
                total=page.pagination.total,
                next_cursor=page.pagination.next_cursor,
            )
        )

    async def cancel_run(self, id: RunIdArg) -> Annotated[CallToolResult, CancelInfo]:
        """Cancel one run (see CANCEL_DESCRIPTION)."""
        deps = self.deps
        key = await owned_key(deps, "run", id, action=f"cancelling run {shown_id(id)}")
        res = await upstream_call(f"cancelling run {shown_id(id)}", deps.client.cancel_run(key, id))
        return as_tool_result(_cancel_info(res))

    async def batch_status(self, run_ids: RunIds) -> Annotated[CallToolResult, RunsBatch]:
        """The status of many runs (see BATCH_STATUS_DESCRIPTION)."""
        key = await self.deps.resolve_key()
        mine, others = await self._split(key, run_ids)
        if not mine:
            return as_tool_result(RunsBatch(runs=[], not_found=others))
        res = await upstream_call("getting the runs", self.deps.client.get_runs(key, mine))
        runs = [run_row(run) for run in res.data]
        return as_tool_result(RunsBatch(runs=runs, not_found=[*res.not_found, *others]))

    async def batch_cancel(self, run_ids: RunIds) -> Annotated[CallToolResult, CancelBatch]:
        """Cancel many runs (see BATCH_CANCEL_DESCRIPTION)."""
        key = await self.deps.resolve_key()
        mine, others = await self._split(key, run_ids)
        if not mine:
            return as_tool_result(CancelBatch(results=[], not_found=others))
        res = await upstream_call("cancelling the runs", self.deps.client.cancel_runs(key, mine))
        return as_tool_result(
            CancelBatch(results=[_cancel_info(r) for r in res.data], not_found=[*res.not_found, *others])
        )

    async def read_run(self, run_id: str) -> str:
        """The ``tinyfish://runs/{run_id}`` resource: the run and its steps as JSON."""
        deps = self.deps
        action = f"reading run {shown_id(run_id)}"
        try:
            key = await deps.resolve_key()
            await deps.require_owned(key, "run", run_id)
            run = await deps.client.get_run(key, run_id)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        except NotFoundError as exc:
            raise ResourceNotFoundError(str(tool_error(exc, action=action))) from None
        except UpstreamError as exc:
            raise ResourceError(str(tool_error(exc, action=action))) from None
        half = self.default_chars // 2
        detail = run_detail(run, max_chars=half)
        steps = step_page(run, offset=0, limit=len(run.steps) or 1, max_chars=half)
        data = detail.model_dump(mode="json")
        data["steps"] = [row.model_dump(mode="json") for row in steps.steps]
        if steps.next_step:
            data["steps_note"] = steps.next_step
        return json.dumps(data, ensure_ascii=False)

    async def _split(self, key: str, run_ids: list[str]) -> tuple[list[str], list[str]]:
        """The caller's run ids and the others (reported as not found), where users share a key."""
        if self.deps.ownership is None:
            return run_ids, []
        return await self.deps.ownership.split(key, "run", run_ids)

    async def _own_runs(self, key: str, params: ListRunsParams) -> RunPage:
        """list_runs where users share a key: the caller's runs, filtered here, paged by our cursor."""
        goal = (params.goal or "").casefold()
        after = _moment(params.created_after)
        before = _moment(params.created_before)

        def keep(run: Run) -> bool:
            created = _moment(run.created_at)
            return (
                (params.status is None or run.status == params.status)
                and (not goal or goal in (run.goal or "").casefold())
                and (after is None or (created is not None and created >= after))
                and (before is None or (created is not None and created <= before))
            )

        async def fetch(ids: list[str]) -> dict[str, Run]:
            res = await upstream_call("listing runs", self.deps.client.get_runs(key, ids))
            return {run.run_id: run for run in res.data}

        filtered = any(v is not None for v in (params.status, params.goal, after, before))
        page = await owned_page(
            self.deps,
            key,
            "run",
            cursor=params.cursor,
            limit=params.limit or 20,
            fetch=fetch,
            keep=keep,
            newest_first=params.sort_direction != "asc",
            filtered=filtered,
        )
        return RunPage(
            runs=[run_row(run) for run in page.items], total=page.total, next_cursor=page.next_cursor
        )


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the runs tools and the run resource on ``mcp``."""
    tools = RunsTools(deps)
    get_run = GET_RUN_DESCRIPTION + ("" if deps.settings.mcp_surface == "hosted" else STEPS_HINT)
    mcp.tool(annotations=READS_RUNS, description=get_run)(tools.get_run)
    mcp.tool(annotations=READS_RUNS, description=STEPS_DESCRIPTION)(tools.get_steps)
    mcp.tool(annotations=READS_RUNS, description=LIST_DESCRIPTION)(tools.list_runs)
    mcp.tool(annotations=CANCELS_RUNS, description=CANCEL_DESCRIPTION)(tools.cancel_run)
    # batch_create is the agent toolset's, and not a hosted tool: named only where it is served.
    batches = "agent" in deps.settings.mcp_toolsets and deps.settings.mcp_surface != "hosted"
    batch_status = BATCH_STATUS_DESCRIPTION.format(source=" (e.g. from batch_create)" if batches else "")
    mcp.tool(annotations=READS_RUNS, description=batch_status)(tools.batch_status)
    mcp.tool(annotations=CANCELS_RUNS, description=BATCH_CANCEL_DESCRIPTION)(tools.batch_cancel)
    mcp.resource(
        RUN_RESOURCE, name="run", description=RUN_RESOURCE_DESCRIPTION, mime_type="application/json"
    )(tools.read_run)
