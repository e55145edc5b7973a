"""The 'browser' toolset: remote browser sessions to drive over CDP, and to close.

``create_browser_session`` starts a session, ``list_browser_sessions`` shows the ones
this server started for the caller (refreshed from each session's ``/pages``), and
``close_browser_session`` ends one with CDP ``Browser.close``. TinyFish can neither list
nor delete sessions, and a session bills while it is open (1 credit per 4 browser-minutes),
so the default timeout is short and every creation says how to close it.

Sessions are recorded in a :class:`~.sessions.BrowserSessionStore` under their owner
(a digest naming the user, never a key); a user sees and closes only their own.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..upstream.client import TinyFishClient
from ..upstream.errors import NotFoundError, UpstreamError
from ..upstream.models import BrowserPage, BrowserProxyConfig, BrowserSessionRequest
from ._inputs import normalize_url
from ._recover import create_session
from ._schema import OutputModel, as_tool_result
from .context import ToolDeps
from .errors import invalid_input
from .sessions import MemorySessionStore, SessionRecord

__all__ = [
    "BrowserSessionInfo",
    "BrowserSessionList",
    "ClosedBrowserSession",
    "NewBrowserSession",
    "register",
    "session_info",
]

log = logging.getLogger(__name__)

TIMEOUT_RANGE = (5, 86400)
# Polling {base_url}/pages for the inspector URL: navigation usually lands within a
# second; give up after about 3 s and say so rather than hold the call.
INSPECT_ATTEMPTS = 8
INSPECT_INTERVAL = 0.35
INSPECT_BUDGET = 3.0
REFRESH_BUDGET = 5.0  # how long one /pages check may take (retries included)
BLANK_PAGES = ("", "about:blank", "about:newtab")
BILLING = "A session bills 1 credit per 4 browser-minutes while it is open, busy or idle."

CREATE_DESCRIPTION = (
    "A remote browser for your Playwright code (connect_over_cdp). Bills 1 credit per 4 minutes while "
    "open, idle or not: close_browser_session when done."
)
LIST_DESCRIPTION = "Your browser sessions, newest first: find open ones to close."
CLOSE_DESCRIPTION = "End a browser session so it stops billing (idempotent)."


class BrowserProxyInput(BaseModel):
    # No docstring: it would become a schema description, sent on every tools/list.

    model_config = ConfigDict(extra="forbid")

    # The run tools' shape: a custom proxy (the SDK's type/url/username/password) is not offered.
    enabled: bool | None = None  # default: on (the TinyFish proxy, US)
    country_code: str | None = None


class NewBrowserSession(OutputModel):
    session_id: str
    cdp_url: str
    base_url: str
    inspector_url: str | None = None
    expires_at: str
    note: str


class BrowserSessionInfo(OutputModel):
    session_id: str
    status: Literal["running", "ended"]
    created_at: str
    last_activity: str
    expires_at: str | None = None
    ended_at: str | None = None
    cdp_url: str | None = None
    base_url: str | None = None


class BrowserSessionList(OutputModel):
    sessions: list[BrowserSessionInfo]
    note: str


class ClosedBrowserSession(OutputModel):
    session_id: str
    closed_now: bool  # False: it had already ended
    ended_at: str | None = None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pages_digest(pages: list[BrowserPage]) -> str:
    seen = sorted((page.id or "", page.url, page.title or "") for page in pages)
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:32]


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
        ended_at=None if ended_at is None else _iso(ended_at),
        cdp_url=record.cdp_url if running else None,
        base_url=record.base_url if running else None,
    )


async def _inspector_url(client: TinyFishClient, key: str, base_url: str) -> str | None:
    """The DevTools URL of the first navigated page, polled briefly (None if not there yet)."""
    with anyio.move_on_after(INSPECT_BUDGET):
        for attempt in range(INSPECT_ATTEMPTS):
            if attempt:
                await anyio.sleep(INSPECT_INTERVAL)
            try:
                pages = await client.list_browser_pages(key, base_url)
            except UpstreamError:
                continue  # the session may still be starting; the next try may work
            for page in pages:
                if page.url not in BLANK_PAGES and page.devtoolsFrontendUrl:
                    return page.devtoolsFrontendUrl
    return None


async def refresh(client: TinyFishClient, key: str, record: SessionRecord) -> SessionRecord:
    """The record updated from the session's ``/pages``: ended (404), active (pages changed), or as is.

    Any other failure leaves the record as it was: its expiry then decides its status.
    """
    if record.ended_at is not None:
        return record
    now = datetime.now(UTC)
    pages: list[BrowserPage] | None = None
    with anyio.move_on_after(REFRESH_BUDGET):
        try:
            pages = await client.list_browser_pages(key, record.base_url)
        except NotFoundError:
            return record.changed(ended_at=min(now, record.expires_at))
        except UpstreamError:
            return record
    if pages is None:
        return record
    digest = _pages_digest(pages)
    if digest != record.pages_digest or record.expires_at <= now:
        # The pages changed (or the session outlived our estimate): someone drove it.
        return record.changed(pages_digest=digest, last_activity=now)
    return record


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register ``create_browser_session``, ``list_browser_sessions`` and ``close_browser_session``."""
    store = deps.browser_sessions if deps.browser_sessions is not None else MemorySessionStore()
    default_timeout = deps.settings.mcp_browser_default_timeout

    async def caller() -> tuple[str, str]:
        key = await deps.resolve_key()
        return key, await deps.owner(key)

    @mcp.tool(
        description=CREATE_DESCRIPTION,
        annotations=ToolAnnotations(
            readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True
        ),
    )
    async def create_browser_session(
        url: Annotated[str | None, Field(description="Start page (no need to goto it)")] = None,
        timeout_seconds: Annotated[
            int | None,
            Field(
                description="Idle seconds before it ends",
                json_schema_extra={"minimum": TIMEOUT_RANGE[0], "maximum": TIMEOUT_RANGE[1]},
            ),
        ] = None,
        proxy_config: BrowserProxyInput | None = None,
    ) -> Annotated[CallToolResult, NewBrowserSession]:
        """Create a TinyFish browser session (see CREATE_DESCRIPTION)."""
        timeout = default_timeout if timeout_seconds is None else timeout_seconds
        low, high = TIMEOUT_RANGE
        if not low <= timeout <= high:
            raise ToolError(
                f"timeout_seconds must be between {low} and {high} (got {timeout}); "
                f"the session bills until it times out, so prefer a short one such as {default_timeout}."
            )
        start_url = normalize_url(url, "url") if url and url.strip() else None
        try:
            proxy = (
                None
                if proxy_config is None
                else BrowserProxyConfig.model_validate(proxy_config.model_dump(exclude_none=True))
            )
            request = BrowserSessionRequest(url=start_url, timeout_seconds=timeout, proxy_config=proxy)
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        key, owner = await caller()
        session = await create_session(
            deps, key, lambda: deps.client.create_browser_session(key, request), timeout_seconds=timeout
        )
        created = datetime.now(UTC)
        record = SessionRecord(
            session_id=session.session_id,
            owner=owner,
            cdp_url=session.cdp_url,
            base_url=session.base_url,
            timeout_seconds=timeout,
            created_at=created,
            last_activity=created,
        )
        close_hint = f"close_browser_session(session_id='{session.session_id}')"
        notes = [
            f"Connect with Playwright: await chromium.connect_over_cdp(cdp_url). {BILLING} It ends by "
            f"itself after {timeout} s without CDP activity; call {close_hint} as soon as you are done "
            "(closing Playwright's browser only disconnects)."
        ]
        # Remember it at once, shielded: it bills from now, even if the call is cancelled.
        try:
            with anyio.CancelScope(shield=True):
                await store.add(record)
        except Exception:
            log.exception("browser session %s could not be recorded", session.session_id)
            notes.append(
                "This server could not record the session, so list/close will not find it: end it "
                "yourself by sending CDP Browser.close on cdp_url, or let it time out."
            )
        inspector = None
        if start_url is None:
            notes.append("No url given: the browser is on about:blank.")
        else:
            inspector = await _inspector_url(deps.client, key, session.base_url)
            if inspector is None:
                notes.append(f"Not navigated yet: GET {session.base_url}/pages later for the inspector.")
        return as_tool_result(
            NewBrowserSession(
                session_id=session.session_id,
                cdp_url=session.cdp_url,
                base_url=session.base_url,
                inspector_url=inspector,
                expires_at=_iso(record.expires_at),
                note=" ".join(notes),
            )
        )

    @mcp.tool(
        description=LIST_DESCRIPTION,
        annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=True),
    )
    async def list_browser_sessions(
        session_id: str | None = None,
        status: Literal["running", "ended"] | None = None,
    ) -> Annotated[CallToolResult, BrowserSessionList]:
        """List recorded sessions (see LIST_DESCRIPTION)."""
        key, owner = await caller()
        if session_id is not None and session_id.strip():
            found = await store.get(owner, session_id.strip())
            records = [] if found is None else [found]
        else:
            records = await store.owned(owner)
        refreshed = list(records)

        async def check(index: int) -> None:
            updated = await refresh(deps.client, key, records[index])
            if updated != records[index]:
                refreshed[index] = updated
                await store.update(updated)

        async with anyio.create_task_group() as group:
            for index, record in enumerate(records):
                if record.ended_at is None:
                    group.start_soon(check, index)
        now = datetime.now(UTC)
        rows = [session_info(record, now) for record in refreshed]
        if status is not None:
            rows = [row for row in rows if row.status == status]
        note = (
            "Only sessions created through this server. last_activity is the last change this server "
            "saw in the session's pages; expires_at assumes no CDP activity since."
        )
        if session_id and not records:
            note = f"No session {session_id!r} was created through this server for you. " + note
        return as_tool_result(BrowserSessionList(sessions=rows, note=note))

    @mcp.tool(
        description=CLOSE_DESCRIPTION,
        annotations=ToolAnnotations(
            readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=True
        ),
    )
    async def close_browser_session(
        session_id: str,
    ) -> Annotated[CallToolResult, ClosedBrowserSession]:
        """Close one session (see CLOSE_DESCRIPTION)."""
        wanted = session_id.strip()
        if not wanted:
            raise ToolError("session_id is empty: pass the session_id that create_browser_session returned.")
        key, owner = await caller()
        record = await store.get(owner, wanted)
        if record is None:
            raise ToolError(
                f"No browser session {wanted!r} was created through this server for you, so it cannot be "
                "closed here (list_browser_sessions shows yours). A session created elsewhere ends after "
                "its inactivity timeout, or when a CDP client sends Browser.close on its cdp_url."
            )
        closed_now = False
        now = datetime.now(UTC)
        if record.ended_at is None:
            try:
                outcome = await deps.client.close_browser_session(key, record.cdp_url)
            except UpstreamError as exc:
                checked = await refresh(deps.client, key, record)
                if checked.ended_at is None:
                    raise ToolError(
                        f"Could not close browser session {wanted}: {exc}. It may still be open and billing "
                        f"(until about {_iso(record.expires_at)} without activity). Call "
                        "close_browser_session again shortly; list_browser_sessions shows its status."
                    ) from None
                record = checked
            else:
                closed_now = outcome == "closed"
                record = record.changed(ended_at=now)
            with anyio.CancelScope(shield=True):
                await store.update(record)
        info = session_info(record, now)
        return as_tool_result(
            ClosedBrowserSession(session_id=info.session_id, closed_now=closed_now, ended_at=info.ended_at)
        )
