"""Browserbase as the provider of browser sessions, fetch and search (see ``upstream/providers.py``).

The server's one Browserbase key (``BROWSERBASE_API_KEY``) is the credential. Sessions
are released with ``status: REQUEST_RELEASE``; their live view is the debugger's
fullscreen URL; their logs, recording and downloads are readable as artifacts.
``/v1/fetch`` gives the raw document, turned into fetch_content's formats by
``extract.py``; ``/v1/search`` (``numResults`` 1-25) is mapped onto search's answer.
Arguments only TinyFish honours are refused by name, with the reason.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidInputError, NotFoundError, UpstreamError
from ..models import (
    BrowserSessionRequest,
    FetchError,
    FetchRequest,
    FetchResponse,
    FetchResult,
    SearchParams,
    SearchResponse,
    SearchResult,
)
from ..providers import (
    CloseOutcome,
    ExtraArgument,
    ListedSession,
    OpenSession,
    ProviderName,
    SessionObservation,
    SessionPage,
    SessionQuery,
    moment,
)
from .client import VENDOR, BrowserbaseClient

__all__ = ["BrowserbaseBrowser", "BrowserbaseClient", "BrowserbaseFetch", "BrowserbaseSearch"]

TIMEOUT_RANGE = (60, 21600)
Region = Literal["us-west-2", "us-east-1", "eu-central-1", "ap-southeast-1"]
ENDED = ("COMPLETED", "ERROR", "TIMED_OUT")
ARTIFACTS = ("logs", "recording", "downloads")
SEARCH_PAGE = 10
SEARCH_MAX = 25


class Viewport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: Annotated[int, Field(ge=200, le=4096)]
    height: Annotated[int, Field(ge=200, le=4096)]


def _refuse(message: str) -> InvalidInputError:
    error = InvalidInputError(message, status=400, hint="Correct the named argument and call again.")
    error.vendor = VENDOR
    return error


class _Browserbase:
    name: ProviderName = "browserbase"

    def __init__(self, client: BrowserbaseClient) -> None:
        self.client = client

    async def credential(self) -> str:
        return self.client.key


class BrowserbaseBrowser(_Browserbase):
    billing = "Browserbase bills the session's browser minutes until it is released or times out."
    artifacts: tuple[str, ...] = ARTIFACTS
    supports_contexts = True

    def create_arguments(self) -> tuple[ExtraArgument, ...]:
        return (
            ExtraArgument("keep_alive", Annotated[bool | None, Field(description="Survive disconnects")]),
            ExtraArgument("region", Region | None),
            ExtraArgument("context_id", Annotated[str | None, Field(description="A saved login's context")]),
            ExtraArgument("persist", Annotated[bool | None, Field(description="Save it at release")]),
            ExtraArgument("viewport", Viewport | None),
        )

    async def create_session(
        self, key: str, request: BrowserSessionRequest, extras: Mapping[str, Any]
    ) -> OpenSession:
        if request.url is not None:
            # Opening a page needs a CDP connection, and a Browserbase session without keep_alive
            # ends when its first client disconnects: the caller's own code must open it.
            raise _refuse("url cannot be honoured on Browserbase: open the page from your Playwright code")
        timeout = request.timeout_seconds
        low, high = TIMEOUT_RANGE
        if timeout is not None and not low <= timeout <= high:
            raise _refuse(f"timeout_seconds must be between {low} and {high} on Browserbase (got {timeout})")
        settings: dict[str, Any] = {}
        context_id = (extras.get("context_id") or "").strip() or None
        if extras.get("persist") and context_id is None:
            raise _refuse("persist needs a context_id (create one with create_browser_context)")
        if context_id is not None:
            settings["context"] = {"id": context_id, "persist": bool(extras.get("persist"))}
        viewport = extras.get("viewport")
        if viewport is not None:
            size = viewport.model_dump() if isinstance(viewport, BaseModel) else dict(viewport)
            settings["viewport"] = size
        body: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        if settings:
            body["browserSettings"] = settings
        if extras.get("keep_alive") is not None:
            body["keepAlive"] = bool(extras["keep_alive"])
        if extras.get("region") is not None:
            body["region"] = extras["region"]
        proxy = request.proxy_config
        if proxy is not None and proxy.enabled:
            body["proxies"] = (
                [{"type": "browserbase", "geolocation": {"country": proxy.country_code.upper()}}]
                if proxy.country_code
                else True
            )
        session = await self.client.create_session(body)
        created, expires = moment(session.created_at), moment(session.expires_at)
        span = int((expires - created).total_seconds()) if created and expires else timeout
        live: str | None = None
        try:
            live = (await self.client.live_urls(session.id)).debugger_fullscreen_url
        except UpstreamError:
            live = None  # the session exists; its live view can be asked for again
        return OpenSession(
            session_id=session.id,
            cdp_url=session.connect_url or "",
            live_view_url=live,
            expires_at=expires,
            timeout_seconds=span,
        )

    async def live_view(self, key: str, session: OpenSession) -> str | None:
        try:
            return (await self.client.live_urls(session.session_id)).debugger_fullscreen_url
        except UpstreamError:
            return None

    async def observe(
        self, key: str, session_id: str, cdp_url: str, base_url: str
    ) -> SessionObservation | None:
        try:
            session = await self.client.get_session(session_id)
        except NotFoundError:
            return SessionObservation(ended=True)
        except UpstreamError:
            return None
        if session.status in ENDED:
            return SessionObservation(ended=True, ended_at=moment(session.ended_at))
        return SessionObservation(activity=session.updated_at if session.keep_alive else None)

    async def list_sessions(self, key: str, query: SessionQuery) -> SessionPage:
        """Browserbase's own listing of the project's sessions, filtered and paged here."""
        status = {"running": "RUNNING", "ended": None}.get(query.status or "")
        sessions = await self.client.list_sessions(status)
        after = moment(query.start_after) if query.start_after else None
        before = moment(query.end_before) if query.end_before else None
        rows: list[ListedSession] = []
        for session in sessions:
            created = moment(session.created_at)
            ended = session.status in ENDED
            if query.status == "ended" and not ended:
                continue
            if query.session_id and session.id != query.session_id:
                continue
            if created is not None and ((after and created <= after) or (before and created >= before)):
                continue
            rows.append(
                ListedSession(
                    session_id=session.id,
                    status="ended" if ended else "running",
                    created_at=created,
                    ended_at=moment(session.ended_at),
                    cdp_url=None if ended else session.connect_url,
                )
            )
        rows.sort(key=lambda row: row.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        start = (query.page - 1) * query.limit
        return SessionPage(
            sessions=rows[start : start + query.limit],
            total=len(rows),
            has_more=start + query.limit < len(rows),
        )

    async def close_session(self, key: str, session_id: str, cdp_url: str) -> CloseOutcome:
        try:
            session = await self.client.get_session(session_id)
            if session.status in ENDED:
                return "already_ended"
            await self.client.release_session(session_id)
        except NotFoundError:
            return "already_ended"
        return "closed"

    async def create_context(self, key: str) -> str:
        return (await self.client.create_context()).id

    async def artifact(self, key: str, session_id: str, kind: str) -> Any:
        """The session's logs or recording (lists of events), or the files it downloaded."""
        if kind == "downloads":
            data = await self.client.session_downloads(session_id)
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    files = [{"name": i.filename, "bytes": i.file_size} for i in archive.infolist()]
            except zipfile.BadZipFile:
                files = []
            return {"files": files}
        if kind not in ("logs", "recording"):
            raise _refuse(f"unknown artifact {kind!r}: choose logs, recording or downloads")
        return await self.client.session_events(session_id, "logs" if kind == "logs" else "recording")


