"""The TinyFish REST client: every endpoint, one shared connection pool, a key per call.

INTERFACE CONTRACT (the tools layer codes against it).
Every method takes the caller's API key as its first argument, because one process
serves many users through the same pool. Methods raise only ``UpstreamError``
subclasses (see ``errors.py``); request models have already validated their input.
Cancellation (``asyncio.CancelledError`` / anyio cancel scopes) is never translated:
it propagates unchanged, after any open response has been closed.

Routing is ``settings.product_url``; timeouts are ``settings.timeout_for(product)``,
except the synchronous ``/run`` (``settings.run_timeout``) and the run-sse stream
(``constants.SSE_READ_TIMEOUT`` of silence; heartbeats keep it alive). Retries follow
the rule written in ``retry.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio
from pydantic import BaseModel, TypeAdapter

from ..settings import DEFAULT_AGENT_BASE_URL, Product, Settings
from . import models  # a lazy package: each payload module loads when a call first reads it
from .constants import SSE_READ_TIMEOUT, RequestKind
from .core import RoutedCore
from .errors import InvalidInputError

if TYPE_CHECKING:
    import httpx2

    from .cdp import CloseOutcome
    from .datasets import DatasetsAPI
    from .models import (
        AsyncRunResponse,
        BatchRunResponse,
        BrowserPage,
        BrowserSession,
        BrowserSessionRequest,
        CancelBatchResponse,
        CancelResult,
        FetchRequest,
        FetchResponse,
        ListRunsParams,
        Run,
        RunBatchRequest,
        RunEvent,
        RunList,
        RunRequest,
        RunsBatchResponse,
        SearchParams,
        SearchResponse,
        SyncRunResponse,
        UsageResponse,
        VaultConnectionList,
        VaultItemList,
    )
    from .monitors import MonitorsAPI
    from .profiles import ProfilesAPI
    from .research import ResearchAPI
    from .usage import UsageAPI
    from .wallet import WalletAPI

__all__ = ["TinyFishClient"]

CREATE = RequestKind.CREATE
IDEMPOTENT = RequestKind.IDEMPOTENT

M = TypeVar("M", bound=BaseModel)

_MAX_IDS = 100


@cache
def _pages_adapter() -> TypeAdapter[list[BrowserPage]]:
    # Built on the first /pages read, not at import: a validator is start-up time a client waits for.
    return TypeAdapter(list[models.BrowserPage])


def _run_path(run_id: str, suffix: str = "") -> str:
    """``/{run_id}{suffix}`` with the id escaped, so an id can never climb to another path."""
    if not run_id or not run_id.strip():
        raise InvalidInputError(
            "run_id must not be empty", details=[{"path": ["run_id"], "message": "empty"}]
        )
    return f"/{quote(run_id.strip(), safe='')}{suffix}"


def _id_list(run_ids: list[str]) -> list[str]:
    if not 1 <= len(run_ids) <= _MAX_IDS:
        raise InvalidInputError(
            f"run_ids must hold 1 to {_MAX_IDS} ids (got {len(run_ids)})",
            details=[{"path": ["run_ids"], "message": f"1 to {_MAX_IDS} ids"}],
        )
    return list(run_ids)


def _query(params: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in params.items() if value is not None}


class TinyFishClient:
    """Async client of the TinyFish APIs.

    ``TinyFishClient(settings)`` owns one ``httpx2.AsyncClient``; pass ``http=`` to share
    an existing one (tests, the HTTP server). Use ``async with`` or call ``aclose()``.
    """

    def __init__(self, settings: Settings, *, http: httpx2.AsyncClient | None = None) -> None:
        self.settings = settings
        # The HTTP core every product shares (``core.py``): the client and the product
        # APIs below are all handed this one object, never each other.
        self._routed = RoutedCore(settings, http)

    # ---------------------------------------------------------------- product resources
    # One module per product (models + calls), reached as an attribute of the client and
    # imported on first use: the stdio cold start does not pay for products it never calls.
    @cached_property
    def wallet(self) -> WalletAPI:
        from .wallet import WalletAPI

        return WalletAPI(self._routed)

    @cached_property
    def monitors(self) -> MonitorsAPI:
        from .monitors import MonitorsAPI

        return MonitorsAPI(self._routed)

    @cached_property
    def research(self) -> ResearchAPI:
        from .research import ResearchAPI

        return ResearchAPI(self._routed)

    @cached_property
    def profiles(self) -> ProfilesAPI:
        from .profiles import ProfilesAPI

        return ProfilesAPI(self._routed)

    @cached_property
    def usage(self) -> UsageAPI:
        from .usage import UsageAPI

        return UsageAPI(self._routed)

    @cached_property
    def datasets(self) -> DatasetsAPI:
        from .datasets import DatasetsAPI

        return DatasetsAPI(self._routed)

    async def aclose(self) -> None:
        """Close the pool, unless it was handed in by the caller (who then closes it)."""
        await self._routed.aclose()

    async def __aenter__(self) -> TinyFishClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- agent
    async def run(self, key: str, request: RunRequest) -> SyncRunResponse:
        """POST /v1/automation/run (blocks until the run ends). Never retried once sent."""
        return await self._routed.call(
            models.SyncRunResponse,
            "POST",
            "automation",
            "/run",
            key=key,
            kind=CREATE,
            read_timeout=self.settings.run_timeout,
            json=request.to_body(),
        )

    async def run_async(self, key: str, request: RunRequest) -> AsyncRunResponse:
        """POST /v1/automation/run-async. Never re-sent blindly (it may have created a run)."""
        return await self._routed.call(
            models.AsyncRunResponse,
            "POST",
            "automation",
            "/run-async",
            key=key,
            kind=CREATE,
            json=request.to_body(),
        )

    def stream_run(
        self, key: str, request: RunRequest
    ) -> AbstractAsyncContextManager[AsyncIterator[RunEvent]]:
        """POST /v1/automation/run-sse as ``async with client.stream_run(k, r) as events``.

        Yields typed events in order; unknown types come as ``UnknownEvent``; an event whose
        data is not a JSON object (or a known type in an unreadable shape) is logged as a
        warning and skipped. An error status (or a non-event-stream answer) before the stream
        starts raises the typed ``APIError``; a stream that breaks mid-way (or ends before
        COMPLETE) raises ``UpstreamConnectionError`` (or ``UpstreamTimeoutError`` when no
        event — not even a heartbeat — arrived within the read timeout). Retried only when
        the connection could not be opened at all, or on a 429. Iteration stops after
        COMPLETE. Leaving the block early (break, an error, cancellation) closes the HTTP
        response at once (shielded, so it also happens inside a cancelled scope) and lets
        ``CancelledError`` through untouched; the run itself goes on upstream until cancelled.
        """
        return self._stream_run(key, request)

    @asynccontextmanager
    async def _stream_run(self, key: str, request: RunRequest) -> AsyncIterator[AsyncIterator[RunEvent]]:
        from .sse import check_event_stream, iter_run_events  # imports httpx-sse: first use only

        async with self._routed.http.stream(
            "POST",
            self._routed.url("automation", "/run-sse"),
            key=key,
            kind=CREATE,
            product="automation",
            read_timeout=SSE_READ_TIMEOUT,
            json=request.to_body(),
        ) as response:
            check_event_stream(response)  # a wrong answer fails at ``async with``, like an error status
            events = iter_run_events(response)
            try:
                yield events
            finally:
                with anyio.CancelScope(shield=True):
                    await events.aclose()

    async def run_batch(self, key: str, request: RunBatchRequest) -> BatchRunResponse:
        """POST /v1/automation/run-batch (1-100 runs, atomic, no idempotency key: never re-sent)."""
        return await self._routed.call(
            models.BatchRunResponse,
            "POST",
            "automation",
            "/run-batch",
            key=key,
            kind=CREATE,
            json=request.to_body(),
        )

    # ---------------------------------------------------------------- runs
    async def list_runs(self, key: str, params: ListRunsParams) -> RunList:
        """GET /v1/runs with only the parameters that are set."""
        return await self._routed.call(models.RunList, "GET", "runs", key=key, params=params.to_body())

    async def get_run(self, key: str, run_id: str, *, screenshots: bool = False) -> Run:
        """GET /v1/runs/{id}; ``screenshots=True`` adds ``?screenshots=base64``."""
        return await self._routed.call(
            models.Run,
            "GET",
            "runs",
            _run_path(run_id),
            key=key,
            params={"screenshots": "base64"} if screenshots else None,
        )

    async def get_runs(self, key: str, run_ids: list[str]) -> RunsBatchResponse:
        """POST /v1/runs/batch with ``{"run_ids": [...]}`` (<= 100)."""
        return await self._routed.call(
            models.RunsBatchResponse, "POST", "runs", "/batch", key=key, json={"run_ids": _id_list(run_ids)}
        )

    async def cancel_run(self, key: str, run_id: str) -> CancelResult:
        """POST /v1/runs/{id}/cancel (idempotent, so safe to retry)."""
        return await self._routed.call(
            models.CancelResult, "POST", "runs", _run_path(run_id, "/cancel"), key=key
        )

    async def cancel_runs(self, key: str, run_ids: list[str]) -> CancelBatchResponse:
        """POST /v1/runs/batch/cancel with ``{"run_ids": [...]}`` (<= 100, idempotent)."""
        return await self._routed.call(
            models.CancelBatchResponse,
            "POST",
            "runs",
            "/batch/cancel",
            key=key,
            json={"run_ids": _id_list(run_ids)},
        )

    # ---------------------------------------------------------------- fetch and search
    async def fetch(self, key: str, request: FetchRequest) -> FetchResponse:
        """POST /v1/fetch: per-URL failures come back in ``errors[]``, not as exceptions."""
        return await self._routed.call(models.FetchResponse, "POST", "fetch", key=key, json=request.to_body())

    async def search(self, key: str, params: SearchParams) -> SearchResponse:
        """GET /v1/search; a 429 backs off from ``search_rate_limit_backoff`` before retrying."""
        return await self._routed.call(
            models.SearchResponse, "GET", "search", key=key, params=params.to_body()
        )

    # ---------------------------------------------------------------- browser
    async def create_browser_session(self, key: str, request: BrowserSessionRequest) -> BrowserSession:
        """POST /v1/browser (201). A session is billable: never re-sent blindly."""
        return await self._routed.call(
            models.BrowserSession, "POST", "browser", key=key, kind=CREATE, json=request.to_body()
        )

    async def list_browser_pages(self, key: str, base_url: str) -> list[BrowserPage]:
        """GET {base_url}/pages of a session.

        The key goes along only to a TinyFish host (the production domain, or the host of
        the configured base URL): ``base_url`` may come from a tool argument, and the key
        must never be handed to an arbitrary server. The documents' own example reads
        ``/pages`` without a key, so leaving it out elsewhere costs nothing.
        """
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInputError(
                "base_url must be the absolute http(s) base_url of a browser session",
                details=[{"path": ["base_url"], "message": "not an absolute http(s) URL"}],
            )
        url = base_url.strip().rstrip("/") + "/pages"
        return await self._routed.http.request_adapter(
            _pages_adapter(),
            "GET",
            url,
            key=key if self._is_tinyfish_host(parts.scheme, parts.netloc) else "",
            kind=IDEMPOTENT,
            product="browser",
            read_timeout=self._routed.timeout("browser"),
            label="GET {session base_url}/pages",  # the session URL may act as a credential
        )

    async def close_browser_session(self, key: str, cdp_url: str) -> CloseOutcome:
        """End a session: "closed", or "already_ended" if nothing answers at its ``cdp_url``.

        TinyFish has no REST endpoint to end a session, so this sends CDP ``Browser.close``
        on the session's own WebSocket (see ``cdp.py``; ``key`` is unused until TinyFish
        publishes an endpoint, and then this is the one place to change). Safe to repeat.
        """
        from .cdp import CLOSE_WAIT, close_browser  # websockets loads on the first close only

        return await close_browser(cdp_url, wait=CLOSE_WAIT)

    def _is_tinyfish_host(self, scheme: str, netloc: str) -> bool:
        if self.settings.base_url:
            return netloc.lower() == urlsplit(self.settings.base_url).netloc.lower()
        production = urlsplit(DEFAULT_AGENT_BASE_URL).hostname or ""
        domain = production.split(".", 1)[1] if production.count(".") >= 2 else production
        host = netloc.rsplit("@", 1)[-1].split(":", 1)[0].lower()
        return scheme == "https" and (host == domain or host.endswith("." + domain))

    async def browser_usage(self, key: str, **params: Any) -> UsageResponse:
        """GET /v1/browser/usage; ``params`` (e.g. limit, cursor) are sent when not None."""
        return await self._usage("browser", key, params)

    async def search_usage(self, key: str, **params: Any) -> UsageResponse:
        """GET /v1/search/usage; ``params`` are sent when not None."""
        return await self._usage("search", key, params)

    async def _usage(self, product: Product, key: str, params: dict[str, Any]) -> UsageResponse:
        return await self._routed.call(
            models.UsageResponse, "GET", product, "/usage", key=key, params=_query(params)
        )

    # ---------------------------------------------------------------- vault (read only)
    async def list_vault_connections(self, key: str) -> VaultConnectionList:
        """GET /v1/vault/connections."""
        return await self._vault("/connections", key, models.VaultConnectionList)

    async def list_vault_items(self, key: str) -> VaultItemList:
        """GET /v1/vault/items."""
        return await self._vault("/items", key, models.VaultItemList)

    async def _vault(self, path: str, key: str, model: type[M]) -> M:
        return await self._routed.call(model, "GET", "vault", path, key=key)
