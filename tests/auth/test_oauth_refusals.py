"""Codes, PKCE, redirects, resources and tokens: what the token side must refuse."""

from __future__ import annotations

import time

import httpx2
import pytest
from mcp.server.auth.provider import AccessToken
from oauth_helpers import (
    REDIRECT,
    RESOURCE,
    Harness,
    authorize_params,
    call_mcp,
    exchange,
    new_pkce,
    obtain_code,
    query_of,
    refresh,
    register,
    tokens_for,
)

from tinyfish_mcp.auth.crypto import hash_secret
from tinyfish_mcp.auth.provider import TinyFishOAuthProvider
from tinyfish_mcp.auth.store import TokenRecord

# --- authorization codes and PKCE ------------------------------------------------


async def test_reused_code_is_refused_and_revokes_tokens_issued_from_it(http: httpx2.AsyncClient) -> None:
    issued = await obtain_code(http)
    first = await exchange(http, issued)
    assert first.status_code == 200
    tokens = first.json()
    assert (await call_mcp(http, tokens["access_token"])).status_code == 200

    again = await exchange(http, issued)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # The replay revoked the family: the first exchange's tokens are dead too.
    assert (await call_mcp(http, tokens["access_token"])).status_code == 401
    assert (await refresh(http, issued.client.client_id, tokens["refresh_token"])).json()[
        "error"
    ] == "invalid_grant"


async def test_wrong_pkce_verifier_is_refused(http: httpx2.AsyncClient) -> None:
    issued = await obtain_code(http)
    other_verifier, _ = new_pkce()
    response = await exchange(http, issued, code_verifier=other_verifier)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "incorrect code_verifier"}


async def test_missing_pkce_verifier_is_refused(http: httpx2.AsyncClient) -> None:
    issued = await obtain_code(http)
    response = await exchange(http, issued, code_verifier=None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "code_verifier" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        # An S256 challenge is exactly 43 base64url characters; a raw verifier is not one.
        ({"code_challenge": "a-plain-verifier-sent-as-if-it-were-a-challenge-000000000"}, "invalid_request"),
    ],
)
async def test_plain_or_missing_pkce_challenge_is_refused(
    http: httpx2.AsyncClient, overrides: dict[str, str | None], error: str
) -> None:
    client = await register(http)
    _, challenge = new_pkce()
    response = await http.get("/authorize", params=authorize_params(client.client_id, challenge, **overrides))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    assert query_of(location)["error"] == error
    assert query_of(location)["state"] == "state-123"


async def test_expired_code_is_refused(harness: Harness, http: httpx2.AsyncClient) -> None:
    issued = await obtain_code(http)
    await harness.db.execute(
        "UPDATE tfmcp_codes SET expires_at = :past WHERE code_hash = :code",
        past=time.time() - 1,
        code=hash_secret(issued.code),
    )
    response = await exchange(http, issued)
    assert response.status_code == 400
    assert response.json()["error_description"] == "authorization code has expired"


# --- redirect URI and resource -------------------------------------------------------


async def test_redirect_uri_mismatch_is_refused_at_authorize_and_token(http: httpx2.AsyncClient) -> None:
    client = await register(http)
    _, challenge = new_pkce()
    wrong = "http://127.0.0.1:53682/other"
    response = await http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, redirect_uri=wrong)
    )
    # Never redirect to an unregistered URI: the error is shown directly.
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"] == "invalid_request"

    issued = await obtain_code(http)
    response = await exchange(http, issued, redirect_uri="http://127.0.0.1:53682/callback2")
    assert response.status_code == 400
    assert "redirect_uri" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("resource", "error"),
    [
        (None, "invalid_request"),
        ("https://other.example.com/mcp", "invalid_target"),
        (f"{RESOURCE}/x", "invalid_target"),
    ],
)
async def test_missing_or_wrong_resource_is_refused(
    harness: Harness, http: httpx2.AsyncClient, resource: str | None, error: str
) -> None:
    client = await register(http)
    _, challenge = new_pkce()
    response = await http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, resource=resource)
    )
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert response.headers["location"].startswith(REDIRECT)
    assert query["error"] == error
    assert query["state"] == "state-123"
    assert query["iss"] == "http://127.0.0.1:8765"
    assert await harness.db.count("tfmcp_pending") == 0


