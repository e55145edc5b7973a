"""The Monitors API: a search or fetch re-run against the emulator's own data.

A monitor's check runs the emulator's real search ranking or fetch extraction, so a
test changes what a check sees through the control API (``PUT /_emulator/pages/{name}``
replaces a fixture page, ``POST /_emulator/search-corpus`` adds a search result) and
the next ``POST /v1/monitors/{id}/runs`` shows the change: a fetch run's new content,
or a search run's ``new_result_positions``. Schedules are stored, never fired.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from . import fetch, search
from .context import Call
from .validation import is_http_url
from .wire import ApiError, Issue, invalid_input, iso, issue, now, read_json

__all__ = ["cancel", "create", "get", "list_monitors", "run_now", "update"]

TYPES = ("search", "fetch")
STATUSES = ("creating", "active", "paused", "failed", "cancelled")
FORMATS = ("markdown", "html", "json")
SEARCH_KEYS = {"query", "recency_minutes", "result_limit"}
FETCH_KEYS = {"url", "format", "links", "image_links"}


@dataclass
class MonitorRecord:
    owner: str
    wire: dict[str, Any]
    seen_urls: list[str] | None = None  # search results of the previous check
    checks: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)


def _records(call: Call) -> dict[str, MonitorRecord]:
    records: dict[str, MonitorRecord] = call.store.products.setdefault("monitors", {})
    return records


def _owned(call: Call) -> MonitorRecord:
    record = _records(call).get(call.request.path_params["monitor_id"])
    if record is None or record.owner != call.key:
        raise ApiError(404, "NOT_FOUND", "Monitor not found")
    return record


def _check_config(kind: Any, config: Any, issues: list[Issue]) -> None:
    if kind not in TYPES:
        issues.append(issue("invalid_value", ["type"], 'Invalid option: expected one of "search"|"fetch"'))
        return
    if not isinstance(config, dict):
        issues.append(issue("invalid_type", ["config"], "Expected object"))
        return
    allowed = SEARCH_KEYS if kind == "search" else FETCH_KEYS
    for name in sorted(set(config) - allowed):
        issues.append(issue("unrecognized_keys", ["config", name], f"Unrecognized key: {name}"))
    if kind == "search":
        query = config.get("query")
        if not isinstance(query, str) or not query.strip():
            issues.append(issue("too_small", ["config", "query"], "query must be a non-empty string"))
        limit = config.get("result_limit")
        if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 10):
            issues.append(issue("too_big", ["config", "result_limit"], "result_limit must be 1-10"))
        recency = config.get("recency_minutes")
        if recency is not None and (not isinstance(recency, int) or recency < 1):
            issues.append(issue("too_small", ["config", "recency_minutes"], "recency_minutes must be >= 1"))
    else:
        if not is_http_url(config.get("url")):
            issues.append(issue("invalid_format", ["config", "url"], "url must be a public http(s) URL"))
        if config.get("format") is not None and config["format"] not in FORMATS:
            issues.append(
                issue("invalid_value", ["config", "format"], 'Invalid option: "markdown"|"html"|"json"')
            )
        for name in ("links", "image_links"):
            if config.get(name) is not None and not isinstance(config[name], bool):
                issues.append(issue("invalid_type", ["config", name], "Expected boolean"))


def _check_cron(value: Any, issues: list[Issue]) -> None:
    fields = value.split() if isinstance(value, str) else []
    if fields and fields[0].startswith("CRON_TZ="):
        fields = fields[1:]
    if len(fields) != 5:
        issues.append(issue("invalid_format", ["schedule_cron"], "schedule_cron must be a five-field cron"))


def _check_optional(body: dict[str, Any], issues: list[Issue]) -> None:
    for name in ("name", "purpose"):
        if body.get(name) is not None and not isinstance(body[name], str):
            issues.append(issue("invalid_type", [name], "Expected string"))
    hook = body.get("webhook_url")
    if hook is not None and (not isinstance(hook, str) or not hook.startswith("https://")):
        issues.append(issue("invalid_format", ["webhook_url"], "webhook_url must be an https URL"))


async def _check(call: Call, record: MonitorRecord) -> dict[str, Any]:
    """Run one check now, the way the monitor's schedule would."""
    config = record.wire["config"]
    record.checks += 1
    run_id = f"mrun_{uuid.uuid4().hex[:16]}"
    if record.wire["type"] == "fetch":
        fmt = config.get("format") or "json"
        results, errors = [], []
        try:
            options = fetch.Options(
                fmt=str(fmt), links=bool(config.get("links")), images=bool(config.get("image_links"))
            )
            page = await fetch._fetch_one(call, config["url"], options)
            results.append(page)
        except fetch.FetchFailure as failure:
            errors.append({"url": config["url"], "error": str(failure)})
        run: dict[str, Any] = {
            "id": run_id,
            "is_baseline": record.checks == 1,
            "results": results,
            "errors": errors,
        }
    else:
        limit = config.get("result_limit") or 10
        ranked = search.rank(call, config["query"], "en")[:limit]
        hits = [
            {
                "position": index + 1,
                "title": entry["title"],
                "url": entry["url"],
                "snippet": entry["snippet"],
                "site_name": entry["url"].split("/")[2] if "//" in entry["url"] else "",
            }
            for index, entry in enumerate(ranked)
        ]
        previous = record.seen_urls
        new = [] if previous is None else [h["position"] for h in hits if h["url"] not in previous]
        record.seen_urls = [h["url"] for h in hits]
        run = {
            "id": run_id,
            "request_id": str(uuid.uuid4()),
            "query": config["query"],
            "status_code": 200,
            "result_count": len(hits),
            "results": hits,
            "new_result_positions": new,
            "created_at": iso(now()),
        }
    record.runs.append(run)
    return run


