"""Pydantic models of every TinyFish payload: requests we send and responses we read.

Request models validate before anything is sent, with messages that say how to fix
the input. Response models are forward compatible: unknown fields are accepted and
kept (``extra="allow"``), and enums the service may grow are plain strings.

Wire shapes come from the API documents and the official ``tinyfish`` SDK. Three
shapes are not documented field by field (run-batch, runs/batch, runs/batch/cancel);
the ones here are our reading of the endpoint descriptions, and the emulator serves
the same.

The submodules load on first use (``__getattr__`` below): a stdio start lists the tools
without reading any payload, so it does not pay for some fifty model classes.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._base import PROXY_COUNTRIES, TERMINAL_STATUSES

if TYPE_CHECKING:
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

# The submodule of each name loaded on first use.
_SUBMODULE: dict[str, str] = {
    **dict.fromkeys(
        (
            "CompleteEvent",
            "HeartbeatEvent",
            "ProgressEvent",
            "RunEvent",
            "StartedEvent",
            "StreamingUrlEvent",
            "UnknownEvent",
            "parse_event",
        ),
        "events",
    ),
    **dict.fromkeys(
        (
            "BrowserPage",
            "BrowserProxyConfig",
            "BrowserSession",
            "BrowserSessionRequest",
            "FetchError",
            "FetchHighlights",
            "FetchProxyConfig",
            "FetchRequest",
            "FetchResponse",
            "FetchResult",
            "HighlightSnippet",
            "SearchParams",
            "SearchResponse",
            "SearchResult",
            "UsageResponse",
            "VaultConnection",
            "VaultConnectionList",
            "VaultItem",
            "VaultItemList",
        ),
        "products",
    ),
    **dict.fromkeys(
        (
            "API_INTEGRATION",
            "AgentConfig",
            "AsyncRunResponse",
            "BatchRunResponse",
            "CancelBatchResponse",
            "CancelResult",
            "CaptureConfig",
            "FeatureFlags",
            "ListRunsParams",
            "Pagination",
            "ProxyConfig",
            "Run",
            "RunBatchRequest",
            "RunError",
            "RunList",
            "RunRequest",
            "RunStep",
            "RunsBatchResponse",
            "SyncRunResponse",
            "api_integration_for",
        ),
        "runs",
    ),
}


def __getattr__(name: str) -> Any:
    module = _SUBMODULE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
