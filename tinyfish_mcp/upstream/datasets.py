"""The Datasets API: plan a dataset from a prompt, create it, populate it, read its rows.

``create`` and ``populate`` start billed agent work, so they are never re-sent blindly.
A population run's events (``status``, ``row``, ``log``, then ``done``) stream from
``GET /v1/datasets/{id}/runs/{run_id}/events``, named by the SSE ``event:`` field; the
stream has no event ids, and a new connection starts with the run's current status.
Shapes follow ``tinyfish.datasets``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import anyio
from pydantic import Field

from .constants import SSE_READ_TIMEOUT, RequestKind
from .errors import InvalidInputError, UpstreamConnectionError
from .models._base import _Request, _Response

if TYPE_CHECKING:
    import httpx2

    from .core import RoutedCore

__all__ = [
    "IN_PROGRESS",
    "Dataset",
    "DatasetCreateRequest",
    "DatasetEvent",
    "DatasetList",
    "DatasetSpec",
    "DatasetsAPI",
    "RowsPage",
]

log = logging.getLogger("tinyfish_mcp.upstream")
IN_PROGRESS = frozenset({"queued", "running"})
MAX_TARGET_ROWS = 250
ColumnType = Literal["string", "number", "boolean", "url", "date"]


class DatasetColumn(_Request):
    name: str = Field(min_length=1, max_length=63)
    label: str | None = None
    type: ColumnType
    is_primary_key: bool
    retrieval_hint: str | None = Field(default=None, max_length=500)


class DatasetKeepWhen(_Request):
    column: str


class DatasetSpec(_Request):
    """The schema a dataset is filled to (plan returns one; create takes one)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    columns: list[DatasetColumn] = Field(min_length=1, max_length=30)
    keep_when: DatasetKeepWhen | None = None


class DatasetCreateRequest(_Request):
    prompt: str | None = Field(default=None, min_length=1, max_length=4000)
    spec: DatasetSpec | None = None
    target_rows: int | None = Field(default=None, ge=1, le=MAX_TARGET_ROWS)
    populate: bool | None = None


class _Spec(_Response):
    name: str
    description: str = ""
    columns: list[dict[str, Any]] = Field(default_factory=list)
    keep_when: dict[str, Any] | None = None


class DatasetPlan(_Response):
    spec: _Spec


class DatasetRun(_Response):
    id: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None


class Dataset(_Response):
    id: str
    name: str = ""
    spec: _Spec | None = None
    status: str
    target_rows: int | None = None
    row_count: int = 0
    run: DatasetRun | None = None
    created_at: str | None = None


class DatasetPagination(_Response):
    next_cursor: str | None = None
    has_more: bool = False


class DatasetList(_Response):
    data: list[Dataset] = Field(default_factory=list)
    pagination: DatasetPagination | None = None


class DatasetRow(_Response):
    id: str = Field(alias="_id")
    data: dict[str, Any] = Field(default_factory=dict)


class RowColumn(_Response):
    name: str
    label: str | None = None
    type: str | None = None
    is_primary_key: bool = False


class RowsPage(_Response):
    columns: list[RowColumn] = Field(default_factory=list)
    rows: list[DatasetRow] = Field(default_factory=list)
    truncated: bool = False
    next_cursor: str | None = None


class DatasetDeleted(_Response):
    id: str
    deleted: bool


class DatasetRunCancel(_Response):
    run_id: str
    status: str


class DatasetEvent(_Response):
    """One run event: ``event`` is status, row, log or done (payload fields as extras)."""

    event: str
    status: str | None = None
    error: str | None = None
    row_id: str | None = None
    data: dict[str, Any] | None = None
    deleted: bool | None = None
    text: str | None = None


def _path(dataset_id: str, suffix: str = "") -> str:
    if not dataset_id or not dataset_id.strip():
        raise InvalidInputError(
            "dataset_id must not be empty", details=[{"path": ["dataset_id"], "message": "empty"}]
        )
    return f"/{quote(dataset_id.strip(), safe='')}{suffix}"