async def create(call: Call) -> Response:
    body = await read_json(call.request)
    if not isinstance(body, dict):
        raise invalid_input([issue("invalid_type", [], "Expected object")])
    issues: list[Issue] = []
    _check_config(body.get("type"), body.get("config"), issues)
    _check_cron(body.get("schedule_cron"), issues)
    _check_optional(body, issues)
    if issues:
        raise invalid_input(issues)
    moment = iso(now())
    monitor_id = f"mon_{uuid.uuid4().hex[:16]}"
    record = MonitorRecord(
        owner=call.key,
        wire={
            "id": monitor_id,
            "name": body.get("name"),
            "type": body["type"],
            "config": body["config"],
            "schedule_cron": " ".join(body["schedule_cron"].split()),
            "status": "active",
            "last_error": None,
            "webhook_url": body.get("webhook_url"),
            "purpose": body.get("purpose"),
            "created_at": moment,
            "updated_at": moment,
        },
    )
    _records(call)[monitor_id] = record
    run = await _check(call, record)
    return JSONResponse({"monitor": record.wire, "run": run}, status_code=201)


async def list_monitors(call: Call) -> Response:
    mine = [r.wire for r in _records(call).values() if r.owner == call.key]
    return JSONResponse({"monitors": mine})


async def get(call: Call) -> Response:
    return JSONResponse(_owned(call).wire)


async def update(call: Call) -> Response:
    record = _owned(call)
    body = await read_json(call.request)
    if not isinstance(body, dict) or not body:
        raise invalid_input([issue("invalid_type", [], "Expected a non-empty object")])
    issues: list[Issue] = []
    if "status" in body and body["status"] not in ("active", "paused"):
        issues.append(issue("invalid_value", ["status"], 'Invalid option: expected one of "active"|"paused"'))
    if "schedule_cron" in body:
        _check_cron(body["schedule_cron"], issues)
    _check_optional(body, issues)
    unknown = sorted(set(body) - {"status", "schedule_cron", "name", "webhook_url", "purpose"})
    issues += [issue("unrecognized_keys", [name], f"Unrecognized key: {name}") for name in unknown]
    if issues:
        raise invalid_input(issues)
    record.wire.update(body)
    record.wire["updated_at"] = iso(now())
    return JSONResponse(record.wire)


async def run_now(call: Call) -> Response:
    record = _owned(call)
    return JSONResponse({"run": await _check(call, record)})


async def cancel(call: Call) -> Response:
    record = _owned(call)
    del _records(call)[record.wire["id"]]
    return JSONResponse({"deleted": True, "id": record.wire["id"]})
