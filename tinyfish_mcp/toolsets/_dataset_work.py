"""A dataset's population run as the follower's work and as an MCP task, and how a dataset reads.

The dataset tools (``datasets.py``) start or find the run; :class:`PopulationWork` follows
its event stream (each row reported once, a dropped stream reconnected, then the dataset
polled); :class:`DatasetTasks` reads and cancels it for a task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from ..follow import Closed, Look, Progress
from ..runtime.context import ToolDeps
from ..runtime.errors import explain, upstream_call
from ..runtime.schema import OutputModel, as_tool_result
from ..upstream.datasets import IN_PROGRESS, Dataset, DatasetEvent
from ..upstream.errors import UpstreamError
from ._followed import DROPPED, MAX_RECONNECTS, answer_id

__all__ = ["FIND", "DatasetResult", "DatasetTasks", "PopulationWork", "dataset_summary"]

FIND = "list_datasets shows your datasets"


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


def dataset_summary(dataset: Dataset) -> DatasetResult:
    """The dataset as the model reads it, without rows, with the next step to take."""
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
        if not isinstance(exc, DROPPED):
            raise await explain(exc, action="following the population run", find=FIND) from None

    async def look(self, progress: Progress) -> DatasetResult | None:
        dataset = await self.deps.client.datasets.get(self.key, self.dataset_id)
        if dataset.run is None or dataset.run.status not in IN_PROGRESS:
            return dataset_summary(dataset)
        await progress(f"{dataset.row_count} rows so far")
        return None

    async def poll_error(self, exc: UpstreamError) -> Exception:
        return await explain(exc, action="checking on the dataset", find=FIND)

    async def _finished(self) -> DatasetResult:
        dataset = await upstream_call(
            "reading the dataset", self.deps.client.datasets.get(self.key, self.dataset_id), find=FIND
        )
        return dataset_summary(dataset)


@dataclass
class DatasetTasks:
    """Dataset populations as MCP tasks (``follow.TaskKind``)."""

    deps: ToolDeps
    name: str = "dataset"

    def ident(self, structured: Mapping[str, Any]) -> str | None:
        return answer_id(structured, "dataset_id")

    async def look(self, key: str, ident: str) -> Look:
        dataset = await self.deps.client.datasets.get(key, ident)
        message = f"{dataset.row_count} rows so far"
        if dataset.run is not None and dataset.run.status in IN_PROGRESS:
            return Look("working", message)
        return Look("completed", message, result=as_tool_result(dataset_summary(dataset)))

    async def cancel(self, key: str, ident: str) -> None:
        dataset = await self.deps.client.datasets.get(key, ident)
        if dataset.run is not None and dataset.run.status in IN_PROGRESS:
            await self.deps.client.datasets.cancel_run(key, ident, dataset.run.id)
