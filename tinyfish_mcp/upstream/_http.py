"""The request mechanics under ``TinyFishClient``: headers, timeouts, retries, error mapping.

One ``HttpCore`` wraps the process-wide ``httpx2.AsyncClient``. The API key arrives with
each call and lives only in that call's headers: it is never stored, never logged (debug
logs name method, path, status, attempt and wait — no headers, no query), and scrubbed
from every error message as a last line of defence.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import anyio
import httpx2
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..observe import upstream_request
from ..settings import Product, Settings
from ._pool import ShardedTransport
from .constants import (
    API_KEY_HEADER,
    POOL_KEEPALIVE_EXPIRY,
    POOL_MAX_KEEPALIVE,
    POOL_MAX_SHARDS,
    POOL_SHARD_SIZE,
    USER_AGENT,
)
from .deadline import Deadline, current_deadline
from .errors import (
    AuthenticationError,
    DeadlineExceededError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
    error_from_response,
)
from .retry import RequestKind, RetryPolicy, next_delay, parse_retry_after, was_not_sent
from .tracing import ids_note, outgoing_request_id, upstream_request_id
from .writes import note_attempt

__all__ = ["HttpCore", "map_transport_error", "scrub"]

log = logging.getLogger("tinyfish_mcp.upstream")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_REDACTED = "[redacted]"
# A timeout this close to the deadline is the deadline's doing (and is reported as such).
_DEADLINE_SLACK = 0.25
# httpx needs a positive timeout; a spent budget still gets this long to fail cleanly.
_MIN_TIMEOUT = 0.01


def _retry_after(response: httpx2.Response | None) -> float | None:
    return parse_retry_after(response.headers.get("retry-after")) if response is not None else None


def _ask_later(error: UpstreamError, seconds: float, deadline: Deadline | None) -> None:
    """The service said when to come back and that is too late for this call: say when."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    error.retry_at = at.isoformat(timespec="seconds").replace("+00:00", "Z")
    past = f", past {deadline.describe()}" if deadline is not None else ""
    error.hint = f"TinyFish asked to wait {seconds:g} s{past}: try again after {error.retry_at}."


def scrub(error: UpstreamError, key: str) -> UpstreamError:
    """Remove ``key`` from the error's text, should anything have echoed it."""
    if key and key in error.message:
        error.message = error.message.replace(key, _REDACTED)
        error.args = (error.message,)
    return error


