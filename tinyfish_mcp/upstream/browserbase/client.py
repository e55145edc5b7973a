"""Browserbase's REST API (``X-BB-API-Key``): sessions, contexts, fetch and search.

One ``httpx.AsyncClient`` per process (built on first use), the server's one key.
Every failure is an ``UpstreamError`` whose ``vendor`` is Browserbase and whose hint
names Browserbase's settings. Reads are retried once on a connection failure; a
session creation is never re-sent (it may have started a billed browser).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..errors import (
    APIError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from ..tracing import ids_note, outgoing_request_id, upstream_request_id

if TYPE_CHECKING:
    import httpx

    from ...settings import Settings

__all__ = ["BBContext", "BBFetched", "BBLiveUrls", "BBSearch", "BBSession", "BrowserbaseClient"]

VENDOR = "Browserbase"
log = logging.getLogger("tinyfish_mcp.upstream.browserbase")
M = TypeVar("M", bound=BaseModel)
_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    402: PermissionDeniedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: InvalidInputError,
    422: InvalidInputError,
    429: RateLimitError,
}
_HINTS = {
    AuthenticationError: "Browserbase refused the key: check BROWSERBASE_API_KEY in the settings.",
    PermissionDeniedError: "Browserbase refused it for the project: check BROWSERBASE_PROJECT_ID.",
    RateLimitError: "Browserbase's concurrency or rate limit was reached: wait, or release sessions.",
}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class BBSession(_Wire):
    id: str
    status: str
    created_at: str = Field(alias="createdAt")
    updated_at: str | None = Field(default=None, alias="updatedAt")
    expires_at: str | None = Field(default=None, alias="expiresAt")
    ended_at: str | None = Field(default=None, alias="endedAt")
    context_id: str | None = Field(default=None, alias="contextId")
    region: str | None = None
    keep_alive: bool | None = Field(default=None, alias="keepAlive")
    connect_url: str | None = Field(default=None, alias="connectUrl")


class BBLiveUrls(_Wire):
    debugger_fullscreen_url: str = Field(alias="debuggerFullscreenUrl")
    debugger_url: str | None = Field(default=None, alias="debuggerUrl")
    ws_url: str | None = Field(default=None, alias="wsUrl")


class BBContext(_Wire):
    id: str


class BBFetched(_Wire):
    id: str
    status_code: int = Field(alias="statusCode")
    headers: dict[str, str] = Field(default_factory=dict)
    content: Any = ""
    content_type: str = Field(default="", alias="contentType")
    encoding: str | None = None


class BBSearchResult(_Wire):
    url: str
    title: str = ""
    author: str | None = None
    published_date: str | None = Field(default=None, alias="publishedDate")
    image: str | None = None


class BBSearch(_Wire):
    query: str = ""
    results: list[BBSearchResult] = Field(default_factory=list)


_EVENTS = TypeAdapter(list[dict[str, Any]])
_SESSIONS = TypeAdapter(list[BBSession])


def _error(status: int, body: Any, request_id: str | None = None) -> UpstreamError:
    message = body.get("message") if isinstance(body, dict) else None
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    error = kind(
        str(message or f"Browserbase answered HTTP {status}"),
        status=status,
        hint=_HINTS.get(kind),
        body=body,
        request_id=request_id,
    )
    error.vendor = VENDOR
    return error


class BrowserbaseClient:
    def __init__(self, settings: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.base_url = settings.browserbase_base_url.rstrip("/")
        self.project_id = settings.browserbase_project_id
        self._http = http
        self._owned = http is None

    @property
    def key(self) -> str:
        secret = self.settings.browserbase_api_key
        return secret.get_secret_value().strip() if secret is not None else ""

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.browser_timeout, connect=self.settings.connect_timeout)
            )
        return self._http

    async def aclose(self) -> None:
        if self._owned and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
        create: bool = False, read_timeout: float | None = None,
    ) -> httpx.Response:  # fmt: skip
        import httpx

        attempts = 1 if create else 2
        for attempt in range(attempts):
            try:
                response = await self._client().request(
                    method,
                    f"{self.base_url}{path}",
                    json=json,
                    params=params,
                    headers=outgoing_request_id({"X-BB-API-Key": self.key}),
                    timeout=read_timeout if read_timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TimeoutException:
                error: UpstreamError = UpstreamTimeoutError(
                    f"Browserbase did not answer {method} {path} in time",
                    hint="Retry shortly; a session creation may have gone through: list_browser_sessions "
                    "shows the sessions this server recorded.",
                )
            except httpx.TransportError as exc:
                error = UpstreamConnectionError(
                    f"could not reach Browserbase ({type(exc).__name__})",
                    sent=not isinstance(exc, httpx.ConnectError),
                    hint="Check the network (or TINYFISH_BROWSERBASE_BASE_URL) and retry.",
                )
            else:
                note, extra = ids_note(response.headers)
                level = logging.INFO if response.status_code >= 400 else logging.DEBUG
                status = response.status_code
                log.log(level, "browserbase %s %s -> %d%s", method, path, status, note, extra=extra)
                if response.status_code >= 400:
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    raise _error(response.status_code, body, upstream_request_id(response.headers))
                return response
            error.vendor = VENDOR
            if attempt + 1 == attempts:
                raise error
        raise AssertionError("unreachable")

    async def _model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        response = await self._send(method, path, **kwargs)
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError):
            error = UpstreamProtocolError(f"Browserbase sent an unreadable answer to {method} {path}")
            error.vendor = VENDOR
            raise error from None

    # ------------------------------------------------------------------ sessions
    async def create_session(self, body: dict[str, Any]) -> BBSession:
        if self.project_id:
            body = {"projectId": self.project_id, **body}
        return await self._model(BBSession, "POST", "/v1/sessions", json=body, create=True)

    async def get_session(self, session_id: str) -> BBSession:
        return await self._model(BBSession, "GET", f"/v1/sessions/{_safe(session_id)}")

    async def list_sessions(self, status: str | None = None) -> list[BBSession]:
        response = await self._send("GET", "/v1/sessions", params={"status": status} if status else None)
        return _SESSIONS.validate_python(response.json())

    async def release_session(self, session_id: str) -> BBSession:
        body: dict[str, Any] = {"status": "REQUEST_RELEASE"}
        if self.project_id:
            body["projectId"] = self.project_id
        return await self._model(BBSession, "POST", f"/v1/sessions/{_safe(session_id)}", json=body)

    async def live_urls(self, session_id: str) -> BBLiveUrls:
        return await self._model(BBLiveUrls, "GET", f"/v1/sessions/{_safe(session_id)}/debug")

    async def session_events(
        self, session_id: str, kind: Literal["logs", "recording"]
    ) -> list[dict[str, Any]]:
        response = await self._send("GET", f"/v1/sessions/{_safe(session_id)}/{kind}")
        return _EVENTS.validate_python(response.json())

    async def session_downloads(self, session_id: str) -> bytes:
        response = await self._send("GET", f"/v1/sessions/{_safe(session_id)}/downloads")
        return response.content

    # ------------------------------------------------------------------ contexts, fetch, search
    async def create_context(self) -> BBContext:
        body = {"projectId": self.project_id} if self.project_id else {}
        return await self._model(BBContext, "POST", "/v1/contexts", json=body, create=True)

    async def fetch(self, url: str, *, allow_redirects: bool = True, proxies: bool = False) -> BBFetched:
        body = {"url": url, "allowRedirects": allow_redirects, "proxies": proxies}
        return await self._model(
            BBFetched, "POST", "/v1/fetch", json=body, read_timeout=self.settings.fetch_timeout
        )

    async def search(self, query: str, num_results: int) -> BBSearch:
        body = {"query": query, "numResults": num_results}
        return await self._model(
            BBSearch, "POST", "/v1/search", json=body, read_timeout=self.settings.search_timeout
        )


def _safe(session_id: str) -> str:
    from urllib.parse import quote

    return quote(session_id.strip(), safe="")
