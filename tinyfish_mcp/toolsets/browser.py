"""The 'browser' toolset: remote browser sessions to drive over CDP, and to close.

``create_browser_session`` starts a session, ``list_browser_sessions`` (``browser_list.py``)
pages through the provider's own listing, and ``close_browser_session`` ends one with CDP
``Browser.close``. TinyFish cannot delete sessions and its listing gives no connection
URLs, and a session bills while it is open (1 credit per 4 browser-minutes), so the
default timeout is short and every creation says how to close it.

Sessions are recorded in a :class:`~.sessions.BrowserSessionStore` under their owner
(a digest naming the user, never a key); a user sees and closes only their own.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..pipeline.catalog import Catalog, Nature
from ..runtime.annotations import CREATES, DESTRUCTIVE, READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input
from ..runtime.live_view import LIVE_VIEW_META
from ..runtime.recover import create_session
from ..runtime.schema import OutputModel, as_tool_result, schema_bounds
from ..runtime.sessions import MemorySessionStore, SessionRecord, observed_sessions, owner_of_key
from ..upstream.errors import UpstreamError
from ..upstream.providers import ListedSession, OpenSession, SessionQuery
from ._inputs import normalize_url
from ._provider_args import with_extra_arguments
from .browser_extras import CONTEXT_DESCRIPTION, BrowserExtras
from .browser_list import (
    LIST_DESCRIPTION,
    BrowserListing,
    BrowserSessionInfo,
    BrowserSessionList,
    refresh,
    session_info,
)

__all__ = [
    "BrowserSessionInfo",
    "BrowserSessionList",
    "BrowserTools",
    "ClosedBrowserSession",
    "NewBrowserSession",
    "register",
    "session_info",
]

log = logging.getLogger(__name__)

TIMEOUT_RANGE = (5, 86400)

CREATE_DESCRIPTION = (
    "A remote browser for your Playwright code (connect_over_cdp). Bills 1 credit per 4 minutes while "
    "open, idle or not: close_browser_session when done."
)
CLOSE_DESCRIPTION = "End a browser session so it stops billing (idempotent)."


class BrowserProxyInput(BaseModel):
    # No docstring: it would become a schema description, sent on every tools/list.

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on the first call

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


class ClosedBrowserSession(OutputModel):
    session_id: str
    closed_now: bool  # False: it had already ended
    ended_at: str | None = None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BrowserTools:
    """The browser toolset's own tools, bound to the provider and the session store they share."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps
        self.store = observed_sessions(deps.browser_sessions or MemorySessionStore())
        self.default_timeout = deps.settings.mcp_browser_default_timeout
        self.provider = deps.providers.browser

    async def caller(self) -> tuple[str, str]:
        """The provider's key for the calls, and the owner: the MCP user (hosted: from their sign-in)."""
        key = await self.provider.credential()
        hosted = self.deps.resolve_owner is not None
        owner = await self.deps.owner(await self.deps.resolve_key() if hosted else key)
        return key, owner

    async def create_browser_session(
        self,
        url: Annotated[str | None, Field(description="Start page (no need to goto it)")] = None,
        timeout_seconds: Annotated[
            int | None,
            schema_bounds(*TIMEOUT_RANGE, description="Idle seconds before it ends"),
        ] = None,
        proxy_config: BrowserProxyInput | None = None,
        **extras: Any,
    ) -> Annotated[CallToolResult, NewBrowserSession]:
        """Create a browser session with the active provider (see CREATE_DESCRIPTION)."""
        # the payload models load on first use, not at start-up
        from ..upstream.models import BrowserProxyConfig, BrowserSessionRequest

        timeout = self.default_timeout if timeout_seconds is None else timeout_seconds
        low, high = TIMEOUT_RANGE
        if not low <= timeout <= high:
            raise ToolError(
                f"timeout_seconds must be between {low} and {high} (got {timeout}); "
                f"the session bills until it times out, so prefer a short one such as {self.default_timeout}."
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
        key, owner = await self.caller()

        async def find(since: datetime) -> list[ListedSession]:
            # Sessions created since the request left that this server has not recorded.
            query = SessionQuery(limit=100, start_after=_iso(since))
            known = {record.session_id for record in await self.store.owned(owner)}
            listed = await self.provider.list_sessions(key, query)
            return [s for s in listed.sessions if s.session_id not in known and s.status == "running"]

        def rebuild(found: ListedSession) -> OpenSession:
            return OpenSession(
                session_id=found.session_id, cdp_url=found.cdp_url or "", timeout_seconds=timeout
            )

        provider = self.provider
        session = await create_session(
            self.deps,
            key,
            lambda: provider.create_session(key, request, extras),
            timeout_seconds=timeout,
            # Where users share the key, the listing shows other users' sessions: not used.
            find=find if owner == owner_of_key(key) else None,
            rebuild=rebuild,
        )
        created = datetime.now(UTC)
        record = SessionRecord(
            session_id=session.session_id,
            owner=owner,
            cdp_url=session.cdp_url,
            base_url=session.base_url,
            timeout_seconds=session.timeout_seconds or timeout,
            created_at=created,
            last_activity=created,
        )
        close_hint = f"close_browser_session(session_id='{session.session_id}')"
        notes = [
            "Connect with Playwright: await chromium.connect_over_cdp(cdp_url). "
            f"{provider.billing} It ends by itself after {record.timeout_seconds} s without CDP "
            f"activity; call {close_hint} as soon as you are done (closing Playwright's browser only "
            "disconnects)."
        ]
        # Remember it at once, shielded: it bills from now, even if the call is cancelled.
        try:
            with anyio.CancelScope(shield=True):
                await self.store.add(record)
        except Exception:
            log.exception("browser session %s could not be recorded", session.session_id)
            notes.append(
                "This server could not record the session, so list/close will not find it: end it "
                "yourself by sending CDP Browser.close on cdp_url, or let it time out."
            )
        inspector = session.live_view_url
        if inspector is None and start_url is None:
            notes.append("No url given: the browser is on about:blank.")
        elif inspector is None:
            inspector = await provider.live_view(key, session)
            if inspector is None:
                notes.append(f"Not navigated yet: GET {session.base_url}/pages later for the inspector.")
        else:
            notes.append(
                "inspector_url is a live view: a person can open it to take over (CAPTCHA, second factor)."
            )
        expires = session.expires_at or record.expires_at
        return as_tool_result(
            NewBrowserSession(
                session_id=session.session_id,
                cdp_url=session.cdp_url,
                base_url=session.base_url,
                inspector_url=inspector,
                expires_at=_iso(expires),
                note=" ".join(notes),
            )
        )

    async def close_browser_session(
        self,
        session_id: str,
    ) -> Annotated[CallToolResult, ClosedBrowserSession]:
        """Close one session (see CLOSE_DESCRIPTION)."""
        wanted = session_id.strip()
        if not wanted:
            raise ToolError("session_id is empty: pass the session_id that create_browser_session returned.")
        key, owner = await self.caller()
        record = await self.store.get(owner, wanted)
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
                outcome = await self.provider.close_session(key, record.session_id, record.cdp_url)
            except UpstreamError as exc:
                checked = await refresh(self.provider, key, record)
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
                await self.store.update(record)
        info = session_info(record, now)
        return as_tool_result(
            ClosedBrowserSession(session_id=info.session_id, closed_now=closed_now, ended_at=info.ended_at)
        )


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the browser tools (and the provider's own tool and resources) on ``mcp``."""
    tools = BrowserTools(deps)
    provider = tools.provider
    extras = BrowserExtras(provider, tools.store, tools.caller, deps.settings.mcp_max_result_chars)
    listing = BrowserListing(provider, tools.store, tools.caller)
    if provider.supports_contexts:
        mcp.tool(description=CONTEXT_DESCRIPTION, annotations=CREATES)(extras.create_browser_context)
    for kind in provider.artifacts:
        mcp.resource(
            f"{provider.name}://sessions/{{session_id}}/{kind}",
            name=f"browser_session_{kind}",
            description=f"A browser session's {kind} as JSON (bounded).",
            mime_type="application/json",
        )(extras.artifact_reader(kind))
    # Registered under a signature that lists the active provider's own arguments.
    create = with_extra_arguments(tools.create_browser_session, provider.create_arguments())
    mcp.tool(
        nature=Nature(billed=True), description=CREATE_DESCRIPTION, meta=LIVE_VIEW_META, annotations=CREATES
    )(create)
    mcp.tool(description=LIST_DESCRIPTION, annotations=READ_ONLY)(listing.list_browser_sessions)
    mcp.tool(description=CLOSE_DESCRIPTION, annotations=DESTRUCTIVE)(tools.close_browser_session)
