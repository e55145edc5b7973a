"""Pydantic models of every TinyFish payload: requests we send and responses we read.

Request models validate before anything is sent, with messages that say how to fix
the input. Response models are forward compatible: unknown fields are accepted and
kept (``extra="allow"``), and enums the service may grow are plain strings.

Wire shapes come from the API documents and the official ``tinyfish`` SDK. Three
shapes are not documented field by field (run-batch, runs/batch, runs/batch/cancel);
the ones here are our reading of the endpoint descriptions, and the emulator serves
the same.
"""

from __future__ import annotations

from ._base import PROXY_COUNTRIES, TERMINAL_STATUSES
from .events import (
    CompleteEvent,
    HeartbeatEvent,
    ProgressEvent,
    RunEvent,
    StartedEvent,
    StreamingUrlEvent,
    UnknownEvent,
    parse_event,
)
from .products import (
    BrowserPage,
    BrowserProxyConfig,
    BrowserSession,
    BrowserSessionRequest,
    FetchError,
    FetchHighlights,
    FetchProxyConfig,
    FetchRequest,
    FetchResponse,
    FetchResult,
    HighlightSnippet,
    SearchParams,
    SearchResponse,
    SearchResult,
    UsageResponse,
    VaultConnection,
    VaultConnectionList,
    VaultItem,
    VaultItemList,
)
from .runs import (
    API_INTEGRATION,
    AgentConfig,
    AsyncRunResponse,
    BatchRunResponse,
    CancelBatchResponse,
    CancelResult,
    CaptureConfig,
    FeatureFlags,
    ListRunsParams,
    Pagination,
    ProxyConfig,
    Run,
    RunBatchRequest,
    RunError,
    RunList,
    RunRequest,
    RunsBatchResponse,
    RunStep,
    SyncRunResponse,
    api_integration_for,
)

__all__ = [
    "API_INTEGRATION",
    "PROXY_COUNTRIES",
    "TERMINAL_STATUSES",
    "AgentConfig",
    "AsyncRunResponse",
    "BatchRunResponse",
    "BrowserPage",
    "BrowserProxyConfig",
    "BrowserSession",
    "BrowserSessionRequest",
    "CancelBatchResponse",
    "CancelResult",
    "CaptureConfig",
    "CompleteEvent",
    "FeatureFlags",
    "FetchError",
    "FetchHighlights",
    "FetchProxyConfig",
    "FetchRequest",
    "FetchResponse",
    "FetchResult",
    "HeartbeatEvent",
    "HighlightSnippet",
    "ListRunsParams",
    "Pagination",
    "ProgressEvent",
    "ProxyConfig",
    "Run",
    "RunBatchRequest",
    "RunError",
    "RunEvent",
    "RunList",
    "RunRequest",
    "RunStep",
    "RunsBatchResponse",
    "SearchParams",
    "SearchResponse",
    "SearchResult",
    "StartedEvent",
    "StreamingUrlEvent",
    "SyncRunResponse",
    "UnknownEvent",
    "UsageResponse",
    "VaultConnection",
    "VaultConnectionList",
    "VaultItem",
    "VaultItemList",
    "api_integration_for",
    "parse_event",
]