def map_transport_error(exc: Exception, *, what: str, host: str | None = None) -> UpstreamError:
    """Turn an httpx failure without a usable answer into our error tree.

    The message names the host and says whether the request can have reached the
    service: a refused connection or a failed DNS lookup certainly did not (``sent`` is
    False), a timeout or a reset after sending may have. It is built from the
    exception's class and text: httpx never puts request headers (so never the key)
    into its exception messages.
    """
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    where = f" to {host}" if host else ""
    if was_not_sent(exc):
        return UpstreamConnectionError(
            f"{what}{where}: could not connect ({detail}); the request never reached the service",
            sent=False,
        )
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamTimeoutError(
            f"{what}{where}: no answer in time ({detail}); the request may have reached the service"
        )
    if isinstance(exc, httpx2.UnsupportedProtocol):
        return UpstreamConnectionError(f"{what}: unsupported URL ({detail})", sent=False)
    if isinstance(exc, httpx2.TransportError):
        return UpstreamConnectionError(
            f"{what}{where}: the connection broke ({detail}); the request may have reached the service"
        )
    if isinstance(exc, httpx2.InvalidURL):
        return UpstreamConnectionError(f"{what}: invalid URL ({detail})", sent=False)
    return UpstreamProtocolError(f"{what}{where}: unreadable answer ({detail})")


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _decode_body(response: httpx2.Response) -> Any:
    """The decoded JSON of an (already read) error response, else its text."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _what(method: str, url: str) -> str:
    return f"{method} {urlsplit(url).path or '/'}"


class HttpCore:
    """Sends requests for the client; owns the pool unless one was handed in.

    Redirects are never followed, even on a shared client that follows them elsewhere:
    httpx drops ``Authorization`` on a cross-site redirect but not ``X-API-Key``.
    """

    def __init__(self, settings: Settings, http: httpx2.AsyncClient | None = None) -> None:
        self.settings = settings
        self.policy = RetryPolicy.from_settings(settings)
        self._owns_http = http is None
        self.http = http or httpx2.AsyncClient(
            # Uncapped, in shards: see constants.py and _pool.py.
            transport=ShardedTransport(
                shard_size=POOL_SHARD_SIZE,
                max_shards=POOL_MAX_SHARDS,
                max_keepalive=POOL_MAX_KEEPALIVE,
                keepalive_expiry=POOL_KEEPALIVE_EXPIRY,
            ),
            timeout=httpx2.Timeout(settings.default_timeout, connect=settings.connect_timeout),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    # ------------------------------------------------------------------ pieces
    def headers(self, key: str, *, accept: str = "application/json") -> dict[str, str]:
        """Per-call headers. An empty key sends no key header (the service says MISSING_API_KEY)."""
        headers = outgoing_request_id({"User-Agent": USER_AGENT, "Accept": accept})
        key = key.strip()
        if key:
            # A header value must be printable ASCII; httpx would fail with an error that
            # is not ours (and that holds the value), so refuse here without echoing it.
            if not all(32 < ord(ch) < 127 for ch in key):
                raise AuthenticationError(
                    "The API key contains characters that cannot be sent in a header "
                    "(spaces, line breaks or non-ASCII).",
                    code="INVALID_API_KEY",
                )
            headers[API_KEY_HEADER] = key
        return headers

    def timeout(self, read: float, budget: float | None = None) -> httpx2.Timeout:
        """Per-request timeouts, none longer than ``budget`` (what is left of the deadline)."""
        connect = self.settings.connect_timeout
        if budget is not None:
            budget = max(budget, _MIN_TIMEOUT)
            read, connect = min(read, budget), min(connect, budget)
        return httpx2.Timeout(read, connect=connect, pool=connect)

    # ------------------------------------------------------------------ plain requests
    async def request(
        self,
        method: str,
        url: str,
        *,
        key: str,
        kind: RequestKind,
        product: Product,
        read_timeout: float,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        label: str | None = None,
    ) -> httpx2.Response:
        """Send one call (with the retries the rule allows) and return its 2xx response, read.

        ``label`` names the call in logs and error messages instead of the URL's path (for
        URLs whose path is itself a credential, like a browser session's).
        """
        headers = self.headers(key)
        what = label or _what(method, url)
        try:
            request = self.http.build_request(
                method, url, headers=headers, json=json, params=params, timeout=self.timeout(read_timeout)
            )
        except httpx2.InvalidURL as exc:
            raise scrub(map_transport_error(exc, what=what), key) from None
        return await self._attempts(request, what, key, kind, product, read_timeout, stream=False)

    async def request_model(
        self,
        model: type[M],
        method: str,
        url: str,
        **kwargs: Any,
    ) -> M:
        response = await self.request(method, url, **kwargs)
        what = kwargs.get("label") or _what(method, url)
        return _parse(_adapter_for(model), response, what, kwargs["key"])

    async def request_adapter(self, adapter: TypeAdapter[T], method: str, url: str, **kwargs: Any) -> T:
        response = await self.request(method, url, **kwargs)
        what = kwargs.get("label") or _what(method, url)
        return _parse(adapter, response, what, kwargs["key"])

    # ------------------------------------------------------------------ the attempt loop
    async def _attempts(
        self,
        request: httpx2.Request,
        what: str,
        key: str,
        kind: RequestKind,
        product: Product,
        read_timeout: float,
        *,
        stream: bool,
    ) -> httpx2.Response:
        """Send ``request`` until it succeeds or the retry rule (and the deadline) says stop.

        Each attempt's timeouts shrink to what is left of the tool call's deadline, and the
        send itself is bounded by it. Only a 2xx response is returned (unread when
        ``stream``); anything else ends as a typed ``UpstreamError``.
        """
        deadline = current_deadline()
        host = _host(str(request.url))
        attempt, waited = 0, 0.0
        while True:
            budget = deadline.remaining() if deadline is not None else None
            if deadline is not None and budget is not None and budget <= 0:
                # Only before the first attempt: a retry is never scheduled past the deadline.
                raise DeadlineExceededError(
                    f"{what} to {host}: {deadline.describe()} ran out before the request was sent",
                    sent=False,
                )
            request.extensions["timeout"] = self.timeout(read_timeout, budget).as_dict()
            outcome: int | Exception
            failed: httpx2.Response | None = None
            try:
                response = await self._send(request, stream=stream, budget=budget)
            except httpx2.HTTPError as exc:
                note_attempt(request.method, exc)
                log.debug("tinyfish %s -> %s (attempt %d)", what, type(exc).__name__, attempt + 1)
                upstream_request(product, type(exc).__name__, attempt + 1)
                outcome = exc
            else:
                note, extra = ids_note(response.headers)
                status = response.status_code
                note_attempt(request.method, status)
                log.debug("tinyfish %s -> %d (attempt %d)%s", what, status, attempt + 1, note, extra=extra)
                upstream_request(product, str(response.status_code), attempt + 1)
                if response.is_success:
                    return response
                outcome, failed = response.status_code, response
                if stream:
                    # Read the (small) error body so the typed error can carry code and message.
                    try:
                        await response.aread()
                    except httpx2.HTTPError as exc:
                        outcome = exc
                    finally:
                        await _close(response)
            retry_after = _retry_after(failed) if isinstance(outcome, int) else None
            remaining = deadline.remaining() if deadline is not None else None
            delay = next_delay(
                self.policy,
                kind,
                product,
                attempt,
                outcome,
                waited,
                retry_after=retry_after,
                remaining=remaining,
            )
            if delay is None:
                error = self._failure(what, host, outcome, failed, deadline=deadline, attempts=attempt + 1)
                note, extra = ids_note(failed.headers if failed is not None else None)
                tries = attempt + 1
                log.info("tinyfish %s failed (%d attempts): %s%s", what, tries, error.code, note, extra=extra)
                if retry_after is not None:
                    _ask_later(error, retry_after, deadline)
                raise scrub(error, key) from None
            log.debug("tinyfish %s: retry %d in %.2fs", what, attempt + 1, delay)
            await anyio.sleep(delay)
            attempt, waited = attempt + 1, waited + delay

    async def _send(self, request: httpx2.Request, *, stream: bool, budget: float | None) -> httpx2.Response:
        """One send, bounded by ``budget`` seconds when there is a deadline."""
        if budget is None:
            return await self.http.send(request, stream=stream, follow_redirects=False)
        with anyio.move_on_after(budget):
            return await self.http.send(request, stream=stream, follow_redirects=False)
        # The deadline ran out mid-request: the request may have gone out.
        raise httpx2.ReadTimeout("no answer before the deadline", request=request)

    def _failure(
        self,
        what: str,
        host: str,
        outcome: int | Exception,
        response: httpx2.Response | None,
        *,
        deadline: Deadline | None = None,
        attempts: int = 1,
    ) -> UpstreamError:
        if isinstance(outcome, Exception):
            if (
                deadline is not None
                and isinstance(outcome, httpx2.TimeoutException)
                and deadline.remaining() < _DEADLINE_SLACK
            ):
                tries = f", {attempts} attempts" if attempts > 1 else ""
                sent = not was_not_sent(outcome)
                return DeadlineExceededError(
                    f"{what} to {host}: no answer within {deadline.describe()}{tries}; "
                    f"the request {'may have reached' if sent else 'never reached'} the service",
                    sent=sent,
                )
            return map_transport_error(outcome, what=what, host=host)
        assert response is not None
        if response.is_error:
            return error_from_response(
                response.status_code, _decode_body(response), request_id=upstream_request_id(response.headers)
            )
        status = response.status_code
        return UpstreamProtocolError(f"{what}: unexpected HTTP {status}", status=status)

    # ------------------------------------------------------------------ streams
    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        key: str,
        kind: RequestKind,
        product: Product,
        read_timeout: float,
        json: Any = None,
        accept: str = "text/event-stream",
        extra_headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[httpx2.Response]:
        """Open a streamed response (2xx, body unread) and close it when the block exits.

        Opening follows the same retry rule as :meth:`request`; once the response is
        handed out nothing is retried. The response is closed on every exit — normal,
        error or cancellation — under a shield, so a cancelled caller never leaves the
        connection (and the upstream stream) hanging open.
        """
        headers = self.headers(key, accept=accept)
        headers["Cache-Control"] = "no-store"
        headers.update(extra_headers or {})  # e.g. Last-Event-ID when resuming a stream
        what = _what(method, url)
        try:
            request = self.http.build_request(
                method, url, headers=headers, json=json, timeout=self.timeout(read_timeout)
            )
        except httpx2.InvalidURL as exc:
            raise scrub(map_transport_error(exc, what=what), key) from None
        response = await self._attempts(request, what, key, kind, product, read_timeout, stream=True)
        try:
            yield response
        finally:
            await _close(response)


async def _close(response: httpx2.Response) -> None:
    """Close a response even inside a cancelled scope (and never wait long for it)."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(5):
        await response.aclose()


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {}


def _adapter_for(model: type[M]) -> TypeAdapter[M]:
    """One adapter per response model, built once: building one compiles a validator."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return cast("TypeAdapter[M]", adapter)


def _parse(adapter: TypeAdapter[T], response: httpx2.Response, what: str, key: str) -> T:
    try:
        data = response.json()
    except ValueError:
        snippet = response.text[:120]
        raise scrub(
            UpstreamProtocolError(f"{what}: answer is not JSON ({snippet!r})", status=response.status_code),
            key,
        ) from None
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise scrub(
            UpstreamProtocolError(
                f"{what}: answer has an unexpected shape ({problems})", status=response.status_code
            ),
            key,
        ) from None