_FETCH_ONLY_TINYFISH = (
    "highlights", "include_selectors", "exclude_selectors", "if_none_match", "if_modified_since",
    "include_etag_and_last_modified", "ttl", "per_url_timeout_ms", "include_html_head",
)  # fmt: skip


class BrowserbaseFetch(_Browserbase):
    hidden_arguments = frozenset({*_FETCH_ONLY_TINYFISH, "proxy_country"})

    async def fetch(self, key: str, request: FetchRequest) -> FetchResponse:
        unsupported = [name for name in _FETCH_ONLY_TINYFISH if getattr(request, name) is not None]
        if request.proxy_config is not None and request.proxy_config.country_code:
            unsupported.append("proxy_country")
        if unsupported:
            raise _refuse(
                f"{', '.join(unsupported)} cannot be honoured by the Browserbase fetch provider "
                "(TINYFISH_MCP_FETCH_PROVIDER=browserbase): call again without them"
            )
        from .extract import extract

        results: list[FetchResult | None] = [None] * len(request.urls)
        errors: list[FetchError] = []

        async def one(index: int, url: str) -> None:
            try:
                page = await self.client.fetch(url, allow_redirects=True)
            except UpstreamError as exc:
                errors.append(FetchError(url=url, error=exc.message))
                return
            if page.status_code >= 400:
                errors.append(FetchError(url=url, error=f"the site answered HTTP {page.status_code}"))
                return
            if page.encoding == "base64" or not isinstance(page.content, str):
                errors.append(FetchError(url=url, error=f"no extractable content ({page.content_type})"))
                return
            found = await anyio.to_thread.run_sync(
                lambda: extract(
                    page.content, page.content_type, url, request.format or "markdown",
                    want_links=bool(request.links or request.image_links),
                )
            )  # fmt: skip
            if found.error:
                errors.append(FetchError(url=url, error=found.error))
                return
            results[index] = FetchResult(
                url=url,
                title=found.title,
                description=found.description,
                author=found.author,
                published_date=found.published_date,
                language=found.language,
                text=found.text,
                format=request.format,
                links=found.links,
                image_links=found.image_links,
            )

        async with anyio.create_task_group() as group:
            for index, url in enumerate(request.urls):
                group.start_soon(one, index, url)
        return FetchResponse(results=[r for r in results if r is not None], errors=errors)


