"""Test harness for the authorization layer: a small MCP server behind ``build_auth``.

The app is wired exactly as the HTTP layer is told to wire it: ``setup.routes`` first,
then the SDK's streamable-HTTP app mounted at ``/``. Requests go through
``httpx2.ASGITransport`` (the SDK's own HTTP client), so the SDK's OAuth client
provider can drive the whole flow in-process.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from _mcp import INITIALIZE, hold_open
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from mcp.client.auth import OAuthClientProvider
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from starlette.applications import Starlette
from starlette.routing import Mount

from tinyfish_mcp.auth import AuthSetup, build_auth
from tinyfish_mcp.settings import Settings

BASE = "http://127.0.0.1:8765"
RESOURCE = f"{BASE}/mcp"
REDIRECT = "http://127.0.0.1:53682/callback"
SECRET = "test-secret-" + "x" * 40
GOOD_KEY = "sk-tinyfish-user-one-1234"
OTHER_GOOD_KEY = "sk-tinyfish-user-two-5678"
VALID_KEYS = {GOOD_KEY, OTHER_GOOD_KEY}


@dataclass(frozen=True)
class Database:
    """A test's database (``kind`` is "sqlite" or "postgres"), with raw SQL for the assertions.

    Statements use SQLAlchemy's ``:name`` parameters, so one text works on either backend.
    Each call opens and disposes of its own engine: the app under test keeps its own.
    """

    kind: str
    url: str

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls("postgres" if url.startswith("postgresql") else "sqlite", url)

    @classmethod
    async def fresh(cls, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Database:
        """An empty database of the kind ``request.param`` names ("sqlite" or "postgres"), for
        one test: a new SQLite file in ``tmp_path``, or ``name`` emptied on the ``pg_cluster``."""
        if request.param == "sqlite":
            return cls("sqlite", f"sqlite+aiosqlite:///{tmp_path / name}.db")
        cluster = request.getfixturevalue("pg_cluster")
        await cluster.empty_database(name)
        return cls("postgres", cluster.url(name))

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        engine = create_async_engine(self.url)
        try:
            async with engine.begin() as conn:
                yield conn
        finally:
            await engine.dispose()

    async def execute(self, statement: str, **params: Any) -> None:
        async with self._connection() as conn:
            await conn.execute(text(statement), params)

    async def rows(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            return [tuple(row) for row in await conn.execute(text(statement), params)]

    async def count(self, table: str) -> int:
        ((count,),) = await self.rows(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - our table names
        return int(count)

    async def all_cells(self) -> bytes:
        """Every cell of every table, as bytes: to search for what must never be stored."""
        cells: list[bytes] = []
        async with self._connection() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            assert tables, "no tables in the database"
            for table in tables:
                for row in await conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                    cells.extend(c if isinstance(c, bytes) else str(c).encode() for c in row)
        return b"\x00".join(cells)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mcp_auth": "oauth",
        "mcp_host": "127.0.0.1",
        "mcp_port": 8765,
        "mcp_secret": SECRET,
        "mcp_database_url": f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}",
        # Tests that edit the store behind the server's back want every request checked there;
        # the token-check cache has tests of its own.
        "mcp_token_cache_seconds": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class KeyChecker:
    """Test double for the upstream key check: accepts a fixed set of keys, records calls."""

    accepted: set[str] = field(default_factory=lambda: set(VALID_KEYS))
    calls: int = 0

    async def __call__(self, api_key: str) -> bool:
        self.calls += 1
        return api_key in self.accepted


@dataclass
class Harness:
    setup: AuthSetup
    app: Starlette
    checker: Any
    db: Database

    def transport(self) -> httpx2.ASGITransport:
        return httpx2.ASGITransport(app=self.app)

    def http(self, **kwargs: Any) -> httpx2.AsyncClient:
        """A plain client (no redirects followed, cookies kept) on the app."""
        return httpx2.AsyncClient(transport=self.transport(), base_url=BASE, follow_redirects=False, **kwargs)


def build_test_server(setup: AuthSetup) -> MCPServer:
    server = MCPServer(
        "auth-test",
        auth_server_provider=setup.provider,
        token_verifier=setup.token_verifier,
        auth=setup.auth_settings,
    )

    @server.tool()
    async def whoami() -> str:
        """Report the last four characters of the caller's TinyFish key."""
        key = await setup.resolve_key()
        return f"key ends with {key[-4:]}"

    return server


@asynccontextmanager
async def running_harness(
    settings: Settings,
    *,
    http: httpx.AsyncClient | None = None,
    checker: Any = None,
    stateless: bool = True,
) -> AsyncIterator[Harness]:
    checker = checker or KeyChecker()
    setup = await build_auth(settings, verify_key=checker, http=http)
    server = build_test_server(setup)
    mcp_app = server.streamable_http_app(stateless_http=stateless, host="127.0.0.1")
    app = Starlette(routes=[*setup.routes, Mount("/", app=setup.wrap_mcp_app(mcp_app))])
    await setup.startup()
    try:
        async with server.session_manager.run():
            db = Database.from_url(settings.mcp_database_url)
            yield Harness(setup=setup, app=app, checker=checker, db=db)
    finally:
        await setup.shutdown()


