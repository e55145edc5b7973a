"""The Datasets API: plan a dataset from a prompt, create it, populate it, read its rows.

A population run is a task of its own that adds one row per stage (``tf_delay=<s>`` in
the prompt or spec description sets the pace, default 0.05 s) until ``target_rows``.
``GET .../runs/{run_id}/events`` sends the run's current ``status`` first, then each
``row``, ``log`` and ``status`` as it happens, and ``done`` once the run has ended; a
quiet stream sends SSE comments as heartbeats. Event names travel as SSE ``event:``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from .context import Call
from .wire import ApiError, Issue, invalid_input, iso, issue, now, read_json

__all__ = ["cancel_run", "create", "delete", "events", "get", "list_datasets", "plan", "populate", "rows"]

TYPES = ("string", "number", "boolean", "url", "date")
IN_PROGRESS = ("queued", "running")
MAX_TARGET = 250
HEARTBEAT = 0.5


@dataclass
class DatasetRecord:
    id: str
    owner: str
    seq: int
    spec: dict[str, Any]
    target_rows: int
    delay: float
    created_at: datetime = field(default_factory=now)
    status: str = "empty"
    rows: list[dict[str, Any]] = field(default_factory=list)
    run: dict[str, Any] | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # of the current run
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def emit(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))
        old, self.changed = self.changed, asyncio.Event()
        old.set()

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.spec["name"],
            "spec": self.spec,
            "status": self.status,
            "target_rows": self.target_rows,
            "row_count": len(self.rows),
            "run": self.run,
            "created_at": iso(self.created_at),
        }

    def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.run is not None and self.run["status"] in IN_PROGRESS:
            _end_run(self, "cancelled")


def _records(call: Call) -> dict[str, DatasetRecord]:
    records: dict[str, DatasetRecord] = call.store.products.setdefault("datasets", {})
    return records


def _owned(call: Call) -> DatasetRecord:
    record = _records(call).get(call.request.path_params["dataset_id"])
    if record is None or record.owner != call.key:
        raise ApiError(404, "NOT_FOUND", "Dataset not found")
    return record


def _plan_spec(prompt: str) -> dict[str, Any]:
    words = [w for w in re.findall(r"[A-Za-z]+", re.sub(r"tf_\w+(=\S+)?", "", prompt)) if len(w) > 2][:4]
    topic = " ".join(words).lower() or "items"
    return {
        "name": topic.title(),
        "description": prompt.strip(),
        "columns": [
            {"name": "name", "label": "Name", "type": "string", "is_primary_key": True,
             "retrieval_hint": f"the name of each {topic} entry"},
            {"name": "url", "label": "Page", "type": "url", "is_primary_key": False,
             "retrieval_hint": "the page the entry was found on"},
            {"name": "price", "label": "Price", "type": "number", "is_primary_key": False,
             "retrieval_hint": "the listed price, a number"},
        ],
    }  # fmt: skip


def _check_spec(spec: Any, issues: list[Issue]) -> None:
    if not isinstance(spec, dict):
        issues.append(issue("invalid_type", ["spec"], "Expected object"))
        return
    for name in ("name", "description"):
        if not isinstance(spec.get(name), str) or not spec[name].strip():
            issues.append(
                issue("invalid_type", ["spec", name], f"Required: {name} must be a non-empty string")
            )
    columns = spec.get("columns")
    if not isinstance(columns, list) or not 1 <= len(columns) <= 30:
        issues.append(issue("too_small", ["spec", "columns"], "columns must hold 1 to 30 columns"))
        return
    names = []
    for index, column in enumerate(columns):
        where: list[str | int] = ["spec", "columns", index]
        if not isinstance(column, dict):
            issues.append(issue("invalid_type", where, "Expected object"))
            continue
        if not isinstance(column.get("name"), str) or not re.fullmatch(
            r"[a-z][a-z0-9_]{0,62}", column["name"]
        ):
            issues.append(issue("invalid_string", [*where, "name"], "name must be snake_case"))
        names.append(column.get("name"))
        if column.get("type") not in TYPES:
            issues.append(issue("invalid_value", [*where, "type"], f"type must be one of {'|'.join(TYPES)}"))
        if not isinstance(column.get("is_primary_key"), bool):
            issues.append(issue("invalid_type", [*where, "is_primary_key"], "Expected boolean"))
    if len(set(names)) != len(names):
        issues.append(issue("custom", ["spec", "columns"], "column names must be unique"))
    if isinstance(columns, list) and not any(
        isinstance(c, dict) and c.get("is_primary_key") is True for c in columns
    ):
        issues.append(issue("custom", ["spec", "columns"], "at least one column must be a primary key"))
    keep = spec.get("keep_when")
    if keep is not None:
        kinds = {c.get("name"): c.get("type") for c in columns if isinstance(c, dict)}
        if not isinstance(keep, dict) or kinds.get(keep.get("column")) != "boolean":
            issues.append(
                issue("custom", ["spec", "keep_when", "column"], "keep_when.column must be a boolean column")
            )


def _check_target(value: Any, issues: list[Issue]) -> None:
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TARGET
    ):
        issues.append(issue("too_big", ["target_rows"], f"target_rows must be 1 to {MAX_TARGET}"))


async def plan(call: Call) -> Response:
    body = await read_json(call.request)
    prompt = body.get("prompt") if isinstance(body, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid_input([issue("too_small", ["prompt"], "prompt must be a non-empty string")])
    return JSONResponse({"spec": _plan_spec(prompt)})


def _cell(column: dict[str, Any], index: int, base: str) -> Any:
    kind = column["type"]
    if column.get("is_primary_key") or kind == "string":
        return f"{column['name'].replace('_', ' ')} {index}"
    return {
        "number": round(9.5 + index * 1.25, 2),
        "boolean": index % 2 == 1,
        "url": f"{base}/_fixtures/article.html#item-{index}",
        "date": f"2026-01-{index % 28 + 1:02d}",
    }[kind]


def _end_run(record: DatasetRecord, status: str, error: str | None = None) -> None:
    assert record.run is not None
    record.run.update(status=status, finished_at=iso(now()), error=error)
    record.status = {"done": "ready", "cancelled": "cancelled", "failed": "failed"}[status]
    record.emit("status", {"status": status, "error": error, "finished_at": record.run["finished_at"]})
    record.emit("done", {})


async def _drive(record: DatasetRecord, base: str) -> None:
    await asyncio.sleep(record.delay)
    assert record.run is not None
    record.run["status"] = "running"
    record.emit("status", {"status": "running"})
    record.emit("log", {"text": f"Looking for {record.target_rows} rows of {record.spec['name']}"})
    keep = (record.spec.get("keep_when") or {}).get("column")
    index = len(record.rows)
    while len(record.rows) < record.target_rows:
        await asyncio.sleep(record.delay)
        index += 1
        data = {c["name"]: _cell(c, index, base) for c in record.spec["columns"]}
        if keep and not data.get(keep):
            record.emit("log", {"text": f"Skipped a row: {keep} is false"})
            continue
        row = {"_id": f"row_{uuid.uuid4().hex[:12]}", "data": data}
        record.rows.append(row)
        record.emit("row", {"row_id": row["_id"], "data": data})
    _end_run(record, "done")


def _start_run(call: Call, record: DatasetRecord) -> None:
    record.events = []
    record.run = {"id": f"dsrun_{uuid.uuid4().hex[:12]}", "status": "queued", "started_at": iso(now()),
                  "finished_at": None, "error": None}  # fmt: skip
    record.status = "populating"
    record.emit("status", {"status": "queued"})
    record.task = asyncio.get_running_loop().create_task(_drive(record, call.base_url))


async def create(call: Call) -> Response:
    body = await read_json(call.request)
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    issues: list[Issue] = []
    prompt, spec = body.get("prompt"), body.get("spec")
    if (prompt is None) == (spec is None):
        issues.append(issue("custom", [], "Send exactly one of prompt or spec"))
    elif prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        issues.append(issue("too_small", ["prompt"], "prompt must be a non-empty string"))
    elif spec is not None:
        _check_spec(spec, issues)
    _check_target(body.get("target_rows"), issues)
    if body.get("populate") is not None and not isinstance(body["populate"], bool):
        issues.append(issue("invalid_type", ["populate"], "Expected boolean"))
    extra = sorted(set(body) - {"prompt", "spec", "target_rows", "populate"})
    issues += [issue("unrecognized_keys", [k], f"Unrecognized key: {k}") for k in extra]
    if issues:
        raise invalid_input(issues)
    spec = spec if spec is not None else _plan_spec(str(prompt))
    knob = re.search(r"tf_delay=([\d.]+)", json.dumps(spec))
    record = DatasetRecord(
        id=f"ds_{uuid.uuid4().hex[:16]}",
        owner=call.key,
        seq=call.store.next_seq(),
        spec=spec,
        target_rows=body.get("target_rows") or 10,
        delay=float(knob.group(1)) if knob else 0.05,
    )
    _records(call)[record.id] = record
    if body.get("populate", True):
        _start_run(call, record)
    return JSONResponse(record.wire(), status_code=201)


async def list_datasets(call: Call) -> Response:
    params = call.request.query_params
    mine = sorted((r for r in _records(call).values() if r.owner == call.key), key=lambda r: -r.seq)
    try:
        limit = max(1, min(100, int(params.get("limit", "20"))))
        start = int(params.get("cursor") or 0)
    except ValueError:
        raise invalid_input([issue("invalid_type", ["limit"], "limit and cursor must be integers")]) from None
    more = start + limit < len(mine)
    return JSONResponse(
        {
            "data": [r.wire() for r in mine[start : start + limit]],
            "pagination": {"next_cursor": str(start + limit) if more else None, "has_more": more},
        }
    )


async def get(call: Call) -> Response:
    return JSONResponse(_owned(call).wire())


async def delete(call: Call) -> Response:
    record = _owned(call)
    record.close()
    del _records(call)[record.id]
    return JSONResponse({"id": record.id, "deleted": True})


async def rows(call: Call) -> Response:
    record = _owned(call)
    params = call.request.query_params
    try:
        limit = max(1, min(500, int(params.get("limit", "100"))))
    except ValueError:
        raise invalid_input([issue("invalid_type", ["limit"], "limit must be an integer")]) from None
    start = 0
    after = params.get("after")
    if after:
        ids = [r["_id"] for r in record.rows]
        if after not in ids:
            raise invalid_input([issue("custom", ["after"], "Unknown cursor")])
        start = ids.index(after) + 1
    page = record.rows[start : start + limit]
    more = start + limit < len(record.rows)
    columns = [
        {"name": c["name"], "label": c.get("label") or c["name"], "type": c["type"],
         "is_primary_key": c["is_primary_key"]}
        for c in record.spec["columns"]
    ]  # fmt: skip
    return JSONResponse(
        {
            "columns": columns,
            "rows": page,
            "truncated": more,
            "next_cursor": page[-1]["_id"] if more and page else None,
        }
    )


async def populate(call: Call) -> Response:
    record = _owned(call)
    body = await read_json(call.request) or {}
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    issues: list[Issue] = []
    _check_target(body.get("target_rows"), issues)
    if body.get("reset") is not None and not isinstance(body["reset"], bool):
        issues.append(issue("invalid_type", ["reset"], "Expected boolean"))
    if issues:
        raise invalid_input(issues)
    if record.run is not None and record.run["status"] in IN_PROGRESS:
        raise ApiError(409, "CONFLICT", f"Dataset is already populating (run {record.run['id']})")
    if body.get("reset"):
        record.rows = []
    if body.get("target_rows"):
        record.target_rows = body["target_rows"]
    _start_run(call, record)
    return JSONResponse(record.wire())


def _run_of(call: Call) -> DatasetRecord:
    record = _owned(call)
    if record.run is None or record.run["id"] != call.request.path_params["run_id"]:
        raise ApiError(404, "NOT_FOUND", "Dataset run not found")
    return record


async def cancel_run(call: Call) -> Response:
    record = _run_of(call)
    assert record.run is not None
    if record.run["status"] in IN_PROGRESS:
        if record.task is not None and not record.task.done():
            record.task.cancel()
        _end_run(record, "cancelled")
        return JSONResponse({"run_id": record.run["id"], "status": "cancelling"})
    return JSONResponse({"run_id": record.run["id"], "status": record.run["status"]})


def _frame(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _stream(record: DatasetRecord) -> AsyncIterator[str]:
    assert record.run is not None
    yield _frame("status", {"status": record.run["status"]})
    index = len(record.events)
    if record.run["status"] not in IN_PROGRESS:
        yield _frame("done", {})
        return
    while True:
        while index < len(record.events):
            name, data = record.events[index]
            index += 1
            yield _frame(name, data)
            if name == "done":
                return
        waiter = record.changed
        try:
            await asyncio.wait_for(waiter.wait(), HEARTBEAT)
        except TimeoutError:
            yield ": heartbeat\n\n"


async def events(call: Call) -> Response:
    record = _run_of(call)
    return StreamingResponse(
        _stream(record), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
