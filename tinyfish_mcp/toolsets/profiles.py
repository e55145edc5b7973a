"""The 'profiles' toolset: set up a Browser Context Profile so runs start signed in.

``start_profile_setup_session`` opens a remote browser for a profile and returns its ``cdp_url``
and a live view for the user to sign in; ``save_profile_setup_session`` captures the signed-in state
and closes the browser; ``cancel_profile_setup_session`` closes it without saving. Runs then
pass ``profile_id`` (run_web_automation). ``create_profile`` and ``list_profiles`` are the
hosted server's: a profile by name (optionally the default), and the account's profiles.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import Field, ValidationError

from ..pipeline.catalog import Catalog
from ..runtime.annotations import CREATES, DESTRUCTIVE, READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import invalid_input, shown_id, upstream_call
from ..runtime.human_steps import Answer, ask_to_open, question_in_rounds, resumed_answer, rounds_can_ask
from ..runtime.live_view import LIVE_VIEW_META
from ..runtime.schema import OutputModel, as_tool_result
from ..runtime.sessions import SessionRecord
from ..upstream.errors import APIError, UpstreamError
from ..upstream.profiles import (
    Profile,
    ProfileCreateRequest,
    ProfileSaveRequest,
    ProfileSaveResult,
    ProfileSetupRequest,
    ProfileSetupSession,
)
from ..upstream.tinyfish import inspector_url

__all__ = ["ProfileInfo", "ProfileList", "ProfileSaved", "ProfileSetup", "ProfilesTools", "register", "saved"]

MAX_LISTED = 200
CREATE = (
    "Create a Browser Context Profile (a saved login runs reuse), optionally the default. Then sign it "
    "in with start_profile_setup_session. Free."
)
LIST = "The account's Browser Context Profiles and which is the default (their ids go to profile_id). Free."
ProxyCountry = Literal["US", "GB", "CA", "AU", "DE", "FR", "IT", "ES", "NL", "JP", "SG", "BR", "IN"]


class ProfileInfo(OutputModel):
    profile_id: str
    name: str
    proxy_country_code: str | None = None
    is_default: bool | None = None
    domain_count: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ProfileList(OutputModel):
    profiles: list[ProfileInfo]
    note: str | None = None


def _info(profile: Profile) -> ProfileInfo:
    return ProfileInfo(
        profile_id=profile.id,
        name=profile.name,
        proxy_country_code=profile.proxy_country_code,
        is_default=profile.is_default,
        domain_count=profile.domain_count,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


FIND = "the session_id comes from start_profile_setup_session; a saved or cancelled session is closed"
ProfileArg = Annotated[str, Field(min_length=1, max_length=100, description="the profile to sign in to")]
SessionArg = Annotated[str, Field(min_length=1, description="session_id from start_profile_setup_session")]

START = (
    "Open a remote browser to sign a profile in: give the user viewer_url (or drive cdp_url "
    "with Playwright), then call save_profile_setup_session. The browser bills like a browser "
    "session until saved, cancelled or idle for timeout_seconds. Runs then pass profile_id to start "
    "signed in."
)
SAVE = (
    "Save the signed-in state of a profile setup browser into the profile and close "
    "the browser. signed_in_sites: the sites the user signed in to (hosts or URLs)."
)
CANCEL = "Close a profile setup browser without saving anything."


class ProfileSaved(OutputModel):
    profile_id: str
    domains_updated: list[str]
    cookie_count: int
    signed_in_sites: list[str] | None = None
    rejected_sites: list[str] | None = None
    domains_failed: list[str] | None = None
    note: str | None = None


class ProfileSetup(OutputModel):
    profile_id: str
    session_id: str
    cdp_url: str
    base_url: str
    viewer_url: str | None = None
    expires_at: str | None = None
    next_step: str
    # Set when the client could ask the user to sign in (URL elicitation): what they answered.
    user_answer: str | None = None
    saved: ProfileSaved | None = None


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


class ProfilesTools:
    """The profiles toolset's tools, bound to what they share; ``register`` names each one."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps

    async def create_profile(
        self,
        name: Annotated[str, Field(min_length=1, max_length=100, description="1-100 characters")],
        proxy_country_code: ProxyCountry | None = None,
        set_as_default: Annotated[bool, Field(description="Later runs use it automatically")] = False,
    ) -> Annotated[CallToolResult, ProfileInfo]:
        """Create a profile (see CREATE)."""
        try:
            request = ProfileCreateRequest(
                name=name, proxy_country_code=proxy_country_code, set_as_default=set_as_default or None
            )
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        key = await self.deps.resolve_key()
        profile = await upstream_call("creating the profile", self._create(key, request))
        info = _info(profile)
        if info.is_default is None and set_as_default:
            info.is_default = True
        return as_tool_result(info)

    async def list_profiles(self) -> Annotated[CallToolResult, ProfileList]:
        """The account's profiles (see LIST)."""
        key = await self.deps.resolve_key()
        listed = await upstream_call("listing the profiles", self.deps.client.profiles.list(key))
        shown = [_info(p) for p in listed.profiles[:MAX_LISTED]]
        note = None
        if not listed.profiles:
            note = "No profiles yet: create_profile makes one, start_profile_setup_session signs it in."
        elif len(listed.profiles) > MAX_LISTED:
            note = f"Showing {MAX_LISTED} of {len(listed.profiles)} profiles."
        return as_tool_result(ProfileList(profiles=shown, note=note))

    async def start_profile_setup_session(
        self,
        profile_id: ProfileArg,
        ctx: Context[Any, Any],
        url: Annotated[str | None, Field(description="the sign-in page to open")] = None,
        timeout_seconds: Annotated[int | None, Field(ge=5, le=86_400)] = None,
    ) -> Annotated[CallToolResult, ProfileSetup]:
        """Open a setup browser; where the client can, ask the user to sign in (see START)."""
        deps = self.deps
        if url is not None and "://" not in url.strip():
            url = "https://" + url.strip()
        try:
            request = ProfileSetupRequest(url=url, timeout_seconds=timeout_seconds)
        except ValidationError as exc:
            raise invalid_input(exc) from None
        key = await deps.resolve_key()
        resumed = await self._resumed(key, ctx)
        if resumed is not None:
            return as_tool_result(resumed)
        session = await upstream_call(
            "opening the profile setup browser (it may be open already: do not retry at once)",
            deps.client.profiles.start_setup(key, profile_id, request),
        )
        await deps.record_owned(key, "profile_setup", [session.session_id])
        await self._remember(key, session, timeout_seconds)
        live = await inspector_url(deps.client, key, session.base_url) if url else None
        setup = ProfileSetup(
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
        if live is not None:
            asked = await self._ask_to_sign_in(key, ctx, setup, live)
            if isinstance(asked, InputRequiredResult):
                # The SDK hands an InputRequiredResult through as is (FuncMetadata.convert_result);
                # the annotation stays the final result's, from which the output schema is made.
                return cast(CallToolResult, asked)
            setup = asked
        return as_tool_result(setup)

    async def save_profile_setup_session(
        self,
        profile_id: ProfileArg,
        session_id: SessionArg,
        signed_in_sites: Annotated[list[str] | None, Field(max_length=50)] = None,
    ) -> Annotated[CallToolResult, ProfileSaved]:
        """Save a setup browser's sign-in into the profile (see SAVE)."""
        try:
            request = ProfileSaveRequest(session_id=session_id, signed_in_sites=signed_in_sites)
        except ValidationError as exc:
            raise invalid_input(exc) from None
        key = await self.deps.resolve_key()
        await self._require_setup(key, session_id)
        result = await upstream_call(
            f"saving profile {profile_id}",
            self.deps.client.profiles.save(key, profile_id, request),
            find=FIND,
        )
        await self._ended(key, session_id)
        return as_tool_result(saved(profile_id, result))

    async def cancel_profile_setup_session(
        self, profile_id: ProfileArg, session_id: SessionArg
    ) -> Annotated[CallToolResult, SetupCancelled]:
        """Close a setup browser without saving (see CANCEL)."""
        key = await self.deps.resolve_key()
        await self._require_setup(key, session_id)
        result = await upstream_call(
            f"cancelling the setup of profile {profile_id}",
            self.deps.client.profiles.cancel_setup(key, profile_id, session_id),
            find=FIND,
        )
        await self._ended(key, session_id)
        return as_tool_result(
            SetupCancelled(profile_id=profile_id, session_id=session_id, cancelled=result.cancelled)
        )

    async def _require_setup(self, key: str, session_id: str) -> None:
        """Refuse, as not found, a setup session the caller did not start."""
        await upstream_call(
            f"reading profile setup session {shown_id(session_id)}",
            self.deps.require_owned(key, "profile_setup", session_id),
            find=FIND,
        )

    async def _remember(self, key: str, session: ProfileSetupSession, asked: int | None) -> None:
        """Record a setup browser with the browser sessions, so it is closed like one when the client
        goes away (stdio), listed by list_browser_sessions, and closable by close_browser_session."""
        deps = self.deps
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

    async def _ended(self, key: str, session_id: str) -> None:
        """Note that saving or cancelling ended a setup browser (nothing is left to close)."""
        sessions = self.deps.browser_sessions
        if sessions is None:
            return
        record = await sessions.get(await self.deps.owner(key), session_id)
        if record is not None and record.ended_at is None:
            await sessions.update(record.changed(ended_at=datetime.now(UTC)))

    async def _create(self, key: str, request: ProfileCreateRequest) -> Profile:
        """Create the profile once; if the answer is lost, find it by name rather than create another."""
        client = self.deps.client
        try:
            return await client.profiles.create(key, request)
        except UpstreamError as exc:
            if isinstance(exc, APIError) and exc.status == 409:
                raise ToolError(
                    f"A profile named {request.name!r} already exists: list_profiles shows its profile_id "
                    "(use it, or create the profile under another name)."
                ) from None
            if not exc.may_have_been_processed:
                raise
            listed = await upstream_call("looking for the new profile", client.profiles.list(key))
            found = [p for p in listed.profiles if p.name.casefold() == request.name.casefold()]
            if len(found) == 1:
                return found[0]
            raise ToolError(
                f"TinyFish may have created profile {request.name!r} although its answer was lost ({exc}). "
                "Call list_profiles to see it before creating it again."
            ) from None

    async def _ask_to_sign_in(
        self, key: str, ctx: Context[Any, Any], setup: ProfileSetup, viewer: str
    ) -> ProfileSetup | InputRequiredResult:
        """Where the client can ask (URL elicitation): sign in, then save; a no closes the browser."""
        message = (
            f"Open this browser and sign in to the sites profile {setup.profile_id} should keep, then accept "
            "to save the sign-in. Decline to close the browser without saving."
        )
        if rounds_can_ask(ctx):  # 2026-07-28: asked in rounds, answered when the call comes again
            return question_in_rounds(message, viewer, {"setup": setup.model_dump(mode="json")})
        answer = await ask_to_open(ctx, self.deps.settings, message, viewer)
        return await self._answered(key, setup, answer)

    async def _resumed(self, key: str, ctx: Context[Any, Any]) -> ProfileSetup | None:
        """The call sent again with the user's answer (2026-07-28): act on it for the setup it names."""
        if ctx.request_state is None:
            return None
        resumed = resumed_answer(ctx, self.deps.settings)
        try:
            answer, state = resumed if resumed is not None else ("unanswered", {})
            setup = ProfileSetup.model_validate(state.get("setup"))
        except ValidationError:  # never open a second setup browser for an answer we cannot read
            raise ToolError(
                "This call's requestState is not a sign-in question of this tool. Call "
                "start_profile_setup_session again without it (cancel_profile_setup_session closes a "
                "setup browser left open)."
            ) from None
        # The sealed state is bound to the caller; the owner check still applies.
        await self._require_setup(key, setup.session_id)
        return await self._answered(key, setup, answer)

    async def _answered(self, key: str, setup: ProfileSetup, answer: Answer) -> ProfileSetup:
        """Save on a yes, close the browser on a no, say what to do next on no answer."""
        client = self.deps.client
        if answer == "not_asked":
            return setup
        if answer == "accept":
            request = ProfileSaveRequest(session_id=setup.session_id)
            result = await upstream_call(
                f"saving profile {setup.profile_id}", client.profiles.save(key, setup.profile_id, request)
            )
            await self._ended(key, setup.session_id)
            done = f"Saved: runs can now pass profile_id='{setup.profile_id}'."
            return setup.model_copy(
                update={"user_answer": answer, "saved": saved(setup.profile_id, result), "next_step": done}
            )
        if answer in ("decline", "cancel"):
            await upstream_call(
                f"cancelling the setup of profile {setup.profile_id}",
                client.profiles.cancel_setup(key, setup.profile_id, setup.session_id),
            )
            await self._ended(key, setup.session_id)
            closed = "The user declined: the setup browser was closed and nothing was saved."
            return setup.model_copy(update={"user_answer": answer, "next_step": closed})
        seconds = f"{self.deps.settings.mcp_elicitation_timeout:g}"
        waiting = f"The user did not answer within {seconds} s; the browser is still open. " + setup.next_step
        return setup.model_copy(update={"user_answer": answer, "next_step": waiting})


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register the profile tools on ``mcp``."""
    tools = ProfilesTools(deps)
    mcp.tool(description=CREATE, annotations=CREATES)(tools.create_profile)
    mcp.tool(description=LIST, annotations=READ_ONLY)(tools.list_profiles)
    mcp.tool(description=START, meta=LIVE_VIEW_META, annotations=CREATES)(tools.start_profile_setup_session)
    mcp.tool(description=SAVE, annotations=CREATES)(tools.save_profile_setup_session)
    mcp.tool(description=CANCEL, annotations=DESTRUCTIVE)(tools.cancel_profile_setup_session)
