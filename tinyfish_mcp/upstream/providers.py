"""The capabilities two vendors serve, as Protocols: browser sessions, page fetch, web search.

The tool modules speak only to these Protocols; ``upstream/tinyfish/`` and
``upstream/browserbase/`` implement them, and ``vendors.build_providers`` (the one place
that looks at ``settings.mcp_*_provider``) picks one per capability at start-up.

Every call takes the credential its provider wants (``await provider.credential()``):
the caller's TinyFish key for TinyFish, the server's Browserbase key for Browserbase.
Methods raise only ``UpstreamError`` subclasses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from .models import BrowserSessionRequest, FetchRequest, FetchResponse, SearchParams, SearchResponse


__all__ = [
    "BrowserProvider",
    "CloseOutcome",
    "ExtraArgument",
    "FetchProvider",
    "ListedSession",
    "OpenSession",
    "Providers",
    "SearchProvider",
    "SessionObservation",
    "SessionPage",
    "SessionQuery",
    "moment",
]

ProviderName = Literal["tinyfish", "browserbase"]
CloseOutcome = Literal["closed", "already_ended"]
Credential = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ExtraArgument:
    """A provider-only tool argument: its name, annotation (a type, maybe ``Annotated``) and default.

    A tool shows these only when that provider is active, so ``tools/list`` carries the
    active provider's arguments and no others.
    """

    name: str
    annotation: Any
    default: Any = None


def moment(value: object) -> datetime | None:
    """A vendor's ISO 8601 time as an aware datetime (UTC when it names no zone); None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class OpenSession(BaseModel):
    """A browser session just created, in the shape every provider can give."""

    model_config = ConfigDict(defer_build=True)  # built when a session is first created

    session_id: str
    cdp_url: str
    base_url: str = ""  # TinyFish's session URL (for /pages); empty when the provider has none
    live_view_url: str | None = None  # a page where a person can watch and take over, when known now
    expires_at: datetime | None = None  # when the provider says it ends, when it says so
    timeout_seconds: int | None = None  # the inactivity/lifetime timeout in force


@dataclass(frozen=True, slots=True)
class SessionObservation:
    """What a provider saw of a session: ended, or an activity token (a change means it was driven)."""

    ended: bool = False
    activity: str | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """Which of the provider's sessions to list: a 1-based page and the hosted tool's filters."""

    limit: int = 100
    page: int = 1
    status: Literal["running", "ended"] | None = None
    session_id: str | None = None
    start_after: str | None = None
    end_before: str | None = None


@dataclass(frozen=True, slots=True)
class ListedSession:
    """One session as the provider's own listing shows it (its connection URL only if it gives one)."""

    session_id: str
    status: Literal["running", "ended"]
    created_at: datetime | None = None
    ended_at: datetime | None = None
    cdp_url: str | None = None
    timeout_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[ListedSession]
    total: int | None = None
    has_more: bool = False


class BrowserProvider(Protocol):
    name: ProviderName
    billing: str  # one sentence: what an open session costs
    supports_contexts: bool  # saved logins (create_context, then a context_id per session)
    artifacts: tuple[str, ...]  # what a session leaves to read: logs, recording, downloads

    def create_arguments(self) -> tuple[ExtraArgument, ...]:
        """The provider-only arguments ``create_browser_session`` takes (passed back as ``extras``)."""

    async def credential(self) -> str:
        """The key for this call (raises the tools' missing-key error when none is configured)."""

    async def create_session(
        self, key: str, request: BrowserSessionRequest, extras: Mapping[str, Any]
    ) -> OpenSession:
        """Create a session (billable: never re-sent blindly)."""

    async def live_view(self, key: str, session: OpenSession) -> str | None:
        """A URL where a person can watch the session (polled briefly), or None."""

    async def observe(
        self, key: str, session_id: str, cdp_url: str, base_url: str
    ) -> SessionObservation | None:
        """The session's state now; None when it could not be learned (leave the record as is)."""

    async def close_session(self, key: str, session_id: str, cdp_url: str) -> CloseOutcome:
        """End a session: "closed", or "already_ended". Safe to repeat."""

    async def list_sessions(self, key: str, query: SessionQuery) -> SessionPage:
        """One page of the sessions the provider lists for ``key``, newest first (every process's)."""

    async def create_context(self, key: str) -> str:
        """A new context's id (only when ``supports_contexts``)."""

    async def artifact(self, key: str, session_id: str, kind: str) -> Any:
        """One of ``artifacts`` of a session, as JSON data (a list of events, or a dict)."""


class FetchProvider(Protocol):
    name: ProviderName
    hidden_arguments: frozenset[str]  # fetch_content arguments it cannot honour (left out of the schema)

    async def credential(self) -> str: ...

    async def fetch(self, key: str, request: FetchRequest) -> FetchResponse:
        """Fetch the pages; per-URL failures come back in ``errors``, not as exceptions."""


class SearchProvider(Protocol):
    name: ProviderName
    hidden_arguments: frozenset[str]  # search arguments it cannot honour (left out of the schema)

    async def credential(self) -> str: ...

    async def search(self, key: str, params: SearchParams) -> SearchResponse:
        """One page of ranked results."""


@dataclass(frozen=True, slots=True)
class Providers:
    browser: BrowserProvider
    fetch: FetchProvider
    search: SearchProvider
    closers: tuple[Callable[[], Awaitable[None]], ...] = ()

    async def aclose(self) -> None:
        for close in self.closers:
            await close()
