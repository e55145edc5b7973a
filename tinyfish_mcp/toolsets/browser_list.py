"""``list_browser_sessions``: the provider's own listing of sessions, paged like the hosted tool.

With the caller's own key (stdio, OAuth: each user signs in with their key) the listing
is the provider's: it shows every session of that key, those another process, another
replica or an earlier run of this server started included, filtered and paged as the
hosted tool takes it (``limit`` 1-1000, 1-based ``page``, ``status``, ``session_id``,
``start_after`` / ``end_before``). The sessions this server recorded add what the
listing lacks (TinyFish lists no connection URLs) and refresh from their ``/pages``.

Where users share one key (jwt mode) or the provider's key is the server's own
(Browserbase), the listing would show other users' sessions: only the caller's recorded
sessions are shown, filtered and paged here, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field

from ..runtime.errors import tool_error
from ..runtime.schema import OutputModel, as_tool_result
from ..runtime.sessions import BrowserSessionStore, SessionRecord, owner_of_key
from ..runtime.surface import served
from ..upstream.errors import UpstreamError
from ..upstream.providers import BrowserProvider, ListedSession, SessionQuery
from ._inputs import iso_filter

__all__ = [
    "LIST_DESCRIPTION",
    "BrowserListing",
    "BrowserSessionInfo",
    "BrowserSessionList",
    "refresh",
    "session_info",
]

log = logging.getLogger(__name__)

LIST_DESCRIPTION = "Your browser sessions, newest first, with filters and pages: find open ones to close."
REFRESH_BUDGET = 5.0  # how long one /pages check may take (retries included)


class BrowserSessionInfo(OutputModel):
    session_id: str
    status: Literal["running", "ended"]
    created_at: str | None = None
    last_activity: str | None = None
    expires_at: str | None = None
    ended_at: str | None = None
    cdp_url: str | None = None
    base_url: str | None = None


class BrowserSessionList(OutputModel):
    sessions: list[BrowserSessionInfo]
    page: int = 1
    total: int | None = None
    has_more: bool = False
    note: str


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_info(record: SessionRecord, now: datetime) -> BrowserSessionInfo:
    """A record as the listing shows it: ended when known to have ended or past its expiry."""
    running = record.ended_at is None and record.expires_at > now
    ended_at = record.ended_at or (None if running else record.expires_at)
    return BrowserSessionInfo(
        session_id=record.session_id,
        status="running" if running else "ended",
        created_at=_iso(record.created_at),
        last_activity=_iso(record.last_activity),
        expires_at=_iso(record.expires_at) if running else None,
        ended_at=_iso(ended_at),
        cdp_url=record.cdp_url if running else None,
        base_url=record.base_url if running else None,
    )


def _listed(entry: ListedSession, record: SessionRecord | None, now: datetime) -> BrowserSessionInfo:
    """A session of the provider's listing, with what this server recorded of it (URLs, activity)."""
    if record is not None:
        info = session_info(record, now)
        if entry.status == "ended" and info.status == "running":
            info = session_info(record.changed(ended_at=entry.ended_at or now), now)
        return info
    return BrowserSessionInfo(
        session_id=entry.session_id,
        status=entry.status,
        created_at=_iso(entry.created_at),
        ended_at=_iso(entry.ended_at) if entry.status == "ended" else None,
        cdp_url=entry.cdp_url if entry.status == "running" else None,
    )


async def refresh(provider: BrowserProvider, key: str, record: SessionRecord) -> SessionRecord:
    """The record updated from what the provider sees: ended, active (activity changed), or as is.

    A failure to learn anything leaves the record as it was: its expiry then decides its status.
    """
    if record.ended_at is not None:
        return record
    now = datetime.now(UTC)
    seen = None
    with anyio.move_on_after(REFRESH_BUDGET):
        seen = await provider.observe(key, record.session_id, record.cdp_url, record.base_url)
    if seen is None:
        return record
    if seen.ended:
        return record.changed(ended_at=min(seen.ended_at or now, record.expires_at))
    if seen.activity != record.pages_digest or record.expires_at <= now:
        # The session changed (or outlived our estimate): someone drove it.
        return record.changed(pages_digest=seen.activity, last_activity=now)
    return record


