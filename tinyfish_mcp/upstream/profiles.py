"""Browser Context Profiles: sign in once through a remote browser, reuse it in runs.

``POST /v1/profiles/{id}/setup-session`` opens a setup browser (a billed browser
session: never re-sent blindly); ``.../save`` captures its signed-in state into the
profile and closes it; ``.../setup-session/cancel`` closes it without saving. The API
has no listing of profiles. Shapes follow ``tinyfish.profiles``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from .constants import RequestKind
from .errors import InvalidInputError
from .models._base import _Request, _require_http_url, _Response
from .models.products import BrowserSession

if TYPE_CHECKING:
    from .client import TinyFishClient

__all__ = [
    "ProfileSaveRequest",
    "ProfileSaveResult",
    "ProfileSetupCancelled",
    "ProfileSetupRequest",
    "ProfileSetupSession",
    "ProfilesAPI",
]


class ProfileSetupRequest(_Request):
    url: str | None = None
    timeout_seconds: int | None = Field(default=None, ge=5, le=86_400)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _require_http_url(value, "url")


class ProfileSaveRequest(_Request):
    session_id: str = Field(min_length=1)
    signed_in_sites: list[str] | None = Field(default=None, max_length=50)


class ProfileSetupSession(BrowserSession):
    timeout_seconds: int | None = None
    expires_at: str | None = None


class ProfileSetupSignIn(_Response):
    site: str | None = None
    status: str


class ProfileRejectedSite(_Response):
    site: str
    reason: str


class ProfileUserConfirmedSites(_Response):
    recorded: list[str] = Field(default_factory=list)
    rejected: list[ProfileRejectedSite] = Field(default_factory=list)


class ProfileDomainsSkipped(_Response):
    cookies_skipped: list[str] = Field(default_factory=list)
    local_storage_skipped: list[str] = Field(default_factory=list)
    session_storage_skipped: list[str] = Field(default_factory=list)
    blob_too_large: list[str] = Field(default_factory=list)


class ProfileSaveResult(_Response):
    domains_updated: list[str] = Field(default_factory=list)
    domains_failed: list[str] = Field(default_factory=list)
    cookie_count: int = 0
    domains_skipped: ProfileDomainsSkipped | None = None
    pages_captured: int | None = None
    target_reads_skipped: int | None = None
    cleanup_failed: bool | None = None
    cleanup_kind: str | None = None
    signed_in_sites: list[str] | None = None
    sign_in: ProfileSetupSignIn | None = None
    user_confirmed_sites: ProfileUserConfirmedSites | None = None


class ProfileSetupCancelled(_Response):
    cancelled: bool


def _path(profile_id: str, suffix: str) -> str:
    from urllib.parse import quote

    if not profile_id or not profile_id.strip():
        raise InvalidInputError(
            "profile_id must not be empty", details=[{"path": ["profile_id"], "message": "empty"}]
        )
    return f"/{quote(profile_id.strip(), safe='')}/{suffix}"


class ProfilesAPI:
    """``client.profiles``: the setup of a profile (start, save, cancel)."""

    def __init__(self, client: TinyFishClient) -> None:
        self._client = client

    async def start_setup(
        self, key: str, profile_id: str, request: ProfileSetupRequest
    ) -> ProfileSetupSession:
        """POST /v1/profiles/{id}/setup-session: opens a billed browser. Never re-sent blindly."""
        return await self._client._call(
            ProfileSetupSession, "POST", "profiles", _path(profile_id, "setup-session"),
            key=key, kind=RequestKind.CREATE, json=request.to_body(),
        )  # fmt: skip

    async def save(self, key: str, profile_id: str, request: ProfileSaveRequest) -> ProfileSaveResult:
        """POST /v1/profiles/{id}/save: captures the state and closes the browser (never re-sent)."""
        return await self._client._call(
            ProfileSaveResult, "POST", "profiles", _path(profile_id, "save"),
            key=key, kind=RequestKind.CREATE, json=request.to_body(),
        )  # fmt: skip

    async def cancel_setup(self, key: str, profile_id: str, session_id: str) -> ProfileSetupCancelled:
        """POST /v1/profiles/{id}/setup-session/cancel: closes the setup browser without saving."""
        return await self._client._call(
            ProfileSetupCancelled, "POST", "profiles", _path(profile_id, "setup-session/cancel"),
            key=key, json={"session_id": session_id},
        )  # fmt: skip
