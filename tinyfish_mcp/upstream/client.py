"""The TinyFish REST client: every endpoint, one shared connection pool, a key per call.

INTERFACE CONTRACT (filled in by the upstream work; the tools layer codes against it).
Every method takes the caller's API key as its first argument, because one process
serves many users through the same pool. Methods raise only ``UpstreamError``
subclasses (see ``errors.py``); request models have already validated their input.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from ..settings import Settings
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

__all__ = ["TinyFishClient"]


class TinyFishClient:
    """Async client of the TinyFish APIs.

    ``TinyFishClient(settings)`` owns one ``httpx.AsyncClient``; pass ``http=`` to share
    an existing one (tests, the HTTP server). Use ``async with`` or call ``aclose()``.
    """

    def __init__(self, settings: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> TinyFishClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- agent
    async def run(self, key: str, request: RunRequest) -> SyncRunResponse:
        """POST /v1/automation/run (blocks until the run ends). Never retried once sent."""
        raise NotImplementedError

    async def run_async(self, key: str, request: RunRequest) -> AsyncRunResponse:
        """POST /v1/automation/run-async. Never re-sent blindly (it may have created a run)."""
        raise NotImplementedError

    def stream_run(
        self, key: str, request: RunRequest
    ) -> AbstractAsyncContextManager[AsyncIterator[RunEvent]]:
        """POST /v1/automation/run-sse as ``async with client.stream_run(k, r) as events``.

        Yields typed events in order; unknown types come as ``UnknownEvent``; an event whose
        data is not a JSON object is logged and skipped. An error status before the stream
        starts raises the typed ``APIError``; a stream that breaks mid-way raises
        ``UpstreamConnectionError`` (or ``UpstreamTimeoutError`` when no event — not even a
        heartbeat — arrived within the read timeout). Retried only when the connection
        could not be opened at all.
        """
        raise NotImplementedError

    async def run_batch(self, key: str, request: RunBatchRequest) -> BatchRunResponse:
        """POST /v1/automation/run-batch (1-100 runs, atomic, no idempotency key: never re-sent)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- runs
    async def list_runs(self, key: str, params: ListRunsParams) -> RunList:
        raise NotImplementedError

    async def get_run(self, key: str, run_id: str, *, screenshots: bool = False) -> Run:
        """GET /v1/runs/{id}; ``screenshots=True`` adds ``?screenshots=base64``."""
        raise NotImplementedError

    async def get_runs(self, key: str, run_ids: list[str]) -> RunsBatchResponse:
        """POST /v1/runs/batch with ``{"run_ids": [...]}`` (<= 100)."""
        raise NotImplementedError

    async def cancel_run(self, key: str, run_id: str) -> CancelResult:
        """POST /v1/runs/{id}/cancel (idempotent, so safe to retry)."""
        raise NotImplementedError

    async def cancel_runs(self, key: str, run_ids: list[str]) -> CancelBatchResponse:
        """POST /v1/runs/batch/cancel with ``{"run_ids": [...]}`` (<= 100, idempotent)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- fetch and search
    async def fetch(self, key: str, request: FetchRequest) -> FetchResponse:
        raise NotImplementedError

    async def search(self, key: str, params: SearchParams) -> SearchResponse:
        raise NotImplementedError

    # ---------------------------------------------------------------- browser
    async def create_browser_session(self, key: str, request: BrowserSessionRequest) -> BrowserSession:
        raise NotImplementedError

    async def list_browser_pages(self, key: str, base_url: str) -> list[BrowserPage]:
        """GET {base_url}/pages of a session."""
        raise NotImplementedError

    async def browser_usage(self, key: str, **params: Any) -> UsageResponse:
        raise NotImplementedError

    async def search_usage(self, key: str, **params: Any) -> UsageResponse:
        raise NotImplementedError

    # ---------------------------------------------------------------- vault (read only)
    async def list_vault_connections(self, key: str) -> VaultConnectionList:
        raise NotImplementedError

    async def list_vault_items(self, key: str) -> VaultItemList:
        raise NotImplementedError
