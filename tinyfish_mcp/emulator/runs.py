"""Agent and runs endpoints: /v1/automation/* and /v1/runs*."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from .agent import cancel_run, create_run
from .context import Call
from .scenarios import Scenario, parse_scenario
from .sse import counted_stream, event_stream
from .state import RunRecord
from .validation import check_int, check_integration, validate_run_body
from .wire import ApiError, Issue, invalid_input, issue, parse_iso, read_json

__all__ = [
    "cancel",
    "cancel_batch",
    "get_run",
    "get_runs_batch",
    "list_runs",
    "run_async",
    "run_batch",
    "run_sse",
    "run_sync",
]

STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
MAX_BATCH = 100


def _prefixed(issues: list[Issue], prefix: list[str | int]) -> list[Issue]:
    return [{**issue, "path": [*prefix, *issue["path"]]} for issue in issues]


def _checked_run(body: object, prefix: list[str | int], config: Any) -> tuple[Scenario | None, list[Issue]]:
    issues = _prefixed(validate_run_body(body), prefix)
    if issues or not isinstance(body, dict):
        return None, issues
    scenario, scenario_issues = parse_scenario(str(body["url"]), config)
    return scenario, _prefixed(scenario_issues, prefix)


async def _create(call: Call, origin: str) -> RunRecord:
    body = await read_json(call.request)
    scenario, issues = _checked_run(body, [], call.config)
    if issues or scenario is None:
        raise invalid_input(issues)
    return create_run(
        call.store,
        call.config,
        owner=call.key,
        origin=origin,
        body=body,
        scenario=scenario,
        base_url=call.base_url,
    )


async def run_sync(call: Call) -> Response:
    """POST /v1/automation/run: block until the run ends."""
    run = await _create(call, "run")
    await run.wait_terminal()
    return JSONResponse(
        {
            "run_id": run.run_id,
            "status": run.status,
            "started_at": run.to_wire()["started_at"],
            "finished_at": run.to_wire()["finished_at"],
            "num_of_steps": len(run.steps),
            "result": run.result,
            "error": run.error,
        }
    )


async def run_async(call: Call) -> Response:
    run = await _create(call, "async")
    return JSONResponse({"run_id": run.run_id, "error": None})


async def run_sse(call: Call) -> Response:
    run = await _create(call, "sse")
    return StreamingResponse(
        counted_stream(call.store, event_stream(run, call.config.heartbeat_interval, call.fault)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def run_batch(call: Call) -> Response:
    """POST /v1/automation/run-batch: all runs are created, or none (atomic)."""
    body = await read_json(call.request)
    runs = body.get("runs") if isinstance(body, dict) else None
    if not isinstance(runs, list):
        raise invalid_input([issue("invalid_type", ["runs"], "Required: expected array")])
    _check_size(runs, "runs")
    checked = [_checked_run(item, ["runs", index], call.config) for index, item in enumerate(runs)]
    issues = [issue for _, item_issues in checked for issue in item_issues]
    check_integration(body, [], issues)
    if issues:
        raise invalid_input(issues)
    integration = body.get("api_integration")
    if integration is not None:
        # Said once for the batch; every run it creates was started through that integration.
        runs = [{"api_integration": integration, **item} for item in runs]
    created = [
        create_run(
            call.store,
            call.config,
            owner=call.key,
            origin="batch",
            body=item,
            scenario=scenario,
            base_url=call.base_url,
        )
        for item, (scenario, _) in zip(runs, checked, strict=True)
        if scenario is not None
    ]
    return JSONResponse({"run_ids": [run.run_id for run in created], "error": None})


def _check_size(items: list[Any], field: str) -> None:
    if not items:
        raise invalid_input([issue("too_small", [field], "Too small: expected array to have >=1 items")])
    if len(items) > MAX_BATCH:
        raise invalid_input(
            [issue("too_big", [field], f"Too big: expected array to have <={MAX_BATCH} items")]
        )


# --------------------------------------------------------------------------- reading runs


def _run_or_404(call: Call) -> RunRecord:
    run = call.store.owned_run(call.request.path_params["run_id"], call.key)
    if run is None:
        raise ApiError(404, "NOT_FOUND", "Run not found")
    return run


async def get_run(call: Call) -> Response:
    run = _run_or_404(call)
    screenshots = call.request.query_params.get("screenshots")
    if screenshots not in (None, "base64"):
        raise invalid_input([issue("invalid_value", ["screenshots"], 'Invalid option: expected "base64"')])
    return JSONResponse(run.to_wire(screenshots=screenshots == "base64"))


def _encode_cursor(seq: int, direction: str) -> str:
    raw = json.dumps({"after": seq, "dir": direction}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, direction: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["dir"] != direction or not isinstance(data["after"], int):
            raise ValueError
        return int(data["after"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid_input([issue("custom", ["cursor"], "Invalid cursor for this query")]) from None


async def list_runs(call: Call) -> Response:
    """GET /v1/runs: filters, newest first by default, keyset cursor pagination."""
    query = call.request.query_params
    issues: list[Issue] = []
    status = query.get("status")
    if status is not None and status not in STATUSES:
        issues.append(issue("invalid_value", ["status"], "Invalid option: expected a run status"))
    direction = query.get("sort_direction", "desc")
    if direction not in ("asc", "desc"):
        issues.append(issue("invalid_value", ["sort_direction"], 'expected "asc" or "desc"'))
    bounds = {}
    for name in ("created_after", "created_before"):
        if name in query:
            bounds[name] = parse_iso(query[name])
            if bounds[name] is None:
                issues.append(issue("invalid_string", [name], "Invalid ISO 8601 datetime"))
    limit: Any = 20
    if "limit" in query:
        try:
            limit = int(query["limit"])
        except ValueError:
            limit = query["limit"]
        check_int(limit, ["limit"], issues, low=1, high=100)
    if issues:
        raise invalid_input(issues)
    goal = (query.get("goal") or "").lower()
    after, before = bounds.get("created_after"), bounds.get("created_before")
    rows = [
        run
        for run in call.store.runs.values()
        if run.owner == call.key
        and (status is None or run.status == status)
        and goal in run.goal.lower()
        and (after is None or run.created_at > after)
        and (before is None or run.created_at < before)
    ]
    rows.sort(key=lambda run: run.seq, reverse=direction == "desc")
    total = len(rows)
    if "cursor" in query:
        mark = _decode_cursor(query["cursor"], direction)
        rows = [run for run in rows if (run.seq < mark if direction == "desc" else run.seq > mark)]
    page, more = rows[:limit], len(rows) > limit
    return JSONResponse(
        {
            "data": [run.to_wire() for run in page],
            "pagination": {
                "total": total,
                "next_cursor": _encode_cursor(page[-1].seq, direction) if more else None,
                "has_more": more,
            },
        }
    )


async def _run_ids(call: Call) -> list[str]:
    body = await read_json(call.request)
    ids = body.get("run_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise invalid_input([issue("invalid_type", ["run_ids"], "Required: expected array of strings")])
    _check_size(ids, "run_ids")
    return list(dict.fromkeys(ids))


async def get_runs_batch(call: Call) -> Response:
    """POST /v1/runs/batch: found runs, and ids not found or not owned."""
    ids = await _run_ids(call)
    found = [run for i in ids if (run := call.store.owned_run(i, call.key)) is not None]
    missing = [i for i in ids if call.store.owned_run(i, call.key) is None]
    return JSONResponse({"data": [run.to_wire() for run in found], "not_found": missing})


SYNC_NOT_CANCELLABLE = (
    "Runs created via /v1/automation/run cannot be cancelled; "
    "only runs from /v1/automation/run-async or /v1/automation/run-sse can"
)


async def cancel(call: Call) -> Response:
    run = _run_or_404(call)
    if run.origin == "run":
        raise invalid_input(
            [{"code": "custom", "path": ["id"], "message": SYNC_NOT_CANCELLABLE}], SYNC_NOT_CANCELLABLE
        )
    return JSONResponse(cancel_run(run))


async def cancel_batch(call: Call) -> Response:
    ids = await _run_ids(call)
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    for run_id in ids:
        run = call.store.owned_run(run_id, call.key)
        if run is None:
            missing.append(run_id)
        elif run.origin == "run":
            results.append(run.cancel_wire(SYNC_NOT_CANCELLABLE))
        else:
            results.append(cancel_run(run))
    return JSONResponse({"data": results, "not_found": missing})