@asynccontextmanager
async def hosted_harness(settings: Settings, **kwargs: Any) -> AsyncIterator[Harness]:
    """``running_harness`` entered and exited inside one background task.

    pytest-asyncio runs an async fixture's setup and teardown in different tasks, but the
    SDK's session manager holds an anyio task group that must be left in the task that
    entered it; hosting it in its own task makes the harness usable from a fixture.
    """
    harness, close = await hold_open(running_harness(settings, **kwargs))
    try:
        yield harness
    finally:
        await close()


# --- the browser side of the flow ---------------------------------------------


def new_pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def form_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


async def submit_consent(
    browser: httpx2.AsyncClient, consent_location: str, api_key: str, *, action: str = "approve"
) -> httpx2.Response:
    """GET the consent page the authorize step pointed at, then POST the form like a browser."""
    page = await browser.get(consent_location)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    return await browser.post("/consent", data={**fields, "api_key": api_key, "action": action})


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def register(http: httpx2.AsyncClient, **metadata: Any) -> OAuthClientInformationFull:
    body = {
        "redirect_uris": [REDIRECT],
        "client_name": "Manual Test Client",
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        **metadata,
    }
    response = await http.post("/register", json=body)
    assert response.status_code == 201, response.text
    return OAuthClientInformationFull.model_validate_json(response.content)


def authorize_params(client_id: str, challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "state-123",
        "resource": RESOURCE,
        "scope": "tinyfish",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


@dataclass
class Issued:
    client: OAuthClientInformationFull
    code: str
    verifier: str


async def obtain_code(http: httpx2.AsyncClient, *, api_key: str = GOOD_KEY, **metadata: Any) -> Issued:
    """Register (with ``metadata``), authorize and consent; return the code and its PKCE verifier."""
    client = await register(http, **metadata)
    verifier, challenge = new_pkce()
    response = await http.get("/authorize", params=authorize_params(client.client_id, challenge))
    assert response.status_code == 302, response.text
    done = await submit_consent(http, response.headers["location"], api_key)
    assert done.status_code == 303, done.text
    query = query_of(done.headers["location"])
    assert query["state"] == "state-123"
    return Issued(client=client, code=query["code"], verifier=verifier)


async def exchange(http: httpx2.AsyncClient, issued: Issued, **overrides: str | None) -> httpx2.Response:
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": issued.code,
        "redirect_uri": REDIRECT,
        "client_id": issued.client.client_id,
        "code_verifier": issued.verifier,
        "resource": RESOURCE,
        "client_secret": issued.client.client_secret,
    }
    data.update(overrides)
    return await http.post("/token", data={k: v for k, v in data.items() if v is not None})


async def tokens_for(http: httpx2.AsyncClient, *, api_key: str = GOOD_KEY) -> tuple[Issued, OAuthToken]:
    issued = await obtain_code(http, api_key=api_key)
    response = await exchange(http, issued)
    assert response.status_code == 200, response.text
    return issued, OAuthToken.model_validate_json(response.content)


async def refresh(http: httpx2.AsyncClient, client_id: str, refresh_token: str) -> httpx2.Response:
    return await http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id},
    )


async def call_mcp(http: httpx2.AsyncClient, access_token: str | None) -> httpx2.Response:
    """One raw JSON-RPC ``tools/list`` POST (enough to see whether the token is accepted)."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if access_token is not None:
        headers["Authorization"] = f"Bearer {access_token}"
    return await http.post("/mcp", json=INITIALIZE, headers=headers)


# --- the SDK's OAuth client ------------------------------------------------------


class MemoryTokenStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class ScriptedBrowser:
    """Plays the user's browser for ``OAuthClientProvider``: follows /authorize, signs in.

    ``open_browser`` makes a fresh HTTP client on the server (cookies kept, redirects not
    followed): ``harness.http`` in-process, or an ``httpx2.AsyncClient`` on a real socket.
    """

    def __init__(self, open_browser: Callable[[], httpx2.AsyncClient], api_key: str) -> None:
        self._open_browser = open_browser
        self._api_key = api_key
        self.result: AuthorizationCodeResult | None = None
        self.authorize_urls: list[str] = []

    async def redirect_handler(self, url: str) -> None:
        self.authorize_urls.append(url)
        async with self._open_browser() as browser:
            response = await browser.get(url)
            assert response.status_code == 302, response.text
            done = await submit_consent(browser, response.headers["location"], self._api_key)
        assert done.status_code == 303, done.text
        query = query_of(done.headers["location"])
        self.result = AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


@dataclass
class SdkSignIn:
    """The SDK's OAuth client on a server at a real address; ``browser`` plays the user."""

    provider: OAuthClientProvider
    storage: MemoryTokenStorage
    browser: ScriptedBrowser

    def http(self) -> httpx2.AsyncClient:
        """An HTTP client that signs the user in on its first request (tokens in ``storage``)."""
        return httpx2.AsyncClient(auth=self.provider, timeout=30)


def sdk_sign_in(server_url: str, api_key: str, *, client_name: str, auth_method: str = "none") -> SdkSignIn:
    """Sign ``api_key``'s user in on the server at ``server_url`` (its MCP endpoint is ``/mcp``)."""
    storage = MemoryTokenStorage()
    browser = ScriptedBrowser(
        lambda: httpx2.AsyncClient(base_url=server_url, follow_redirects=False), api_key
    )
    provider = OAuthClientProvider(
        server_url=f"{server_url}/mcp",
        client_metadata=OAuthClientMetadata.model_validate(
            {
                "redirect_uris": [REDIRECT],
                "client_name": client_name,
                "token_endpoint_auth_method": auth_method,
            }
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    return SdkSignIn(provider, storage, browser)