_SEARCH_ONLY_TINYFISH = (
    "location", "language", "include_domains", "exclude_domains", "after_date", "before_date",
    "recency_minutes", "domain_type", "pub_year_min", "pub_year_max",
)  # fmt: skip


class BrowserbaseSearch(_Browserbase):
    hidden_arguments = frozenset(_SEARCH_ONLY_TINYFISH)

    async def search(self, key: str, params: SearchParams) -> SearchResponse:
        unsupported = [name for name in _SEARCH_ONLY_TINYFISH if getattr(params, name) is not None]
        if unsupported:
            raise _refuse(
                f"{', '.join(unsupported)} cannot be honoured by the Browserbase search provider "
                "(TINYFISH_MCP_SEARCH_PROVIDER=browserbase): call again without them"
            )
        page = params.page or 0
        first = page * SEARCH_PAGE
        if first >= SEARCH_MAX:
            last = SEARCH_MAX // SEARCH_PAGE
            raise _refuse(f"page must be 0 to {last} on Browserbase (25 results at most)")
        wanted = min(SEARCH_MAX, first + SEARCH_PAGE)
        found = await self.client.search(params.query, wanted)
        hits = [
            SearchResult(
                position=first + offset + 1,
                title=result.title or result.url,
                url=result.url,
                snippet="",
                date=result.published_date,
                authors=[result.author] if result.author else None,
                thumbnail=result.image if params.include_thumbnail else None,
            )
            for offset, result in enumerate(found.results[first:wanted])
        ]
        more = len(found.results) >= wanted and wanted < SEARCH_MAX
        return SearchResponse(
            query=found.query or params.query,
            results=hits,
            total_results=first + len(hits) + (SEARCH_PAGE if more else 0),
            page=page,
        )