def _within(row: BrowserSessionInfo, query: SessionQuery) -> bool:
    if query.status is not None and row.status != query.status:
        return False
    created = row.created_at or ""
    after = query.start_after and iso_filter(query.start_after, "start_after")
    before = query.end_before and iso_filter(query.end_before, "end_before")
    moment = datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
    if moment is not None and after and moment <= _aware(after):
        return False
    return not (moment is not None and before and moment >= _aware(before))


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class BrowserListing:
    """``list_browser_sessions``, bound to the browser toolset's provider, session store and caller."""

    def __init__(
        self,
        provider: BrowserProvider,
        store: BrowserSessionStore,
        caller: Callable[[], Awaitable[tuple[str, str]]],
    ) -> None:
        self.provider = provider
        self.store = store
        self.caller = caller

    async def list_browser_sessions(
        self,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
        page: Annotated[int, Field(ge=1, description="1-based")] = 1,
        status: Literal["running", "ended"] | None = None,
        session_id: str | None = None,
        start_after: Annotated[str | None, Field(description="ISO datetime")] = None,
        end_before: Annotated[str | None, Field(description="ISO datetime")] = None,
    ) -> Annotated[CallToolResult, BrowserSessionList]:
        """The caller's sessions, from the provider's listing if the key is theirs (LIST_DESCRIPTION)."""
        wanted = session_id.strip() if session_id and session_id.strip() else None
        query = SessionQuery(
            limit=limit,
            page=page,
            status=status,
            session_id=wanted,
            start_after=iso_filter(start_after, "start_after"),
            end_before=iso_filter(end_before, "end_before"),
        )
        key, owner = await self.caller()
        now = datetime.now(UTC)
        own_listing = owner == owner_of_key(key)
        mine = {r.session_id: r for r in await self._recorded(key, owner, wanted)}
        close_hint = "close_browser_session" if served("close_browser_session") else "Browser.close over CDP"
        if own_listing:
            try:
                listed = await self.provider.list_sessions(key, query)
            except UpstreamError as exc:
                if mine:
                    log.warning("the provider's session listing failed (%s): showing recorded ones", exc.code)
                    listed = None
                else:
                    raise ToolError(str(tool_error(exc, action="listing browser sessions"))) from None
            if listed is not None:
                rows = [_listed(entry, mine.get(entry.session_id), now) for entry in listed.sessions]
                rows = [row for row in rows if status is None or row.status == status]
                if page == 1 and status is not None:
                    # The listing can lag a session this server just closed: its record knows first.
                    seen = {row.session_id for row in rows}
                    late = [session_info(rec, now) for sid, rec in mine.items() if sid not in seen]
                    rows = sorted(
                        rows + [row for row in late if _within(row, query)],
                        key=lambda row: row.created_at or "",
                        reverse=True,
                    )[:limit]
                return as_tool_result(
                    BrowserSessionList(
                        sessions=rows,
                        page=page,
                        total=listed.total,
                        has_more=listed.has_more,
                        note=(
                            f"No session {wanted!r} in your account's listing. "
                            if wanted and not rows
                            else ""
                        )
                        + (f"More: page={page + 1}. " if listed.has_more else "")
                        + "Every session of your key, wherever it was created. "
                        + f"End a running one with {close_hint}; "
                        "one without cdp_url was created elsewhere and ends after its inactivity timeout.",
                    )
                )
        rows = [r for r in (session_info(rec, now) for rec in mine.values()) if _within(r, query)]
        start = (page - 1) * limit
        more = start + limit < len(rows)
        note = (
            "Only sessions created through this server for you (your account's key is shared). "
            "last_activity is the last change this server saw; expires_at assumes no CDP activity since."
        )
        if wanted and not mine:
            note = f"No session {wanted!r} was created through this server for you. " + note
        return as_tool_result(
            BrowserSessionList(
                sessions=rows[start : start + limit],
                page=page,
                total=len(rows),
                has_more=more,
                note=(f"More: page={page + 1}. " if more else "") + note,
            )
        )

    async def _recorded(self, key: str, owner: str, session_id: str | None) -> list[SessionRecord]:
        """The owner's recorded sessions, refreshed from the provider where still open."""
        if session_id:
            found = await self.store.get(owner, session_id)
            records = [] if found is None else [found]
        else:
            records = await self.store.owned(owner)
        refreshed = list(records)

        async def check(index: int) -> None:
            updated = await refresh(self.provider, key, records[index])
            if updated != records[index]:
                refreshed[index] = updated
                await self.store.update(updated)

        async with anyio.create_task_group() as group:
            for index, record in enumerate(records):
                if record.ended_at is None:
                    group.start_soon(check, index)
        return refreshed
