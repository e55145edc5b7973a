"""The 'datasets' toolset: plan a dataset, create and populate it, read its rows.

Population is long-running billed work and follows the run tools' contract: each row,
log line and status of the run's event stream is a progress notification; the call
window returns the dataset still populating (``populate_dataset`` on the same dataset
follows it again rather than starting another run); a client cancel cancels the run
upstream; a dropped stream reconnects (rows already reported are not repeated), then
falls back to polling the dataset.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from ..follow import Closed, Job, Look, Progress, follow, within_window
from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import CREATES, DESTRUCTIVE, READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import explain, invalid_input, shown_id, upstream_call
from ..runtime.schema import OutputModel, as_tool_result
from ..upstream.datasets import IN_PROGRESS, Dataset, DatasetCreateRequest, DatasetEvent
from ..upstream.errors import (
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from ._owned_lists import fetch_each, owned_page

__all__ = ["DatasetResult", "register"]

log = logging.getLogger(__name__)

FIND = "list_datasets shows your datasets"
MAX_RECONNECTS = 3
_DROPPED = (UpstreamConnectionError, UpstreamTimeoutError, UpstreamProtocolError, ServerError, RateLimitError)
IdArg = Annotated[str, Field(min_length=1, description="dataset_id from create_dataset or list_datasets")]
MaxWait = Annotated[float | None, Field(ge=1, le=600)]
Rows = Annotated[int | None, Field(ge=1, le=250, description="rows to fill to (1-250)")]


class DatasetResult(OutputModel):
    dataset_id: str
    name: str | None = None
    status: str
    row_count: int
    target_rows: int | None = None
    run_id: str | None = None
    run_status: str | None = None
    error: str | None = None
    columns: list[str] | None = None
    rows: list[dict[str, Any]] | None = None
    next_cursor: str | None = None
    next_step: str | None = None


class DatasetRows(OutputModel):
    datasets: list[DatasetResult]
    next_cursor: str | None = None


class PlannedSpec(OutputModel):
    spec: dict[str, Any]
    next_step: str


def _summary(dataset: Dataset) -> DatasetResult:
    run = dataset.run
    out = DatasetResult(
        dataset_id=dataset.id,
        name=dataset.name or None,
        status=dataset.status,
        row_count=dataset.row_count,
        target_rows=dataset.target_rows,
        run_id=run.id if run else None,
        run_status=run.status if run else None,
        error=run.error if run else None,
        columns=[str(c.get("name")) for c in dataset.spec.columns] if dataset.spec else None,
    )
    if run is not None and run.status in IN_PROGRESS:
        out.next_step = (
            f"Still populating: populate_dataset(dataset_id='{dataset.id}') follows the run again "
            "(it does not start another); read_dataset reads the rows so far."
        )
    else:
        out.next_step = f"Read the rows with read_dataset(dataset_id='{dataset.id}')."
    return out


@dataclass
class PopulationWork:
    """A dataset's population run as the follower's work: the stream reconnects, rows once."""

    deps: ToolDeps
    key: str
    dataset_id: str
    run_id: str
    status: str | None = None
    rows_seen: set[str] = field(default_factory=set)
    noun: str = "dataset population"
    reconnects: int = MAX_RECONNECTS
    dropped_note: str = "The event stream dropped; reconnecting"
    polling_note: str = "The event stream keeps dropping; following the dataset by polling"
    transient: tuple[type[UpstreamError], ...] = ()  # a failed look ends the call at once

    def ident(self) -> str | None:
        return self.run_id

    def open(self) -> AbstractAsyncContextManager[AsyncIterator[DatasetEvent]]:
        return self.deps.client.datasets.events(self.key, self.dataset_id, self.run_id)

    async def on_event(self, event: DatasetEvent, progress: Progress) -> DatasetResult | None:
        if event.event == "done" or await self._report(event, progress):
            return await self._finished()
        return None

    async def _report(self, event: DatasetEvent, progress: Progress) -> bool:
        """Report an event once; True when the run has ended."""
        if event.event == "status":
            ended = event.status not in IN_PROGRESS
            if event.status != self.status:
                self.status = event.status
                detail = f" ({event.error})" if event.error else ""
                await progress(f"Population run {self.run_id} is {event.status}{detail}")
            else:
                await progress(None)
            return ended
        if event.event == "row" and event.row_id:
            if event.row_id in self.rows_seen:
                return False
            self.rows_seen.add(event.row_id)
            verb = "Removed" if event.deleted else "Row"
            first = next(iter((event.data or {}).values()), "")
            await progress(f"{verb} {len(self.rows_seen)}: {str(first)[:80]}")
        elif event.event == "log" and event.text:
            await progress(event.text[:160])
        return False

    async def closed(self, progress: Progress) -> DatasetResult | Closed:
        return await self._finished()

    async def failed(self, exc: UpstreamError) -> None:
        if not isinstance(exc, _DROPPED):
            raise await explain(exc, action="following the population run", find=FIND) from None

    async def look(self, progress: Progress) -> DatasetResult | None:
        dataset = await self.deps.client.datasets.get(self.key, self.dataset_id)
        if dataset.run is None or dataset.run.status not in IN_PROGRESS:
            return _summary(dataset)
        await progress(f"{dataset.row_count} rows so far")
        return None

    async def poll_error(self, exc: UpstreamError) -> Exception:
        return await explain(exc, action="checking on the dataset", find=FIND)

    async def _finished(self) -> DatasetResult:
        dataset = await upstream_call(
            "reading the dataset", self.deps.client.datasets.get(self.key, self.dataset_id), find=FIND
        )
        return _summary(dataset)


async def _watch_population(
    deps: ToolDeps, key: str, dataset: Dataset, ctx: Context[Any, Any], window: float
) -> CallToolResult:
    if dataset.run is None or dataset.run.status not in IN_PROGRESS:
        return as_tool_result(_summary(dataset))
    work = PopulationWork(deps, key, dataset.id, dataset.run.id, status=dataset.run.status)
    progress = Progress(ctx)
    await progress(f"Dataset {dataset.id}: population run {dataset.run.id} is {dataset.run.status}")
    job: Job[DatasetResult] = Job(
        noun="dataset population",
        ident=work.ident,
        cancel=lambda run_id: deps.client.datasets.cancel_run(key, dataset.id, run_id),
        check=lambda _: f"follow it with populate_dataset(dataset_id='{dataset.id}')",
        maybe_started="Check list_datasets before creating it again.",
    )
    done = await within_window(deps.settings, job, lambda: follow(deps.settings, work, progress), window)
    if done is None:
        latest = await upstream_call(
            "reading the dataset", deps.client.datasets.get(key, dataset.id), find=FIND
        )
        done = _summary(latest)
    return as_tool_result(done)


async def _require(deps: ToolDeps, key: str, dataset_id: str) -> None:
    """Not found, as TinyFish says it, unless the caller owns the dataset (shared key)."""
    await upstream_call(
        f"reading dataset {shown_id(dataset_id)}", deps.require_owned(key, "dataset", dataset_id), find=FIND
    )


async def _own_datasets(deps: ToolDeps, key: str, *, cursor: str | None, limit: int) -> DatasetRows:
    """list_datasets where users share a key: the caller's datasets, paged by our cursor."""

    async def fetch(ids: list[str]) -> dict[str, Dataset]:
        return await fetch_each(ids, lambda ident: deps.client.datasets.get(key, ident))

    page = await upstream_call(
        "listing datasets",
        owned_page(deps, key, "dataset", cursor=cursor, limit=limit, fetch=fetch, chunk=20),
    )
    return DatasetRows(datasets=[_summary(d) for d in page.items], next_cursor=page.next_cursor)


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the dataset tools on ``mcp``."""
    window = deps.settings.mcp_call_window
    budget = deps.settings.mcp_max_result_chars
    follows = Nature(billed=True, long_running=True, task="dataset")
    mcp.add_task_kind(DatasetTasks(deps))

    @mcp.tool(
        description="Design a dataset's columns from a prompt (nothing is created). Pass the spec, "
        "edited if needed, to create_dataset.",
        annotations=READ_ONLY,
    )
    async def plan_dataset(
        prompt: Annotated[str, Field(min_length=1, max_length=4000)],
    ) -> Annotated[CallToolResult, PlannedSpec]:
        key = await deps.resolve_key()
        planned = await upstream_call("planning the dataset", deps.client.datasets.plan(key, prompt))
        return as_tool_result(
            PlannedSpec(
                spec=planned.spec.model_dump(mode="json", exclude_none=True),
                next_step="create_dataset(spec=...)",
            )
        )

    @mcp.tool(
        description="Create a dataset from a prompt or a spec (one of them) and populate it with agent "
        f"runs (billed per step) to target_rows, rows arriving as progress. Waits max_wait_seconds "
        f"(default {window:g}); if still populating, call populate_dataset(dataset_id) to follow it.",
        annotations=CREATES,
        nature=follows,
    )
    async def create_dataset(
        ctx: Context[Any, Any],
        prompt: str | None = None,
        spec: dict[str, Any] | None = None,
        target_rows: Rows = None,
        populate: bool = True,
        max_wait_seconds: MaxWait = None,
    ) -> Annotated[CallToolResult, DatasetResult]:
        if (prompt is None) == (spec is None):
            raise ToolError("Give exactly one of prompt or spec (plan_dataset makes a spec from a prompt).")
        try:
            request = DatasetCreateRequest.model_validate(
                {"prompt": prompt, "spec": spec, "target_rows": target_rows, "populate": populate}
            )
        except ValidationError as exc:
            raise invalid_input(exc) from None
        key = await deps.resolve_key()
        dataset = await upstream_call(
            "creating the dataset (it may exist already: check list_datasets before retrying)",
            deps.client.datasets.create(key, request),
            find=FIND,
        )
        await deps.record_owned(key, "dataset", [dataset.id])
        return await _watch_population(deps, key, dataset, ctx, max_wait_seconds or window)

    @mcp.tool(
        description="Populate a dataset (billed), or follow its population run if one is going; rows "
        "arrive as progress. reset starts from no rows.",
        annotations=CREATES,
        nature=follows,
    )
    async def populate_dataset(
        dataset_id: IdArg,
        ctx: Context[Any, Any],
        target_rows: Rows = None,
        reset: bool = False,
        max_wait_seconds: MaxWait = None,
    ) -> Annotated[CallToolResult, DatasetResult]:
        key = await deps.resolve_key()
        await _require(deps, key, dataset_id)
        dataset = await upstream_call(
            f"reading dataset {shown_id(dataset_id)}", deps.client.datasets.get(key, dataset_id), find=FIND
        )
        if dataset.run is None or dataset.run.status not in IN_PROGRESS:
            dataset = await upstream_call(
                f"starting to populate dataset {shown_id(dataset_id)} (a run may have started: call "
                "populate_dataset again to follow it, it never starts a second one while one is going)",
                deps.client.datasets.populate(key, dataset_id, reset=reset or None, target_rows=target_rows),
                find=FIND,
            )
        return await _watch_population(deps, key, dataset, ctx, max_wait_seconds or window)

    @mcp.tool(description="A dataset's status and rows, paged with next_cursor. Free.", annotations=READ_ONLY)
    async def read_dataset(
        dataset_id: IdArg,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Field(ge=1, le=250)] = 50,
    ) -> Annotated[CallToolResult, DatasetResult]:
        key = await deps.resolve_key()
        await _require(deps, key, dataset_id)
        dataset = await upstream_call(
            f"reading dataset {shown_id(dataset_id)}", deps.client.datasets.get(key, dataset_id), find=FIND
        )
        page = await upstream_call(
            f"reading the rows of dataset {shown_id(dataset_id)}",
            deps.client.datasets.rows(key, dataset_id, limit=limit, after=cursor),
            find=FIND,
        )
        out = _summary(dataset)
        rows: list[dict[str, Any]] = []
        used = 0
        for row in page.rows:
            used += len(str(row.data))
            if rows and used > budget:
                break
            rows.append(row.data)
        out.columns = [c.name for c in page.columns] or out.columns
        out.rows = rows
        more = len(rows) < len(page.rows) or page.next_cursor is not None
        out.next_cursor = page.rows[len(rows) - 1].id if more and rows else None
        if out.next_cursor:
            out.next_step = f"More rows: read_dataset(dataset_id='{dataset_id}', cursor='{out.next_cursor}')."
        return as_tool_result(out)

    @mcp.tool(
        description="Your datasets with status and row count, newest first. Free.", annotations=READ_ONLY
    )
    async def list_datasets(
        cursor: str | None = None, limit: Annotated[int, Field(ge=1, le=100)] = 20
    ) -> Annotated[CallToolResult, DatasetRows]:
        key = await deps.resolve_key()
        if deps.ownership is not None:
            return as_tool_result(await _own_datasets(deps, key, cursor=cursor, limit=limit))
        listed = await upstream_call(
            "listing datasets", deps.client.datasets.list(key, limit=limit, cursor=cursor)
        )
        page = listed.pagination
        return as_tool_result(
            DatasetRows(
                datasets=[_summary(d) for d in listed.data[:limit]],
                next_cursor=page.next_cursor if page else None,
            )
        )

    @mcp.tool(
        description="Stop a dataset's population run; rows already found stay.",
        annotations=DESTRUCTIVE,
    )
    async def cancel_dataset_run(dataset_id: IdArg) -> Annotated[CallToolResult, DatasetResult]:
        key = await deps.resolve_key()
        await _require(deps, key, dataset_id)
        dataset = await upstream_call(
            f"reading dataset {shown_id(dataset_id)}", deps.client.datasets.get(key, dataset_id), find=FIND
        )
        if dataset.run is not None and dataset.run.status in IN_PROGRESS:
            await upstream_call(
                f"cancelling the population of dataset {shown_id(dataset_id)}",
                deps.client.datasets.cancel_run(key, dataset_id, dataset.run.id),
                find=FIND,
            )
            dataset = await upstream_call(
                "reading the dataset", deps.client.datasets.get(key, dataset_id), find=FIND
            )
        return as_tool_result(_summary(dataset))

    @mcp.tool(
        description="Delete a dataset and its rows. Only when the user asks.",
        annotations=DESTRUCTIVE,
    )
    async def delete_dataset(dataset_id: IdArg) -> Annotated[CallToolResult, DatasetResult]:
        key = await deps.resolve_key()
        await _require(deps, key, dataset_id)
        deleted = await upstream_call(
            f"deleting dataset {shown_id(dataset_id)}",
            deps.client.datasets.delete(key, dataset_id),
            find=FIND,
        )
        return as_tool_result(
            DatasetResult(dataset_id=deleted.id, status="deleted" if deleted.deleted else "kept", row_count=0)
        )


@dataclass
class DatasetTasks:
    """Dataset populations as MCP tasks (``follow.TaskKind``)."""

    deps: ToolDeps
    name: str = "dataset"

    def ident(self, structured: Mapping[str, Any]) -> str | None:
        dataset_id = structured.get("dataset_id")
        return str(dataset_id) if dataset_id else None

    async def look(self, key: str, ident: str) -> Look:
        dataset = await self.deps.client.datasets.get(key, ident)
        message = f"{dataset.row_count} rows so far"
        if dataset.run is not None and dataset.run.status in IN_PROGRESS:
            return Look("working", message)
        return Look("completed", message, result=as_tool_result(_summary(dataset)))

    async def cancel(self, key: str, ident: str) -> None:
        dataset = await self.deps.client.datasets.get(key, ident)
        if dataset.run is not None and dataset.run.status in IN_PROGRESS:
            await self.deps.client.datasets.cancel_run(key, ident, dataset.run.id)
