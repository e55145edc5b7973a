"""Prometheus metrics at ``/metrics``, behind a bearer token of their own.

``/metrics`` exists only when ``TINYFISH_MCP_METRICS_TOKEN`` is set, and answers only
``Authorization: Bearer <that token>``: it is never part of the public surface, even
on a replica that the internet reaches. What is counted:

* ``tinyfish_mcp_tool_calls_total{tool, outcome}`` and ``tinyfish_mcp_tool_call_seconds``;
* ``tinyfish_mcp_upstream_requests_total{product, status, attempt}`` (``status`` is the
  HTTP status, or the transport error's class name);
* ``tinyfish_mcp_live_streamed_calls``: calls following a run (or other long work) now;
* ``tinyfish_mcp_browser_sessions``: browser sessions opened and not yet seen to end
  (closed, or found ended when listed). Each process adds the sessions it opens and takes
  off those it sees end, whoever opened them (another worker or replica may have), unless
  they were opened before its replica started: so the sum over workers and replicas is the
  deployment's open sessions, while one process's value alone may be below zero;
* ``tinyfish_mcp_oauth_events_total{event, reason}``: sign-ins, token refreshes, reuse
  detections, and refusals (``/token`` errors by their RFC 6749 code, 401s on ``/mcp``,
  other 4xx of the OAuth endpoints by status);
* ``tinyfish_mcp_build_info{version, python}``.

Labels come from closed sets (tool names, products, status codes, error codes): never a
key, a token, a URL or a user. With several workers, prometheus-client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``serving.py``) sums every worker's files.
"""

from __future__ import annotations

import hmac
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__, observe
from ..pipeline.catalog import Catalog

__all__ = [
    "MULTIPROC_ENV",
    "CallMetrics",
    "OAuthRefusals",
    "forget_process",
    "mark_replica_start",
    "metrics_endpoint",
    "start_observing",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# When the replica (the supervisor of its workers) started: see ``_PrometheusObserver``.
STARTED_ENV = "TINYFISH_MCP_REPLICA_STARTED"

TOOL_CALLS = Counter("tinyfish_mcp_tool_calls", "Tool calls by tool and outcome.", ["tool", "outcome"])
TOOL_SECONDS = Histogram(
    "tinyfish_mcp_tool_call_seconds",
    "Tool call latency.",
    ["tool"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120, 300),
)
UPSTREAM = Counter(
    "tinyfish_mcp_upstream_requests",
    "Requests sent to TinyFish, by product, status and attempt.",
    ["product", "status", "attempt"],
)
LIVE_CALLS = Gauge(
    "tinyfish_mcp_live_streamed_calls",
    "Tool calls following a run or other long work right now.",
    multiprocess_mode="livesum",
)
BROWSER_SESSIONS = Gauge(
    "tinyfish_mcp_browser_sessions",
    "Browser sessions opened and not yet seen to end (sum over workers and replicas).",
    multiprocess_mode="livesum",
)
OAUTH = Counter("tinyfish_mcp_oauth_events", "OAuth events and refusals.", ["event", "reason"])
BUILD = Gauge(
    "tinyfish_mcp_build_info", "Version of the server.", ["version", "python"], multiprocess_mode="max"
)

# RFC 6749 §5.2 and RFC 8707 error codes; anything else is counted as "other".
_TOKEN_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",
    }
)
_OAUTH_PATHS = frozenset({"/token", "/authorize", "/register", "/revoke", "/consent"})
_MAX_ERROR_BODY = 4096
_MAX_ATTEMPT_LABEL = 9
# Sessions remembered per process for the gauge; past it the oldest is dropped (and uncounted).
_MAX_TRACKED_SESSIONS = 10_000


def _outcome(result: Any, name: str) -> str:
    """ok, error (the tool's own error result), or failure (a crash: the SDK's generic text)."""
    if not isinstance(result, dict) or result.get("isError") is not True:
        return "ok"
    content = result.get("content") or [{}]
    first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
    return "failure" if first.get("text") == f"Error executing tool {name}" else "error"


