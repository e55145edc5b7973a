"""TinyFish as the provider of browser sessions, fetch and search (see ``upstream/providers.py``).

Thin adapters over :class:`~tinyfish_mcp.upstream.client.TinyFishClient`: the caller's
TinyFish key is the credential; a session's activity is what its ``/pages`` show, its
live view is the DevTools page of its first navigated page, and it is closed with CDP
``Browser.close`` (TinyFish has no endpoint to end one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from ..client import TinyFishClient
from ..errors import InvalidInputError, NotFoundError, UpstreamError
from ..providers import (
    CloseOutcome,
    Credential,
    ExtraArgument,
    ListedSession,
    OpenSession,
    ProviderName,
    SessionObservation,
    SessionPage,
    SessionQuery,
    moment,
)

if TYPE_CHECKING:
    from ..models import (
        BrowserPage,
        BrowserSessionRequest,
        FetchRequest,
        FetchResponse,
        SearchParams,
        SearchResponse,
    )

__all__ = ["TinyFishBrowser", "TinyFishFetch", "TinyFishSearch", "inspector_url", "pages_digest"]

# Polling {base_url}/pages for the inspector URL: navigation usually lands within a
# second; give up after about 3 s and say so rather than hold the call.
INSPECT_ATTEMPTS = 8
INSPECT_INTERVAL = 0.35
INSPECT_BUDGET = 3.0
BLANK_PAGES = ("", "about:blank", "about:newtab")


def pages_digest(pages: list[BrowserPage]) -> str:
    seen = sorted((page.id or "", page.url, page.title or "") for page in pages)
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:32]


async def inspector_url(client: TinyFishClient, key: str, base_url: str) -> str | None:
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


class _TinyFish:
    name: ProviderName = "tinyfish"

    def __init__(self, client: TinyFishClient, caller_key: Credential) -> None:
        self.client = client
        self._caller_key = caller_key

    async def credential(self) -> str:
        return await self._caller_key()


class TinyFishBrowser(_TinyFish):
    billing = "A session bills 1 credit per 4 browser-minutes while it is open, busy or idle."
    supports_contexts = False
    artifacts: tuple[str, ...] = ()

    def create_arguments(self) -> tuple[ExtraArgument, ...]:
        return ()

    async def create_session(
        self, key: str, request: BrowserSessionRequest, extras: Mapping[str, Any]
    ) -> OpenSession:
        session = await self.client.create_browser_session(key, request)
        return OpenSession(
            session_id=session.session_id,
            cdp_url=session.cdp_url,
            base_url=session.base_url,
            timeout_seconds=request.timeout_seconds,
        )

    async def live_view(self, key: str, session: OpenSession) -> str | None:
        return await inspector_url(self.client, key, session.base_url)

    async def observe(
        self, key: str, session_id: str, cdp_url: str, base_url: str
    ) -> SessionObservation | None:
        try:
            pages = await self.client.list_browser_pages(key, base_url)
        except NotFoundError:
            return SessionObservation(ended=True, ended_at=datetime.now(UTC))
        except UpstreamError:
            return None
        return SessionObservation(activity=pages_digest(pages))

    async def close_session(self, key: str, session_id: str, cdp_url: str) -> CloseOutcome:
        return await self.client.close_browser_session(key, cdp_url)

    async def list_sessions(self, key: str, query: SessionQuery) -> SessionPage:
        """TinyFish's listing of sessions is its browser usage (``GET /v1/browser/usage``); it has no URLs."""
        from ..usage import UsageQuery  # the usage product loads on first use, not at start-up

        page = await self.client.usage.list(
            key,
            "browser",
            UsageQuery(
                limit=query.limit,
                page=query.page,
                status=query.status,
                session_id=query.session_id,
                start_after=query.start_after,
                end_before=query.end_before,
            ),
        )
        listed = []
        for record in page.records:
            if not isinstance(record.get("session_id"), str):
                continue
            running = str(record.get("status", "")).lower() in ("active", "running")
            timeout = record.get("timeout_seconds")
            listed.append(
                ListedSession(
                    session_id=record["session_id"],
                    status="running" if running else "ended",
                    created_at=moment(record.get("created_at")),
                    ended_at=moment(record.get("ended_at")),
                    timeout_seconds=timeout if isinstance(timeout, int) else None,
                )
            )
        return SessionPage(sessions=listed, total=page.total, has_more=page.has_more)

    async def create_context(self, key: str) -> str:
        raise InvalidInputError("TinyFish browser sessions have no contexts (use a profile with a run)")

    async def artifact(self, key: str, session_id: str, kind: str) -> Any:
        raise InvalidInputError(f"TinyFish browser sessions keep no {kind}")


class TinyFishFetch(_TinyFish):
    hidden_arguments: frozenset[str] = frozenset()

    async def fetch(self, key: str, request: FetchRequest) -> FetchResponse:
        return await self.client.fetch(key, request)


class TinyFishSearch(_TinyFish):
    hidden_arguments: frozenset[str] = frozenset()

    async def search(self, key: str, params: SearchParams) -> SearchResponse:
        return await self.client.search(key, params)