async def iter_dataset_events(response: httpx2.Response) -> AsyncGenerator[DatasetEvent, None]:
    """A run's events on one connection, ending after ``done``; an early end raises."""
    from .sse import sse_messages

    async with aclosing(sse_messages(response, what="dataset run stream")) as messages:
        async for sse in messages:
            if sse.event not in ("status", "row", "log", "done", "error"):
                continue
            try:
                data = json.loads(sse.data)
            except ValueError:
                log.warning("dataset run stream: skipped an unreadable %s event", sse.event)
                continue
            if sse.event == "error":  # the proxy's own frame: the service went away
                message = data.get("message") if isinstance(data, dict) else None
                raise UpstreamConnectionError(f"dataset run stream failed: {message or 'no message'}")
            event = DatasetEvent.model_validate(
                {**(data if isinstance(data, dict) else {}), "event": sse.event}
            )
            yield event
            if event.event == "done":
                return
    raise UpstreamConnectionError("dataset run stream: the connection ended before the done event")


class DatasetsAPI:
    """``client.datasets``."""

    def __init__(self, core: RoutedCore) -> None:
        self._core = core

    async def plan(self, key: str, prompt: str) -> DatasetPlan:
        return await self._core.call(
            DatasetPlan, "POST", "datasets", "/plan", key=key, json={"prompt": prompt}
        )

    async def create(self, key: str, request: DatasetCreateRequest) -> Dataset:
        """POST /v1/datasets (populates by default: billed). Never re-sent blindly."""
        return await self._core.call(
            Dataset, "POST", "datasets", key=key, kind=RequestKind.CREATE, json=request.to_body()
        )

    async def list(self, key: str, *, limit: int | None = None, cursor: str | None = None) -> DatasetList:
        params = {k: v for k, v in {"limit": limit, "cursor": cursor}.items() if v is not None}
        return await self._core.call(DatasetList, "GET", "datasets", key=key, params=params)

    async def get(self, key: str, dataset_id: str) -> Dataset:
        return await self._core.call(Dataset, "GET", "datasets", _path(dataset_id), key=key)

    async def delete(self, key: str, dataset_id: str) -> DatasetDeleted:
        return await self._core.call(DatasetDeleted, "DELETE", "datasets", _path(dataset_id), key=key)

    async def rows(
        self, key: str, dataset_id: str, *, limit: int | None = None, after: str | None = None
    ) -> RowsPage:
        params = {k: v for k, v in {"limit": limit, "after": after}.items() if v is not None}
        return await self._core.call(
            RowsPage, "GET", "datasets", _path(dataset_id, "/rows"), key=key, params=params
        )

    async def populate(
        self, key: str, dataset_id: str, *, reset: bool | None = None, target_rows: int | None = None
    ) -> Dataset:
        """POST /v1/datasets/{id}/populate: a billed run. Never re-sent blindly."""
        body = {k: v for k, v in {"reset": reset, "target_rows": target_rows}.items() if v is not None}
        return await self._core.call(
            Dataset,
            "POST",
            "datasets",
            _path(dataset_id, "/populate"),
            key=key,
            kind=RequestKind.CREATE,
            json=body,
        )

    async def cancel_run(self, key: str, dataset_id: str, run_id: str) -> DatasetRunCancel:
        suffix = f"/runs/{quote(run_id.strip(), safe='')}/cancel"
        return await self._core.call(DatasetRunCancel, "POST", "datasets", _path(dataset_id, suffix), key=key)

    def events(
        self, key: str, dataset_id: str, run_id: str
    ) -> AbstractAsyncContextManager[AsyncIterator[DatasetEvent]]:
        """GET .../runs/{run_id}/events as ``async with ... as events``."""
        return self._events(key, dataset_id, run_id)

    @asynccontextmanager
    async def _events(
        self, key: str, dataset_id: str, run_id: str
    ) -> AsyncIterator[AsyncIterator[DatasetEvent]]:
        suffix = f"/runs/{quote(run_id.strip(), safe='')}/events"
        async with self._core.http.stream(
            "GET",
            self._core.url("datasets", _path(dataset_id, suffix)),
            key=key,
            kind=RequestKind.IDEMPOTENT,
            product="datasets",
            read_timeout=SSE_READ_TIMEOUT,
        ) as response:
            events = iter_dataset_events(response)
            try:
                yield events
            finally:
                with anyio.CancelScope(shield=True):
                    await events.aclose()
