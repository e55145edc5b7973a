"""The usage listings: ``GET /v1/search/usage``, ``/v1/fetch/usage`` and ``/v1/browser/usage``.

Each lists the caller's records, newest first. Filters, as the hosted server's
``get_search_usage``, ``list_fetch_usage`` and ``list_browser_sessions`` take them:
``status``, ``start_after`` / ``end_before`` (ISO datetimes, on ``created_at``) and, for
browser sessions, ``session_id``. Pages are 1-based (``page``, ``limit`` 1-1000, default
100), as ``snowmerak/tinyfish-go`` (``lib/fetch_usage.go``) pages fetch usage; the older
opaque ``cursor`` still works on search and browser usage.

Envelopes: fetch usage answers ``{items, total, limit, page, total_pages, has_more}``
(tinyfish-go's ``FetchUsageResponse``); search and browser usage keep
``{data, pagination: {total, next_cursor, has_more, page, limit, total_pages}}``.
Browser records' ``status`` is ``active`` or ``completed``; the filter also takes the
hosted tool's ``running`` / ``ended``. See docs/tools.md, "Endpoints and shapes".
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from .context import Call
from .validation import check_int
from .wire import Issue, invalid_input, iso, issue, now

__all__ = ["browser_usage", "fetch_usage", "search_usage"]

LIMIT_MAX = 1000
LIMIT_DEFAULT = 100
_STATUS: dict[str, dict[str, str]] = {
    "search": {"completed": "success", "failed": "failed", "success": "success"},
    "fetch": {"completed": "completed", "failed": "failed"},
    "browser": {"running": "active", "active": "active", "ended": "completed", "completed": "completed"},
}


def _when(value: str, name: str, issues: list[Issue]) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        issues.append(issue("invalid_string", [name], "Invalid ISO datetime"))
        return None


def _int(query: Any, name: str, default: int, low: int, high: int | None, issues: list[Issue]) -> int:
    if name not in query:
        return default
    try:
        value: Any = int(query[name])
    except ValueError:
        value = query[name]
    before = len(issues)
    check_int(value, [name], issues, low=low, high=high)
    return value if len(issues) == before else default


def _filtered(
    call: Call, product: str, records: list[dict[str, Any]], issues: list[Issue]
) -> list[dict[str, Any]]:
    query = call.request.query_params
    status = query.get("status")
    if status is not None and status not in _STATUS[product]:
        issues.append(issue("invalid_value", ["status"], f"Invalid option: {status}"))
    after = _when(query["start_after"], "start_after", issues) if "start_after" in query else None
    before = _when(query["end_before"], "end_before", issues) if "end_before" in query else None
    session_id = query.get("session_id") if product == "browser" else None
    kept = []
    for record in records:
        created = datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00"))
        if status in _STATUS[product] and record.get("status") != _STATUS[product][status]:
            continue
        if (after and created <= after) or (before and created >= before):
            continue
        if session_id and record.get("session_id") != session_id:
            continue
        kept.append(record)
    return kept


def _cursor_start(value: str, issues: list[Issue]) -> int:
    try:
        return int(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().removeprefix("o:"))
    except (ValueError, binascii.Error):
        issues.append(issue("custom", ["cursor"], "Invalid cursor"))
        return 0


def _page(
    call: Call, product: str, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of the filtered records, and what the envelope says about it."""
    query = call.request.query_params
    issues: list[Issue] = []
    default_limit = 20 if "cursor" in query else LIMIT_DEFAULT
    limit = _int(query, "limit", default_limit, 1, LIMIT_MAX, issues)
    page = _int(query, "page", 1, 1, None, issues)
    start = (page - 1) * limit
    if "cursor" in query and product != "fetch":
        start = _cursor_start(query["cursor"], issues)
    kept = _filtered(call, product, records, issues)
    if issues:
        raise invalid_input(issues)
    more = start + limit < len(kept)
    return kept[start : start + limit], {
        "total": len(kept),
        "limit": limit,
        "page": start // limit + 1,
        "total_pages": (len(kept) + limit - 1) // limit,
        "has_more": more,
        "next_cursor": base64.urlsafe_b64encode(f"o:{start + limit}".encode()).decode().rstrip("=")
        if more
        else None,
    }


def _paged(call: Call, product: str, records: list[dict[str, Any]]) -> Response:
    rows, meta = _page(call, product, records)
    return JSONResponse({"data": rows, "pagination": meta})


async def search_usage(call: Call) -> Response:
    records = [r for r in reversed(call.store.search_usage) if r["_owner"] == call.key]
    return _paged(call, "search", [{k: v for k, v in r.items() if k != "_owner"} for r in records])


async def fetch_usage(call: Call) -> Response:
    records = [r for r in reversed(call.store.fetch_usage) if r["_owner"] == call.key]
    rows, meta = _page(call, "fetch", [{k: v for k, v in r.items() if k != "_owner"} for r in records])
    return JSONResponse({"items": rows, **{k: v for k, v in meta.items() if k != "next_cursor"}})


async def browser_usage(call: Call) -> Response:
    moment = now()
    records = []
    for session in sorted(call.store.sessions.values(), key=lambda s: s.created_at, reverse=True):
        if session.owner != call.key:
            continue
        end = session.ended_at or moment
        elapsed = (end - session.created_at).total_seconds()
        active = session.ended_at is None and elapsed < session.timeout_seconds
        records.append(
            {
                "session_id": session.session_id,
                "status": "active" if active else "completed",
                "mode": "tetra",
                "start_url": session.url,
                "created_at": iso(session.created_at),
                "ended_at": None if active else iso(end),
                "duration_seconds": round(elapsed, 3),
                "data_transfer_bytes": 48_000 if session.url else 0,
                "timeout_seconds": session.timeout_seconds,
            }
        )
    return _paged(call, "browser", records)
