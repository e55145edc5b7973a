"""The real HTTP app under uvicorn on a loopback port, for the hosted-server tests.

The app is built by ``tinyfish_mcp.http.app.create_app`` exactly as ``tinyfish-mcp http``
builds it, and served by uvicorn in a thread of its own (with its own event loop), so
the tests talk to it over real sockets with the SDK's streamable-HTTP and OAuth clients.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tinyfish_mcp.http.app import create_app
from tinyfish_mcp.settings import Settings

# The browser side of the OAuth flow (consent form, PKCE helpers) lives with the auth tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "auth"))

import oauth_helpers

SECRET = "http-test-secret-" + "y" * 40

FAST: dict[str, Any] = {
    "mcp_poll_initial": 0.05,
    "mcp_poll_max": 0.2,
    "retry_initial_backoff": 0.01,
    "retry_max_backoff": 0.05,
    "search_rate_limit_backoff": 0.05,
}


# What any streamable-HTTP client sends first (stateless: every request may be a first one).
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-06-18",
}


@dataclass
class Served:
    url: str
    settings: Settings

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"


@contextmanager
def serve_app(**overrides: Any) -> Iterator[Served]:
    """Run ``create_app(Settings(**overrides))`` under uvicorn until the block ends."""
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (no delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    settings = Settings(**{"mcp_host": "127.0.0.1", "mcp_port": port, **FAST, **overrides})
    server: dict[str, uvicorn.Server] = {}
    failure: list[BaseException] = []

    async def main() -> None:
        app = await create_app(settings)
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
        server["it"] = uvicorn.Server(config)
        await server["it"].serve(sockets=[sock])

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True, name="tinyfish-mcp-http")
    thread.start()
    deadline = time.monotonic() + 15
    while "it" not in server or not server["it"].started:
        if failure:
            raise failure[0]
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.01)
    try:
        yield Served(url=f"http://127.0.0.1:{port}", settings=settings)
    finally:
        server["it"].should_exit = True
        thread.join(timeout=10)
        sock.close()


class Replica(httpx2.AsyncBaseTransport):
    """The load balancer's choice: every request for the public URL goes to one replica."""

    def __init__(self, served: Served) -> None:
        self._port = int(served.url.rsplit(":", 1)[1])
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.url = request.url.copy_with(port=self._port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def serve_oauth(upstream_url: str, folder: Path, **overrides: Any) -> AbstractContextManager[Served]:
    """``serve_app`` in oauth mode on ``upstream_url``, its store a SQLite file in ``folder``."""
    return serve_app(
        mcp_auth="oauth",
        mcp_secret=SECRET,
        mcp_database_url=f"sqlite+aiosqlite:///{folder / 'oauth.db'}",
        base_url=upstream_url,
        **overrides,
    )


@asynccontextmanager
async def replica_client(served: Served, public_mcp_url: str, token: str) -> AsyncIterator[Client]:
    """An MCP client with a bearer ``token`` whose requests for ``public_mcp_url`` reach ``served``."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(transport=Replica(served), headers=headers, timeout=30) as http,
        Client(streamable_http_client(public_mcp_url, http_client=http)) as client,
    ):
        yield client


@contextmanager
def oauth_replicas(upstream_url: str, database_url: str) -> Iterator[tuple[Served, Served]]:
    """Two replicas in oauth mode sharing a database and a secret, as behind a load balancer
    at ``oauth_helpers.BASE``; ``upstream_url`` is the emulator's base URL."""
    settings = {
        "mcp_auth": "oauth",
        "mcp_secret": oauth_helpers.SECRET,
        "mcp_database_url": database_url,
        "mcp_public_url": oauth_helpers.BASE,
        "base_url": upstream_url,
    }
    with serve_app(**settings) as first, serve_app(**settings) as second:
        yield first, second


async def sign_in(served: Served, api_key: str) -> str:
    """The access token a user gets by signing in with ``api_key`` through ``served``."""
    async with httpx2.AsyncClient(transport=Replica(served), base_url=oauth_helpers.BASE) as browser:
        _, tokens = await oauth_helpers.tokens_for(browser, api_key=api_key)
    return tokens.access_token
