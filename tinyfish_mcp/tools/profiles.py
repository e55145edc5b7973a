"""The 'profiles' toolset: set up a Browser Context Profile so runs start signed in.

``start_profile_setup_session`` opens a remote browser for a profile and returns its ``cdp_url``
and a live view for the user to sign in; ``save_profile_setup_session`` captures the signed-in state
and closes the browser; ``cancel_profile_setup_session`` closes it without saving. Runs then
pass ``profile_id`` (run_web_automation). The API lists no profiles, so neither do we.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field, ValidationError

from ..upstream.profiles import (
    ProfileSaveRequest,
    ProfileSaveResult,
    ProfileSetupRequest,
    ProfileSetupSession,
)
from ._schema import OutputModel, as_tool_result
from .browser import _inspector_url
from .context import ToolDeps
from .errors import invalid_input, shown_id, upstream_call
from .live_view import LIVE_VIEW_META
from .sessions import SessionRecord

__all__ = ["ProfileSaved", "ProfileSetup", "register", "saved"]

FIND = "the session_id comes from start_profile_setup_session; a saved or cancelled session is closed"
ProfileArg = Annotated[str, Field(min_length=1, max_length=100, description="the profile to sign in to")]
SessionArg = Annotated[str, Field(min_length=1, description="session_id from start_profile_setup_session")]

START = (
    "Open a remote browser to sign a profile in: give the user viewer_url (or drive cdp_url "
    "with Playwright), then call save_profile_setup_session. The browser bills like a browser "
    "session until saved, cancelled or idle for timeout_seconds. Runs then pass profile_id to start "
    "signed in."
)


class ProfileSetup(OutputModel):
    profile_id: str
    session_id: str
    cdp_url: str
    base_url: str
    viewer_url: str | None = None
    expires_at: str | None = None
    next_step: str


class ProfileSaved(OutputModel):
    profile_id: str
    domains_updated: list[str]
    cookie_count: int
    signed_in_sites: list[str] | None = None
    rejected_sites: list[str] | None = None
    domains_failed: list[str] | None = None
    note: str | None = None


class SetupCancelled(OutputModel):
    profile_id: str
    session_id: str
    cancelled: bool


def saved(profile_id: str, result: ProfileSaveResult) -> ProfileSaved:
    confirmed = result.user_confirmed_sites
    rejected = [f"{r.site} ({r.reason})" for r in confirmed.rejected] if confirmed else []
    notes = []
    if not result.domains_updated:
        notes.append("Nothing was saved: no sign-in state was found in the browser. Start a new setup.")
    if result.cleanup_failed:
        notes.append("The state was saved, but the setup browser did not close cleanly.")
    return ProfileSaved(
        profile_id=profile_id,
        domains_updated=result.domains_updated,
        cookie_count=result.cookie_count,
        signed_in_sites=result.signed_in_sites,
        rejected_sites=rejected or None,
        domains_failed=result.domains_failed or None,
        note=" ".join(notes) or None,
    )


async def _remember(deps: ToolDeps, key: str, session: ProfileSetupSession, asked: int | None) -> None:
    """Record a setup browser with the browser sessions, so it is closed like one when the client
    goes away (stdio), listed by list_browser_sessions, and closable by close_browser_session."""
    if deps.browser_sessions is None:
        return
    now = datetime.now(UTC)
    await deps.browser_sessions.add(
        SessionRecord(
            session_id=session.session_id,
            owner=await deps.owner(key),
            cdp_url=session.cdp_url,
            base_url=session.base_url,
            timeout_seconds=session.timeout_seconds or asked or deps.settings.mcp_browser_default_timeout,
            created_at=now,
            last_activity=now,
        )
    )


async def _ended(deps: ToolDeps, key: str, session_id: str) -> None:
    """Note that saving or cancelling ended a setup browser (nothing is left to close)."""
    if deps.browser_sessions is None:
        return
    record = await deps.browser_sessions.get(await deps.owner(key), session_id)
    if record is not None and record.ended_at is None:
        await deps.browser_sessions.update(record.changed(ended_at=datetime.now(UTC)))


def register(mcp: MCPServer, deps: ToolDeps) -> None:
    """Register the three profile setup tools on ``mcp``."""

    @mcp.tool(
        description=START,
        meta=LIVE_VIEW_META,
        annotations=ToolAnnotations(
            readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True
        ),
    )
    async def start_profile_setup_session(
        profile_id: ProfileArg,
        url: Annotated[str | None, Field(description="the sign-in page to open")] = None,
        timeout_seconds: Annotated[int | None, Field(ge=5, le=86_400)] = None,
    ) -> Annotated[CallToolResult, ProfileSetup]:
        if url is not None and "://" not in url.strip():
            url = "https://" + url.strip()
        try:
            request = ProfileSetupRequest(url=url, timeout_seconds=timeout_seconds)
        except ValidationError as exc:
            raise invalid_input(exc) from None
        key = await deps.resolve_key()
        session = await upstream_call(
            "opening the profile setup browser (it may be open already: do not retry at once)",
            deps.client.profiles.start_setup(key, profile_id, request),
        )
        await deps.record_owned(key, "profile_setup", [session.session_id])
        await _remember(deps, key, session, timeout_seconds)
        live = await _inspector_url(deps.client, key, session.base_url) if url else None
        return as_tool_result(
            ProfileSetup(
                profile_id=profile_id,
                session_id=session.session_id,
                cdp_url=session.cdp_url,
                base_url=session.base_url,
                viewer_url=live,
                expires_at=session.expires_at,
                next_step="Once the user has signed in, call save_profile_setup_session("
                f"profile_id='{profile_id}', session_id='{session.session_id}', signed_in_sites=[...]); "
                "or cancel_profile_setup_session.",
            )
        )

    @mcp.tool(
        description="Save the signed-in state of a profile setup browser into the profile and close "
        "the browser. signed_in_sites: the sites the user signed in to (hosts or URLs).",
        annotations=ToolAnnotations(
            readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=True
        ),
    )
    async def save_profile_setup_session(
        profile_id: ProfileArg,
        session_id: SessionArg,
        signed_in_sites: Annotated[list[str] | None, Field(max_length=50)] = None,
    ) -> Annotated[CallToolResult, ProfileSaved]:
        try:
            request = ProfileSaveRequest(session_id=session_id, signed_in_sites=signed_in_sites)
        except ValidationError as exc:
            raise invalid_input(exc) from None
        key = await deps.resolve_key()
        await upstream_call(
            f"reading profile setup session {shown_id(session_id)}",
            deps.require_owned(key, "profile_setup", session_id),
            find=FIND,
        )
        result = await upstream_call(
            f"saving profile {profile_id}", deps.client.profiles.save(key, profile_id, request), find=FIND
        )
        await _ended(deps, key, session_id)
        return as_tool_result(saved(profile_id, result))

    @mcp.tool(
        description="Close a profile setup browser without saving anything.",
        annotations=ToolAnnotations(
            readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=True
        ),
    )
    async def cancel_profile_setup_session(
        profile_id: ProfileArg, session_id: SessionArg
    ) -> Annotated[CallToolResult, SetupCancelled]:
        key = await deps.resolve_key()
        await upstream_call(
            f"reading profile setup session {shown_id(session_id)}",
            deps.require_owned(key, "profile_setup", session_id),
            find=FIND,
        )
        result = await upstream_call(
            f"cancelling the setup of profile {profile_id}",
            deps.client.profiles.cancel_setup(key, profile_id, session_id),
            find=FIND,
        )
        await _ended(deps, key, session_id)
        return as_tool_result(
            SetupCancelled(profile_id=profile_id, session_id=session_id, cancelled=result.cancelled)
        )
