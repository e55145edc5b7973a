"""The 'browser' toolset: remote browser sessions to drive over CDP.

``create_browser_session`` starts a session and ``list_browser_sessions`` shows the
sessions this server process started. TinyFish has no endpoint to list or delete
sessions, and a session bills until its inactivity timeout, so the default timeout is
short (``settings.mcp_browser_default_timeout``, 300 s) rather than the plan maximum.

Sessions are remembered in memory per API key (under a hash of the key, never the
key itself), so on a shared HTTP server no user sees another user's sessions.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field, ValidationError

from ..upstream.client import TinyFishClient
from ..upstream.errors import UpstreamError
from ..upstream.models import BrowserSession, BrowserSessionRequest
from ._inputs import normalize_url
from ._recover import create_session
from ._schema import OutputModel, as_tool_result
from .context import ToolDeps
from .errors import invalid_input

__all__ = [
    "BrowserSessionInfo",
    "BrowserSessionList",
    "NewBrowserSession",
    "SessionRecord",
    "SessionRegistry",
    "register",
    "session_info",
]

TIMEOUT_RANGE = (5, 86400)
# Polling {base_url}/pages for the inspector URL: navigation usually lands within a
# second; give up after about 3 s and say so rather than hold the call.
INSPECT_ATTEMPTS = 8
INSPECT_INTERVAL = 0.35
INSPECT_BUDGET = 3.0
MAX_SESSIONS_PER_KEY = 50  # remembered per key; the oldest are forgotten first
FORGET_AFTER = timedelta(hours=24)  # an expired session is listed for a day, then forgotten
BLANK_PAGES = ("", "about:blank", "about:newtab")

CREATE_DESCRIPTION = (
    "Start a remote browser to drive over CDP (Playwright connect_over_cdp). It cannot be closed "
    "and bills until timeout_seconds pass without CDP activity: keep it short. For goal-based "
    "tasks use run_web_automation."
)
LIST_DESCRIPTION = "Browser sessions this server started for you, newest first, with status and expiry."


class NewBrowserSession(OutputModel):
    session_id: str
    cdp_url: str
    base_url: str
    inspector_url: str | None = None
    expires_at: str
    connect_hint: str
    note: str | None = None


class BrowserSessionInfo(OutputModel):
    session_id: str
    status: Literal["active", "expired"]
    created_at: str
    last_activity: str
    expires_at: str
    cdp_url: str
    base_url: str


class BrowserSessionList(OutputModel):
    sessions: list[BrowserSessionInfo]
    note: str


@dataclass
class SessionRecord:
    session: BrowserSession
    timeout: int
    created_at: datetime
    # We cannot observe CDP traffic, so the last activity we know of is the creation or
    # our own /pages poll; a client driving the session keeps it alive past expires_at.
    last_activity: datetime

    @property
    def expires_at(self) -> datetime:
        return self.last_activity + timedelta(seconds=self.timeout)


@dataclass
class SessionRegistry:
    """Sessions created by this server, per API key (held as a SHA-256 digest)."""

    _by_key: dict[str, OrderedDict[str, SessionRecord]] = field(default_factory=dict)

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def add(self, key: str, record: SessionRecord) -> None:
        sessions = self._by_key.setdefault(self._digest(key), OrderedDict())
        sessions[record.session.session_id] = record
        horizon = record.created_at - FORGET_AFTER
        for session_id in [sid for sid, old in sessions.items() if old.expires_at < horizon]:
            del sessions[session_id]
        while len(sessions) > MAX_SESSIONS_PER_KEY:
            sessions.popitem(last=False)

    def list(self, key: str) -> list[SessionRecord]:
        return list(reversed(self._by_key.get(self._digest(key), OrderedDict()).values()))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


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


def session_info(record: SessionRecord, now: datetime) -> BrowserSessionInfo:
    return BrowserSessionInfo(
        session_id=record.session.session_id,
        status="active" if record.expires_at > now else "expired",
        created_at=_iso(record.created_at),
        last_activity=_iso(record.last_activity),
        expires_at=_iso(record.expires_at),
        cdp_url=record.session.cdp_url,
        base_url=record.session.base_url,
    )


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register ``create_browser_session`` and ``list_browser_sessions`` on ``mcp``."""
    registry = SessionRegistry()
    default_timeout = deps.settings.mcp_browser_default_timeout

    @mcp.tool(
        description=CREATE_DESCRIPTION,
        annotations=ToolAnnotations(
            readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True
        ),
    )
    async def create_browser_session(
        url: Annotated[str | None, Field(description="Start page (a bare domain gets https://)")] = None,
        timeout_seconds: Annotated[
            int | None,
            Field(
                description="Inactivity timeout in seconds; short by default",
                json_schema_extra={"minimum": TIMEOUT_RANGE[0], "maximum": TIMEOUT_RANGE[1]},
            ),
        ] = None,
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
            request = BrowserSessionRequest(url=start_url, timeout_seconds=timeout)
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        key = await deps.resolve_key()
        session = await create_session(
            deps, key, lambda: deps.client.create_browser_session(key, request), timeout_seconds=timeout
        )
        created = datetime.now(UTC)
        record = SessionRecord(session=session, timeout=timeout, created_at=created, last_activity=created)
        # Remember it at once: it bills from now, even if the call is cancelled while polling.
        registry.add(key, record)
        inspector = None
        note = None
        if start_url is None:
            note = "No url given: the browser is on about:blank, so there is no inspector page yet."
        else:
            inspector = await _inspector_url(deps.client, key, session.base_url)
            if inspector is None:
                note = f"Not navigated yet: GET {session.base_url}/pages later for devtoolsFrontendUrl."
            else:
                record.last_activity = datetime.now(UTC)
        return as_tool_result(
            NewBrowserSession(
                session_id=session.session_id,
                cdp_url=session.cdp_url,
                base_url=session.base_url,
                inspector_url=inspector,
                expires_at=_iso(record.expires_at),
                connect_hint=f"Playwright: browser = await chromium.connect_over_cdp({session.cdp_url!r})",
                note=note,
            )
        )

    @mcp.tool(
        description=LIST_DESCRIPTION,
        annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False),
    )
    async def list_browser_sessions() -> Annotated[CallToolResult, BrowserSessionList]:
        """List remembered sessions (see LIST_DESCRIPTION)."""
        key = await deps.resolve_key()
        now = datetime.now(UTC)
        sessions = [session_info(record, now) for record in registry.list(key)]
        return as_tool_result(
            BrowserSessionList(
                sessions=sessions,
                note=(
                    "Only sessions created through this server since it started. expires_at assumes "
                    "no CDP activity; a session in use stays alive longer."
                ),
            )
        )
