"""The whole OAuth flow, driven by the SDK's own OAuth client, plus the discovery documents."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx2
import pytest
from _mcp import CheckedClient
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from mcp_types import TextContent
from oauth_helpers import (
    BASE,
    GOOD_KEY,
    OTHER_GOOD_KEY,
    REDIRECT,
    RESOURCE,
    Database,
    Harness,
    MemoryTokenStorage,
    ScriptedBrowser,
    call_mcp,
    make_settings,
    query_of,
    refresh,
    running_harness,
    tokens_for,
)

PRM_URL = f"{BASE}/.well-known/oauth-protected-resource/mcp"


async def _whoami(harness: Harness, http: httpx2.AsyncClient) -> str:
    async with CheckedClient(streamable_http_client(RESOURCE, http_client=http)) as client:
        result = await client.call_tool("whoami", {})
    assert not result.is_error, result
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_sdk_client_full_flow_discovery_to_revocation(
    tmp_path: Path, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_harness(make_settings(tmp_path, mcp_database_url=database.url)) as harness:
        browser = ScriptedBrowser(harness.http, GOOD_KEY)
        storage = MemoryTokenStorage()
        oauth = OAuthClientProvider(
            server_url=RESOURCE,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[REDIRECT],
                client_name="SDK Test Client",
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=browser.redirect_handler,
            callback_handler=browser.callback_handler,
        )
        paths: list[tuple[str, str]] = []

        async def record(request: httpx2.Request) -> None:
            paths.append((request.method, request.url.path))

        async with httpx2.AsyncClient(
            transport=harness.transport(), auth=oauth, event_hooks={"request": [record]}
        ) as http:
            # discovery (401 -> PRM -> AS metadata) -> DCR -> authorize -> consent -> token -> call
            assert await _whoami(harness, http) == "key ends with 1234"
            assert paths[:5] == [
                ("POST", "/mcp"),
                ("GET", "/.well-known/oauth-protected-resource/mcp"),
                ("GET", "/.well-known/oauth-authorization-server"),
                ("POST", "/register"),
                ("POST", "/token"),
            ]
            authorize = query_of(browser.authorize_urls[0])
            assert authorize["resource"] == RESOURCE
            assert authorize["code_challenge_method"] == "S256"
            assert authorize["scope"] == "tinyfish"
            assert storage.tokens is not None and storage.tokens.refresh_token
            assert storage.client_info is not None and storage.client_info.client_secret is None
            first = storage.tokens

            # refresh: make the client believe its access token expired; it refreshes first
            oauth.context.token_expiry_time = time.time() - 1
            paths.clear()
            assert await _whoami(harness, http) == "key ends with 1234"
            assert paths[0] == ("POST", "/token")
            second = storage.tokens
            assert second.access_token != first.access_token
            assert second.refresh_token and second.refresh_token != first.refresh_token
            assert len(browser.authorize_urls) == 1  # no second sign-in was needed

        # revoke (RFC 7009) the current access token: its whole grant goes
        async with harness.http() as plain:
            response = await plain.post(
                "/revoke",
                data={"token": second.access_token, "client_id": storage.client_info.client_id},
            )
            assert response.status_code == 200, response.text
            assert (await call_mcp(plain, second.access_token)).status_code == 401
            refused = await refresh(plain, storage.client_info.client_id, second.refresh_token)
            assert refused.status_code == 400
            assert refused.json()["error"] == "invalid_grant"

    # Neither the API key nor any token made it into a log line (server, SDK or client side).
    secrets = [GOOD_KEY, first.access_token, second.access_token, first.refresh_token, second.refresh_token]
    logged = "\n".join(f"{record.getMessage()} {record.args}" for record in caplog.records)
    assert caplog.records
    for secret in secrets:
        assert secret and secret not in logged


async def test_unauthenticated_request_gets_challenge_with_absolute_prm_url(
    tmp_path: Path, database: Database
) -> None:
    settings = make_settings(tmp_path, mcp_database_url=database.url)
    async with running_harness(settings) as harness, harness.http() as http:
        for token in (None, "not-a-real-token"):
            response = await call_mcp(http, token)
            assert response.status_code == 401
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith("Bearer ")
            assert f'resource_metadata="{PRM_URL}"' in challenge
            assert 'error="invalid_token"' in challenge
            assert challenge.endswith(', scope="tinyfish"')
        # There is no anonymous tier: a GET (SSE stream) is challenged the same way.
        response = await http.get("/mcp", headers={"Accept": "text/event-stream"})
        assert response.status_code == 401
        assert f'resource_metadata="{PRM_URL}"' in response.headers["www-authenticate"]


async def test_discovery_documents(tmp_path: Path) -> None:
    async with running_harness(make_settings(tmp_path)) as harness, harness.http() as http:
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert metadata["issuer"] == BASE
        assert metadata["authorization_endpoint"] == f"{BASE}/authorize"
        assert metadata["token_endpoint"] == f"{BASE}/token"
        assert metadata["registration_endpoint"] == f"{BASE}/register"
        assert metadata["revocation_endpoint"] == f"{BASE}/revoke"
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert metadata["client_id_metadata_document_supported"] is True
        assert metadata["authorization_response_iss_parameter_supported"] is True
        assert "none" in metadata["token_endpoint_auth_methods_supported"]
        assert metadata["scopes_supported"] == ["tinyfish"]

        expected_prm = {
            "resource": RESOURCE,
            "authorization_servers": [BASE],
            "scopes_supported": ["tinyfish"],
            "bearer_methods_supported": ["header"],
        }
        for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
            response = await http.get(path)
            assert response.status_code == 200, path
            assert response.json() == expected_prm


@pytest.mark.parametrize("stateless", [True, False], ids=["stateless", "stateful"])
async def test_each_token_uses_its_own_users_key_concurrently(
    tmp_path: Path, database: Database, stateless: bool
) -> None:
    settings = make_settings(tmp_path, mcp_database_url=database.url)
    async with running_harness(settings, stateless=stateless) as harness:
        async with harness.http() as http:
            _, one = await tokens_for(http, api_key=GOOD_KEY)
            _, two = await tokens_for(http, api_key=OTHER_GOOD_KEY)

        async def whoami_as(access_token: str) -> str:
            headers = {"Authorization": f"Bearer {access_token}"}
            async with httpx2.AsyncClient(transport=harness.transport(), headers=headers) as http:
                return await _whoami(harness, http)

        results = await asyncio.gather(*(whoami_as(t.access_token) for t in (one, two, one, two)))
        assert results == ["key ends with 1234", "key ends with 5678"] * 2
