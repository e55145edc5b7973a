"""``tinyfish-mcp http`` as an operator runs it: oversized bodies, and what its logs never show.

The server is a real process (``spawned.py``) logging at DEBUG, so uvicorn's access and
error logs, the SDK's and ours all land in the file these tests read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from _mcp import INITIALIZE, ProgressLog, result_json
from hosted import MCP_HEADERS
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from oauth_helpers import REDIRECT, authorize_params, new_pkce, query_of, sdk_sign_in
from spawned import Spawned, spawned_oauth_server

_LIMIT = 128 * 1024


@pytest.fixture
def server(emulator: Any, tmp_path: Path) -> Iterator[Spawned]:
    with spawned_oauth_server(emulator.base_url, tmp_path, TINYFISH_MCP_MAX_BODY_BYTES=str(_LIMIT)) as served:
        yield served


def _chunks(total: int) -> Iterator[bytes]:
    """A form body sent with ``Transfer-Encoding: chunked`` (no Content-Length to refuse early)."""
    yield b"grant_type=x&pad="
    for _ in range(total // 8192):
        yield b"x" * 8192


_OAUTH_PATHS = ["/token", "/register", "/consent", "/authorize", "/revoke"]
_OTHER_PATHS = ["/mcp", "/no-such-path"]


@pytest.mark.parametrize("size", [300 * 1024, 80 * 1024])
def test_chunked_bodies_over_a_limit_get_413_on_every_path_never_a_traceback(
    server: Spawned, size: int
) -> None:
    """300 KB is over the server's limit (128 KB) everywhere; 80 KB is over the OAuth
    endpoints' own, smaller limits only."""
    statuses = {}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for path in _OAUTH_PATHS + _OTHER_PATHS:
            response = http.post(
                path,
                content=_chunks(size),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "*/*"},
            )
            statuses[path] = response.status_code
            if size > _LIMIT:
                assert response.json()["error"] == "request_too_large", path
        assert http.get("/healthz").status_code == 200
    if size > _LIMIT:
        assert statuses == dict.fromkeys(_OAUTH_PATHS + _OTHER_PATHS, 413)
    else:
        assert {path: statuses[path] for path in _OAUTH_PATHS} == dict.fromkeys(_OAUTH_PATHS, 413)
        # Under the server's limit the ordinary refusals come back (no token; no such path).
        assert statuses["/mcp"] == 401 and statuses["/no-such-path"] == 404
    logs = server.stop()
    assert "Traceback" not in logs
    assert "Exception in ASGI application" not in logs
    assert "tinyfish_mcp.access: POST /token 413 " in logs  # the access log is there to be read


async def test_no_token_code_or_key_reaches_the_logs_after_an_oauth_session(
    server: Spawned, emulator: Any
) -> None:
    signing_in = sdk_sign_in(
        server.url, emulator.api_key, client_name="Log Scan", auth_method="client_secret_post"
    )
    storage, browser = signing_in.storage, signing_in.browser
    progress = ProgressLog()
    async with (
        signing_in.http() as http,
        Client(streamable_http_client(server.mcp_url, http_client=http)) as client,
    ):
        run = result_json(
            await client.call_tool(
                "run_web_automation",
                {"url": "https://shop.example.com/?tf_steps=2", "goal": "List the products"},
                progress_callback=progress,
            )
        )
        assert run["status"] == "COMPLETED"
        assert not (await client.call_tool("list_runs", {"limit": 5})).is_error
    tokens, client_info, code = storage.tokens, storage.client_info, browser.result
    assert tokens is not None and tokens.refresh_token and client_info is not None and code is not None
    assert client_info.client_secret
    secrets = {
        "api key": emulator.api_key,
        "access token": tokens.access_token,
        "refresh token": tokens.refresh_token,
        "authorization code": code.code,
        "client secret": client_info.client_secret,
    }

    async with httpx2.AsyncClient(base_url=server.url, timeout=30) as raw:
        refreshed = await raw.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token,
                "client_id": client_info.client_id,
                "client_secret": client_info.client_secret,
                "resource": server.mcp_url,
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        secrets["refreshed access token"] = refreshed.json()["access_token"]
        secrets["refreshed refresh token"] = refreshed.json()["refresh_token"]

        # Credentials where they do not belong: in query strings.
        access = secrets["refreshed access token"]
        in_query = await raw.post(f"/mcp?access_token={access}", json=INITIALIZE, headers=MCP_HEADERS)
        assert in_query.status_code == 401
        await raw.get(f"/mcp?api_key={emulator.api_key}&token={access}")
        await raw.get(f"/callback?code={code.code}&state=abc")

        # A consent page opened, so that its transaction id is in a request line too.
        _, challenge = new_pkce()
        state = "client-state-" + "q" * 20
        params = authorize_params(client_info.client_id, challenge, state=state)
        params["resource"] = server.mcp_url
        params["redirect_uri"] = REDIRECT
        started = await raw.get("/authorize", params=params)
        assert started.status_code == 302, started.text
        txn = query_of(started.headers["location"])["txn"]
        assert (await raw.get(started.headers["location"])).status_code == 200
        secrets.update({"consent transaction": txn, "state": state})

        revoked = await raw.post(
            "/revoke",
            data={
                "token": access,
                "client_id": client_info.client_id,
                "client_secret": client_info.client_secret,
            },
        )
        assert revoked.status_code == 200

    logs = server.stop()
    leaked = [name for name, value in secrets.items() if value in logs]
    assert leaked == [], f"found in the logs: {leaked}"
    # The scan read real request lines: each of those requests is logged, without its query.
    for line in (
        "tinyfish_mcp.access: POST /mcp 401 ",
        "tinyfish_mcp.access: GET /mcp ",
        "tinyfish_mcp.access: GET /callback 404 ",
        "tinyfish_mcp.access: GET /consent 200 ",
        "tinyfish_mcp.access: POST /token 200 ",
        "tinyfish_mcp.access: GET /authorize 302 ",
    ):
        assert line in logs, line
    access = [line for line in logs.splitlines() if "tinyfish_mcp.access:" in line]
    assert not [line for line in access if "?" in line]
