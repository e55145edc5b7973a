"""The 'runs' toolset: look up, list and cancel runs, one at a time or in batches.

Also the ``tinyfish://runs/{run_id}`` resource, the same run as JSON for clients that
attach resources to the conversation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, ContentBlock, ImageContent, ToolAnnotations
from pydantic import Field, ValidationError

from ..upstream.errors import NotFoundError, UpstreamError
from ..upstream.models import CancelResult, ListRunsParams, Run
from ._schema import as_tool_result
from .context import ToolDeps
from .errors import invalid_input, tool_error, upstream_call
from .results import (
    CancelBatch,
    CancelInfo,
    RunDetail,
    RunPage,
    RunsBatch,
    bound_result,
    run_result,
    run_row,
    step_rows,
)

__all__ = ["register", "run_detail"]

RunIdArg = Annotated[str, Field(min_length=1)]
RunIds = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=100)]
Status = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]

_READS = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
_CANCELS = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)


def run_detail(run: Run, *, include_steps: bool, max_chars: int, offset: int = 0) -> RunDetail:
    """``run`` with its details, bounded to about ``max_chars`` of JSON."""
    base = run_result(run)
    detail = RunDetail(
        **base.model_dump(),
        goal=run.goal,
        url=run.url,
        created_at=run.created_at,
    )
    if include_steps:
        rows = step_rows(run.steps)
        # Steps may use at most half the budget; the rest is for the result.
        kept, size = 0, 0
        for row in rows:
            size += len(row.model_dump_json(exclude_none=True)) + 1
            if size > max_chars // 2:
                break
            kept += 1
        detail.steps = rows[:kept]
        if kept < len(rows):
            note = f"Showing the first {kept} of {len(rows)} steps (raise max_chars for more)."
            detail.next_step = f"{detail.next_step} {note}" if detail.next_step else note
    out = bound_result(detail, max_chars, offset)
    assert isinstance(out, RunDetail)
    return out


def _screenshot(data_url: str | None) -> ImageContent | None:
    """A step's ``data:image/...;base64,...`` screenshot as an image block."""
    if not data_url or not data_url.startswith("data:image/") or ";base64," not in data_url:
        return None
    header, data = data_url.split(",", 1)
    return ImageContent(type="image", data=data, mime_type=header[5:].split(";", 1)[0])


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


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register the runs tools and the run resource on ``mcp``."""
    default_chars = deps.settings.mcp_max_result_chars

    @mcp.tool(
        annotations=_READS,
        description=(
            "Get a run: status, result, error; steps and screenshots (50-100 KB images) on request. "
            "offset/max_chars page a clipped result."
        ),
    )
    async def get_run(
        run_id: RunIdArg,
        include_steps: bool = False,
        screenshots: bool = False,
        max_chars: Annotated[int | None, Field(ge=1000, le=200_000)] = None,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> Annotated[CallToolResult, RunDetail]:
        key = await deps.resolve_key()
        run = await upstream_call(
            f"getting run {run_id}", deps.client.get_run(key, run_id, screenshots=screenshots)
        )
        detail = run_detail(
            run,
            include_steps=include_steps or screenshots,
            max_chars=max_chars or default_chars,
            offset=offset,
        )
        images: list[ContentBlock] = []
        if screenshots:
            images = [img for step in run.steps if (img := _screenshot(step.screenshot)) is not None]
        return as_tool_result(detail, images)

    @mcp.tool(
        annotations=_READS,
        description=(
            "List runs, newest first, as short rows. goal: text search; times: ISO 8601; cursor: "
            "last next_cursor."
        ),
    )
    async def list_runs(
        status: Status | None = None,
        goal: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        sort_direction: Literal["asc", "desc"] | None = None,
        cursor: str | None = None,
        limit: Annotated[int | None, Field(ge=1, le=100)] = None,
    ) -> Annotated[CallToolResult, RunPage]:
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
        page = await upstream_call("listing runs", deps.client.list_runs(key, params))
        return as_tool_result(
            RunPage(
                runs=[run_row(run) for run in page.data],
                total=page.pagination.total,
                next_cursor=page.pagination.next_cursor,
            )
        )

    @mcp.tool(annotations=_CANCELS, description="Cancel a run (idempotent; a finished run stays as it is).")
    async def cancel_run(run_id: RunIdArg) -> Annotated[CallToolResult, CancelInfo]:
        key = await deps.resolve_key()
        res = await upstream_call(f"cancelling run {run_id}", deps.client.cancel_run(key, run_id))
        return as_tool_result(_cancel_info(res))

    @mcp.tool(annotations=_READS, description="Status of up to 100 runs (short rows, plus not_found ids).")
    async def get_runs(run_ids: RunIds) -> Annotated[CallToolResult, RunsBatch]:
        key = await deps.resolve_key()
        res = await upstream_call("getting the runs", deps.client.get_runs(key, run_ids))
        return as_tool_result(RunsBatch(runs=[run_row(run) for run in res.data], not_found=res.not_found))

    @mcp.tool(annotations=_CANCELS, description="Cancel up to 100 runs (idempotent; plus not_found ids).")
    async def cancel_runs(run_ids: RunIds) -> Annotated[CallToolResult, CancelBatch]:
        key = await deps.resolve_key()
        res = await upstream_call("cancelling the runs", deps.client.cancel_runs(key, run_ids))
        return as_tool_result(
            CancelBatch(results=[_cancel_info(r) for r in res.data], not_found=res.not_found)
        )

    @mcp.resource(
        "tinyfish://runs/{run_id}",
        name="run",
        description="A TinyFish run as JSON: status, result, error and steps.",
        mime_type="application/json",
    )
    async def read_run(run_id: str) -> str:
        try:
            key = await deps.resolve_key()
            run = await deps.client.get_run(key, run_id)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        except NotFoundError as exc:
            raise ResourceNotFoundError(str(tool_error(exc, action=f"reading run {run_id}"))) from None
        except UpstreamError as exc:
            raise ResourceError(str(tool_error(exc, action=f"reading run {run_id}"))) from None
        detail = run_detail(run, include_steps=True, max_chars=default_chars)
        return detail.model_dump_json(exclude_none=True)
