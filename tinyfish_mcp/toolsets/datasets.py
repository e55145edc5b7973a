"""The 'datasets' toolset: plan a dataset, create and populate it, read its rows.

Population is long-running billed work and follows the run tools' contract: each row,
log line and status of the run's event stream is a progress notification; the call
window returns the dataset still populating (``populate_dataset`` on the same dataset
follows it again rather than starting another run); a client cancel cancels the run
upstream; a dropped stream reconnects (rows already reported are not repeated), then
falls back to polling the dataset.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from ..follow import Job, Progress, follow, within_window
from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import CREATES, DESTRUCTIVE, READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, shown_id, upstream_call
from ..runtime.schema import OutputModel, as_tool_result
from ..upstream.datasets import IN_PROGRESS, Dataset, DatasetCreateRequest
from ._dataset_work import FIND, DatasetResult, DatasetTasks, PopulationWork, dataset_summary
from ._followed import MaxWait
from ._owned_lists import fetch_each, owned_key, owned_page

__all__ = ["DatasetResult", "DatasetTools", "register"]

IdArg = Annotated[str, Field(min_length=1, description="dataset_id from create_dataset or list_datasets")]
Rows = Annotated[int | None, Field(ge=1, le=250, description="rows to fill to (1-250)")]
FOLLOWS = Nature(billed=True, long_running=True, task="dataset")

PLAN = (
    "Design a dataset's columns from a prompt (nothing is created). Pass the spec, "
    "edited if needed, to create_dataset."
)
CREATE = (
    "Create a dataset from a prompt or a spec (one of them) and populate it with agent "
    "runs (billed per step) to target_rows, rows arriving as progress. Waits max_wait_seconds "
    "(default {window:g}); if still populating, call populate_dataset(dataset_id) to follow it."
)
POPULATE = (
    "Populate a dataset (billed), or follow its population run if one is going; rows "
    "arrive as progress. reset starts from no rows."
)
READ = "A dataset's status and rows, paged with next_cursor. Free."
LIST = "Your datasets with status and row count, newest first. Free."
CANCEL = "Stop a dataset's population run; rows already found stay."
DELETE = "Delete a dataset and its rows. Only when the user asks."


class DatasetRows(OutputModel):
    datasets: list[DatasetResult]
    next_cursor: str | None = None


class PlannedSpec(OutputModel):
    spec: dict[str, Any]
    next_step: str


class DatasetTools:
    """The dataset toolset's tools, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.window = deps.settings.mcp_call_window
        self.budget = deps.settings.mcp_max_result_chars

    async def plan_dataset(
        self,
        prompt: Annotated[str, Field(min_length=1, max_length=4000)],
    ) -> Annotated[CallToolResult, PlannedSpec]:
        key = await self.deps.resolve_key()
        planned = await upstream_call("planning the dataset", self.deps.client.datasets.plan(key, prompt))
        return as_tool_result(
            PlannedSpec(
                spec=planned.spec.model_dump(mode="json", exclude_none=True),
                next_step="create_dataset(spec=...)",
            )
        )

    async def create_dataset(
        self,
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
        key = await self.deps.resolve_key()
        dataset = await upstream_call(
            "creating the dataset (it may exist already: check list_datasets before retrying)",
            self.deps.client.datasets.create(key, request),
            find=FIND,
        )
        await self.deps.record_owned(key, "dataset", [dataset.id])
        return await self._watch(key, dataset, ctx, max_wait_seconds or self.window)

    async def populate_dataset(
        self,
        dataset_id: IdArg,
        ctx: Context[Any, Any],
        target_rows: Rows = None,
        reset: bool = False,
        max_wait_seconds: MaxWait = None,
    ) -> Annotated[CallToolResult, DatasetResult]:
        key, dataset = await self._owned(dataset_id)
        if dataset.run is None or dataset.run.status not in IN_PROGRESS:
            dataset = await upstream_call(
                f"starting to populate dataset {shown_id(dataset_id)} (a run may have started: call "
                "populate_dataset again to follow it, it never starts a second one while one is going)",
                self.deps.client.datasets.populate(
                    key, dataset_id, reset=reset or None, target_rows=target_rows
                ),
                find=FIND,
            )
        return await self._watch(key, dataset, ctx, max_wait_seconds or self.window)

    async def read_dataset(
        self,
        dataset_id: IdArg,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Field(ge=1, le=250)] = 50,
    ) -> Annotated[CallToolResult, DatasetResult]:
        key, dataset = await self._owned(dataset_id)
        page = await upstream_call(
            f"reading the rows of dataset {shown_id(dataset_id)}",
            self.deps.client.datasets.rows(key, dataset_id, limit=limit, after=cursor),
            find=FIND,
        )
        out = dataset_summary(dataset)
        rows: list[dict[str, Any]] = []
        used = 0
        for row in page.rows:
            used += len(str(row.data))
            if rows and used > self.budget:
                break
            rows.append(row.data)
        out.columns = [c.name for c in page.columns] or out.columns
        out.rows = rows
        more = len(rows) < len(page.rows) or page.next_cursor is not None
        out.next_cursor = page.rows[len(rows) - 1].id if more and rows else None
        if out.next_cursor:
            out.next_step = f"More rows: read_dataset(dataset_id='{dataset_id}', cursor='{out.next_cursor}')."
        return as_tool_result(out)

    async def list_datasets(
        self, cursor: str | None = None, limit: Annotated[int, Field(ge=1, le=100)] = 20
    ) -> Annotated[CallToolResult, DatasetRows]:
        key = await self.deps.resolve_key()
        if self.deps.ownership is not None:
            return as_tool_result(await self._own_datasets(key, cursor=cursor, limit=limit))
        listed = await upstream_call(
            "listing datasets", self.deps.client.datasets.list(key, limit=limit, cursor=cursor)
        )
        page = listed.pagination
        return as_tool_result(
            DatasetRows(
                datasets=[dataset_summary(d) for d in listed.data[:limit]],
                next_cursor=page.next_cursor if page else None,
            )
        )

    async def cancel_dataset_run(self, dataset_id: IdArg) -> Annotated[CallToolResult, DatasetResult]:
        key, dataset = await self._owned(dataset_id)
        if dataset.run is not None and dataset.run.status in IN_PROGRESS:
            await upstream_call(
                f"cancelling the population of dataset {shown_id(dataset_id)}",
                self.deps.client.datasets.cancel_run(key, dataset_id, dataset.run.id),
                find=FIND,
            )
            dataset = await upstream_call(
                "reading the dataset", self.deps.client.datasets.get(key, dataset_id), find=FIND
            )
        return as_tool_result(dataset_summary(dataset))

    async def delete_dataset(self, dataset_id: IdArg) -> Annotated[CallToolResult, DatasetResult]:
        key = await self._owned_key(dataset_id)
        deleted = await upstream_call(
            f"deleting dataset {shown_id(dataset_id)}",
            self.deps.client.datasets.delete(key, dataset_id),
            find=FIND,
        )
        return as_tool_result(
            DatasetResult(dataset_id=deleted.id, status="deleted" if deleted.deleted else "kept", row_count=0)
        )

    async def _owned_key(self, dataset_id: str) -> str:
        """The caller's key, once the dataset is known to be theirs (not found otherwise)."""
        action = f"reading dataset {shown_id(dataset_id)}"
        return await owned_key(self.deps, "dataset", dataset_id, action=action, find=FIND)

    async def _owned(self, dataset_id: str) -> tuple[str, Dataset]:
        """The caller's key and their dataset, read upstream."""
        key = await self._owned_key(dataset_id)
        action = f"reading dataset {shown_id(dataset_id)}"
        return key, await upstream_call(action, self.deps.client.datasets.get(key, dataset_id), find=FIND)

    async def _watch(
        self, key: str, dataset: Dataset, ctx: Context[Any, Any], window: float
    ) -> CallToolResult:
        """Follow the dataset's population run within ``window``; the dataset as it then stands."""
        if dataset.run is None or dataset.run.status not in IN_PROGRESS:
            return as_tool_result(dataset_summary(dataset))
        deps = self.deps
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
            done = dataset_summary(latest)
        return as_tool_result(done)

    async def _own_datasets(self, key: str, *, cursor: str | None, limit: int) -> DatasetRows:
        """list_datasets where users share a key: the caller's datasets, paged by our cursor."""

        async def fetch(ids: list[str]) -> dict[str, Dataset]:
            return await fetch_each(ids, lambda ident: self.deps.client.datasets.get(key, ident))

        page = await upstream_call(
            "listing datasets",
            owned_page(self.deps, key, "dataset", cursor=cursor, limit=limit, fetch=fetch, chunk=20),
        )
        return DatasetRows(datasets=[dataset_summary(d) for d in page.items], next_cursor=page.next_cursor)


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the dataset tools on ``mcp``."""
    tools = DatasetTools(deps)
    mcp.add_task_kind(DatasetTasks(deps))
    create = CREATE.format(window=tools.window)
    mcp.tool(description=PLAN, annotations=READ_ONLY)(tools.plan_dataset)
    mcp.tool(description=create, annotations=CREATES, nature=FOLLOWS)(tools.create_dataset)
    mcp.tool(description=POPULATE, annotations=CREATES, nature=FOLLOWS)(tools.populate_dataset)
    mcp.tool(description=READ, annotations=READ_ONLY)(tools.read_dataset)
    mcp.tool(description=LIST, annotations=READ_ONLY)(tools.list_datasets)
    mcp.tool(description=CANCEL, annotations=DESTRUCTIVE)(tools.cancel_dataset_run)
    mcp.tool(description=DELETE, annotations=DESTRUCTIVE)(tools.delete_dataset)