class CallMetrics(ServerMiddleware[Any]):
    """A ``Server`` middleware counting every ``tools/call`` by tool and outcome, with its latency."""

    def __init__(self, catalog: Catalog) -> None:
        self._streaming = catalog.takes_context()  # tools whose calls are live (they may stream progress)
        # Other names are counted as "unknown", so a caller cannot grow the label set.
        self._known = frozenset(tool.name for tool in catalog.tools)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        raw = ctx.params.get("name") if ctx.method == "tools/call" and ctx.params else None
        if not isinstance(raw, str):
            return await call_next(ctx)
        name = raw if raw in self._known else "unknown"
        live = name in self._streaming
        started = time.monotonic()
        outcome = "failure"
        if live:
            LIVE_CALLS.inc()
        try:
            result = await call_next(ctx)
            outcome = _outcome(result, name)
            return result
        except BaseException as exc:
            outcome = "cancelled" if not isinstance(exc, Exception) else "failure"
            raise
        finally:
            if live:
                LIVE_CALLS.dec()
            TOOL_CALLS.labels(name, outcome).inc()
            TOOL_SECONDS.labels(name).observe(time.monotonic() - started)


def _remember(ids: dict[str, None], session_id: str) -> None:
    ids[session_id] = None
    if len(ids) > _MAX_TRACKED_SESSIONS:
        del ids[next(iter(ids))]


def mark_replica_start() -> None:
    """In the supervisor, before its workers start: when this replica started (for them all)."""
    os.environ.setdefault(STARTED_ENV, repr(time.time()))


def _replica_started() -> float:
    try:
        return float(os.environ[STARTED_ENV])
    except (KeyError, ValueError):
        return time.time()


class _PrometheusObserver:
    def __init__(self) -> None:
        # A worker that starts late still takes off the sessions its siblings opened.
        self._started = _replica_started()
        # Sessions opened here, and sessions seen ending here (so a repeat changes nothing).
        self._opened: dict[str, None] = {}
        self._ended: dict[str, None] = {}

    def browser_session(self, session_id: str, opened: bool, created_at: float) -> None:
        if opened:
            if session_id not in self._opened and session_id not in self._ended:
                _remember(self._opened, session_id)
                BROWSER_SESSIONS.inc()
            return
        if session_id in self._ended:
            return
        _remember(self._ended, session_id)
        counted_here = session_id in self._opened
        self._opened.pop(session_id, None)
        # Opened here, or by a process that counts it still (another worker or replica):
        # not one opened before this process started, whose count went with its process.
        if counted_here or created_at >= self._started:
            BROWSER_SESSIONS.dec()

    def upstream_request(self, product: str, status: str, attempt: int) -> None:
        UPSTREAM.labels(product, status, str(min(attempt, _MAX_ATTEMPT_LABEL))).inc()

    def oauth_event(self, event: str, reason: str) -> None:
        OAUTH.labels(event, reason).inc()


_OBSERVER = _PrometheusObserver()


def start_observing() -> None:
    """Turn the layers' hooks (``observe.py``) into metrics, once per process."""
    observe.add_observer(_OBSERVER)
    BUILD.labels(__version__, platform.python_version()).set(1)


def forget_process() -> None:
    """At a worker's exit: drop its live gauges from the shared files (multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _registry() -> Any:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def metrics_endpoint(token: str) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: the text exposition, for ``Authorization: Bearer <token>`` only."""
    expected = f"Bearer {token}".encode()

    async def metrics(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return Response("metrics need their bearer token\n", status_code=401, media_type="text/plain")
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)

    return metrics


class OAuthRefusals:
    """ASGI middleware counting refusals of the OAuth endpoints and 401s on ``/mcp``.

    It reads only the response: the status, and for ``/token`` the ``error`` code of its
    (small, JSON) error body, kept only when it is one of the standard codes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        endpoint = path if path in _OAUTH_PATHS else "/mcp" if path.startswith("/mcp") else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status >= 400 and endpoint == "/token":
                body.extend(message.get("body", b"")[: max(0, _MAX_ERROR_BODY - len(body))])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            _count_refusal(endpoint, status, bytes(body))


def _count_refusal(endpoint: str, status: int, body: bytes) -> None:
    if status < 400 or (endpoint == "/mcp" and status != 401):
        return
    reason = str(status)
    if endpoint == "/token":
        try:
            code = json.loads(body).get("error")
        except (ValueError, AttributeError):
            code = None
        reason = code if code in _TOKEN_ERRORS else "other" if code else reason
    OAUTH.labels("refusal", f"{endpoint.lstrip('/')}:{reason}").inc()