# --- tokens ------------------------------------------------------------------------------


async def test_expired_access_token_is_refused(harness: Harness, http: httpx2.AsyncClient) -> None:
    _, tokens = await tokens_for(http)
    assert tokens.expires_in == 3600  # the mcp_access_token_ttl default
    ((expires_at,),) = await harness.db.rows(
        "SELECT expires_at FROM tfmcp_tokens WHERE token_hash = :token",
        token=hash_secret(tokens.access_token),
    )
    assert abs(expires_at - (time.time() + 3600)) < 60
    assert (await call_mcp(http, tokens.access_token)).status_code == 200

    await harness.db.execute(
        "UPDATE tfmcp_tokens SET expires_at = :past WHERE kind = 'access'", past=time.time() - 1
    )
    response = await call_mcp(http, tokens.access_token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_revoking_the_refresh_token_also_kills_the_access_token(http: httpx2.AsyncClient) -> None:
    issued, tokens = await tokens_for(http)
    assert tokens.refresh_token
    response = await http.post(
        "/revoke",
        data={
            "token": tokens.refresh_token,
            "token_type_hint": "refresh_token",
            "client_id": issued.client.client_id,
        },
    )
    assert response.status_code == 200
    assert (await call_mcp(http, tokens.access_token)).status_code == 401
    assert (await refresh(http, issued.client.client_id, tokens.refresh_token)).status_code == 400


async def test_refresh_rotates_and_reuse_revokes_the_family(http: httpx2.AsyncClient) -> None:
    issued, tokens = await tokens_for(http)
    assert tokens.refresh_token
    rotated = await refresh(http, issued.client.client_id, tokens.refresh_token)
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens.refresh_token
    assert (await call_mcp(http, new["access_token"])).status_code == 200

    replay = await refresh(http, issued.client.client_id, tokens.refresh_token)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The whole family is gone, the legitimate successors included.
    assert (await call_mcp(http, new["access_token"])).status_code == 401
    assert (await refresh(http, issued.client.client_id, new["refresh_token"])).status_code == 400


async def test_refresh_token_of_another_client_is_refused(http: httpx2.AsyncClient) -> None:
    _, tokens = await tokens_for(http)
    assert tokens.refresh_token
    intruder = await register(http)
    response = await refresh(http, intruder.client_id, tokens.refresh_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_token_for_another_audience_is_refused(harness: Harness, http: httpx2.AsyncClient) -> None:
    issued, good = await tokens_for(http)
    provider = harness.setup.provider
    assert isinstance(provider, TinyFishOAuthProvider)
    loaded = await provider.load_access_token(good.access_token)
    assert isinstance(loaded, AccessToken) and loaded.subject
    # A token of the same grant, but minted for another resource server.
    foreign = "foreign-audience-token-" + "z" * 30
    await provider.store.save_tokens(
        [
            (
                foreign,
                TokenRecord(
                    "access",
                    loaded.subject,
                    issued.client.client_id,
                    ["tinyfish"],
                    "https://other.example.com/mcp",
                    time.time() + 600,
                    False,
                ),
            )
        ]
    )
    assert (await provider.load_access_token(foreign)) is not None  # it exists and is live ...
    response = await call_mcp(http, foreign)
    assert response.status_code == 401  # ... but the SDK refuses it for this resource
    assert (await call_mcp(http, good.access_token)).status_code == 200


async def test_unknown_client_is_refused(http: httpx2.AsyncClient) -> None:
    _, challenge = new_pkce()
    response = await http.get("/authorize", params=authorize_params("no-such-client", challenge))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not found" in response.json()["error_description"]

    token = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "client_id": "no-such-client",
            "code_verifier": "y",
        },
    )
    assert token.status_code == 401
    assert token.json()["error"] == "invalid_client"
