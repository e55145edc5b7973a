"""GET /v1/search/usage and /v1/browser/usage: the caller's records, newest first, paged."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.responses import JSONResponse, Response

from .context import Call
from .validation import check_int
from .wire import Issue, invalid_input, iso, issue, now

__all__ = ["browser_usage", "page_of", "search_usage"]


def page_of(call: Call, records: list[dict[str, Any]]) -> Response:
    """One page of ``records`` by ``limit`` (1-100, default 20) and an opaque ``cursor``."""
    query = call.request.query_params
    issues: list[Issue] = []
    limit: Any = 20
    if "limit" in query:
        try:
            limit = int(query["limit"])
        except ValueError:
            limit = query["limit"]
        check_int(limit, ["limit"], issues, low=1, high=100)
    start = 0
    if "cursor" in query:
        try:
            start = int(
                base64.urlsafe_b64decode(query["cursor"] + "=" * (-len(query["cursor"]) % 4))
                .decode()
                .removeprefix("o:")
            )
        except (ValueError, binascii.Error):
            issues.append(issue("custom", ["cursor"], "Invalid cursor"))
    if issues:
        raise invalid_input(issues)
    page = records[start : start + limit]
    more = start + limit < len(records)
    cursor = base64.urlsafe_b64encode(f"o:{start + limit}".encode()).decode().rstrip("=") if more else None
    return JSONResponse(
        {"data": page, "pagination": {"total": len(records), "next_cursor": cursor, "has_more": more}}
    )


async def search_usage(call: Call) -> Response:
    records = [r for r in reversed(call.store.search_usage) if r["_owner"] == call.key]
    return page_of(call, [{k: v for k, v in r.items() if k != "_owner"} for r in records])


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
    return page_of(call, records)
