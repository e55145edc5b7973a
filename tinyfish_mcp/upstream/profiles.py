"""Browser Context Profiles: sign in once through a remote browser, reuse it in runs.

``POST /v1/profiles/{id}/setup-session`` opens a setup browser (a billed browser
session: never re-sent blindly); ``.../save`` captures its signed-in state into the
profile and closes it; ``.../setup-session/cancel`` closes it without saving. Shapes
follow ``tinyfish.profiles``.

``POST /v1/profiles`` creates a profile and ``GET /v1/profiles`` lists them: the SDK 0.11
has neither; the shapes are those public clients use (the Go ``TinyFishProfileManager``:
``{name, set_as_default?, proxy_country_code?}`` answered with ``id``, ``name``,
``proxy_country_code``, 409 on a name conflict; ``simstudioai/sim``'s
``list_profiles.ts``: a ``{"profiles": [...]}`` envelope).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from .constants import RequestKind
from .errors import InvalidInputError
from .models._base import _Request, _require_http_url, _Response
from .models.products import BrowserSession

if TYPE_CHECKING:
    from .core import RoutedCore

__all__ = [
    "Profile",
    "ProfileCreateRequest",
    "ProfileList",
    "ProfileSaveRequest",
    "ProfileSaveResult",
    "ProfileSetupCancelled",
    "ProfileSetupRequest",
    "ProfileSetupSession",
    "ProfilesAPI",
]


PROFILE_PROXY_COUNTRIES = ("US", "GB", "CA", "AU", "DE", "FR", "IT", "ES", "NL", "JP", "SG", "BR", "IN")


class ProfileCreateRequest(_Request):
    name: str = Field(min_length=1, max_length=100)
    proxy_country_code: str | None = None
    set_as_default: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @field_validator("proxy_country_code")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in PROFILE_PROXY_COUNTRIES:
            raise ValueError(f"proxy_country_code must be one of {', '.join(PROFILE_PROXY_COUNTRIES)}")
        return code


class Profile(_Response):
    id: str
    name: str = ""
    proxy_country_code: str | None = None
    fingerprint_seed: str | None = None
    domain_count: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    is_default: bool | None = None


class ProfileList(_Response):
    profiles: list[Profile] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _envelope(cls, data: object) -> object:
        # The documented envelope first; a bare array or a "data" envelope is read too.
        if isinstance(data, list):
            return {"profiles": data}
        if isinstance(data, dict) and "profiles" not in data and isinstance(data.get("data"), list):
            return {"profiles": data["data"]}
        return data


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
    """``client.profiles``: create and list profiles, and their setup (start, save, cancel)."""

    def __init__(self, core: RoutedCore) -> None:
        self._core = core

    async def create(self, key: str, request: ProfileCreateRequest) -> Profile:
        """POST /v1/profiles (409 when the name is taken). Creates something: never re-sent blindly."""
        return await self._core.call(
            Profile, "POST", "profiles", key=key, kind=RequestKind.CREATE, json=request.to_body()
        )

    async def list(self, key: str) -> ProfileList:
        """GET /v1/profiles."""
        return await self._core.call(ProfileList, "GET", "profiles", key=key)

    async def start_setup(
        self, key: str, profile_id: str, request: ProfileSetupRequest
    ) -> ProfileSetupSession:
        """POST /v1/profiles/{id}/setup-session: opens a billed browser. Never re-sent blindly."""
        return await self._core.call(
            ProfileSetupSession, "POST", "profiles", _path(profile_id, "setup-session"),
            key=key, kind=RequestKind.CREATE, json=request.to_body(),
        )  # fmt: skip

    async def save(self, key: str, profile_id: str, request: ProfileSaveRequest) -> ProfileSaveResult:
        """POST /v1/profiles/{id}/save: captures the state and closes the browser (never re-sent)."""
        return await self._core.call(
            ProfileSaveResult, "POST", "profiles", _path(profile_id, "save"),
            key=key, kind=RequestKind.CREATE, json=request.to_body(),
        )  # fmt: skip

    async def cancel_setup(self, key: str, profile_id: str, session_id: str) -> ProfileSetupCancelled:
        """POST /v1/profiles/{id}/setup-session/cancel: closes the setup browser without saving."""
        return await self._core.call(
            ProfileSetupCancelled, "POST", "profiles", _path(profile_id, "setup-session/cancel"),
            key=key, json={"session_id": session_id},
        )  # fmt: skip
