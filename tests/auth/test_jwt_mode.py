"""jwt mode: tokens from an external issuer, checked against a JWKS the test serves."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
from _mcp import CheckedClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextContent
from oauth_helpers import BASE, RESOURCE, Harness, call_mcp, make_settings, running_harness
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tinyfish_mcp.auth import build_auth

ISSUER = "https://idp.example.com"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
SCOPE = "tinyfish:use"
DEPLOYMENT_KEY = "sk-tinyfish-deployment-9999"


@dataclass
class IdentityProvider:
    """Signs tokens with keys it generates; its JWKS endpoint is served through an httpx transport."""

    keys: list[RSAKey] = field(default_factory=lambda: [RSAKey.generate_key(2048, parameters={"kid": "k1"})])
    jwks_hits: int = 0

    def app(self) -> Starlette:
        async def jwks(request: Request) -> JSONResponse:
            self.jwks_hits += 1
            return JSONResponse({"keys": [key.as_dict(private=False) for key in self.keys]})

        return Starlette(routes=[Route("/.well-known/jwks.json", jwks)])

    def token(self, key: RSAKey | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": RESOURCE,
            "sub": "user-42",
            "client_id": "company-portal",
            "scope": f"openid {SCOPE}",
            "iat": now,
            "exp": now + 300,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


@asynccontextmanager
async def jwt_harness(tmp_path: Path, idp: IdentityProvider, **overrides: Any) -> AsyncIterator[Harness]:
    settings = make_settings(
        tmp_path,
        mcp_auth="jwt",
        mcp_secret=None,
        mcp_jwt_issuer=ISSUER,
        mcp_jwt_jwks_url=JWKS_URL,
        mcp_jwt_required_scope=SCOPE,
        api_key=DEPLOYMENT_KEY,
        **overrides,
    )
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=idp.app())) as http,
        running_harness(settings, http=http) as harness,
    ):
        yield harness


async def _status(harness: Harness, token: str) -> int:
    async with harness.http() as http:
        return (await call_mcp(http, token)).status_code


async def test_valid_token_is_accepted_and_tools_use_the_deployment_key(tmp_path: Path) -> None:
    idp = IdentityProvider()
    async with jwt_harness(tmp_path, idp) as harness:
        assert harness.setup.provider is None
        headers = {"Authorization": f"Bearer {idp.token()}"}
        async with (
            httpx2.AsyncClient(transport=harness.transport(), headers=headers) as http,
            CheckedClient(streamable_http_client(RESOURCE, http_client=http)) as client,
        ):
            result = await client.call_tool("whoami", {})
        block = result.content[0]
        assert isinstance(block, TextContent) and block.text == "key ends with 9999"

        async with harness.http() as http:
            prm = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
            assert prm["authorization_servers"] == [ISSUER]
            assert prm["resource"] == RESOURCE
            assert prm["scopes_supported"] == [SCOPE]
            assert (await http.get("/.well-known/oauth-protected-resource")).json() == prm
            # No built-in authorization server in this mode.
            assert (await http.get("/.well-known/oauth-authorization-server")).status_code == 404
            missing = await call_mcp(http, None)
            assert missing.status_code == 401
            expected = f'resource_metadata="{BASE}/.well-known/oauth-protected-resource/mcp"'
            assert expected in missing.headers["www-authenticate"]


async def test_claims_are_checked(tmp_path: Path) -> None:
    idp = IdentityProvider()
    now = int(time.time())
    async with jwt_harness(tmp_path, idp) as harness:
        assert await _status(harness, idp.token()) == 200
        assert await _status(harness, idp.token(aud="https://other.example.com/mcp")) == 401
        assert await _status(harness, idp.token(aud=None)) == 401
        assert await _status(harness, idp.token(iss="https://evil.example.com")) == 401
        assert await _status(harness, idp.token(exp=now - 120)) == 401
        assert await _status(harness, idp.token(exp=None)) == 401
        assert await _status(harness, idp.token(nbf=now + 600)) == 401
        # A list audience is fine when it names this server.
        assert await _status(harness, idp.token(aud=["https://other.example.com", RESOURCE])) == 200


async def test_missing_scope_is_refused_with_insufficient_scope(tmp_path: Path) -> None:
    idp = IdentityProvider()
    async with jwt_harness(tmp_path, idp) as harness, harness.http() as http:
        response = await call_mcp(http, idp.token(scope="openid profile"))
        assert response.status_code == 403
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
        assert response.headers["www-authenticate"].count("scope=") == 1
        assert f'scope="{SCOPE}"' in response.headers["www-authenticate"]
        assert (await call_mcp(http, idp.token(scope=None, scp=[SCOPE]))).status_code == 200


async def test_unknown_kid_refetches_once_then_refuses(tmp_path: Path) -> None:
    idp = IdentityProvider()
    async with jwt_harness(tmp_path, idp) as harness:
        assert await _status(harness, idp.token()) == 200
        assert idp.jwks_hits == 1

        # The issuer rotates in a new key: the unknown kid triggers one refetch, and it works.
        rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"})
        idp.keys.append(rotated)
        assert await _status(harness, idp.token(rotated)) == 200
        assert idp.jwks_hits == 2

        # A key the issuer never published is refused, and does not make us refetch again.
        stranger = RSAKey.generate_key(2048, parameters={"kid": "k-unknown"})
        assert await _status(harness, idp.token(stranger)) == 401
        assert idp.jwks_hits == 2
        # A token forged under a known kid with the wrong key fails the signature check.
        forged = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        assert await _status(harness, idp.token(forged)) == 401


async def test_unsigned_and_symmetric_tokens_are_refused(tmp_path: Path) -> None:
    idp = IdentityProvider()
    claims = {"iss": ISSUER, "aud": RESOURCE, "sub": "x", "scope": SCOPE, "exp": int(time.time()) + 300}

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'kid': 'k1'})}.{b64(claims)}."
    hmac_token = jwt.encode({"alg": "HS256", "kid": "k1"}, claims, OctKey.generate_key(256))
    async with jwt_harness(tmp_path, idp) as harness:
        assert await _status(harness, unsigned) == 401
        assert await _status(harness, hmac_token) == 401
        assert await _status(harness, "not.a.jwt") == 401


async def test_custom_audience_setting(tmp_path: Path) -> None:
    idp = IdentityProvider()
    async with jwt_harness(tmp_path, idp, mcp_jwt_audience="api://tinyfish") as harness:
        assert await _status(harness, idp.token(aud="api://tinyfish")) == 200
        assert await _status(harness, idp.token(aud=RESOURCE)) == 401


async def test_jwt_mode_needs_issuer_jwks_and_deployment_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, mcp_auth="jwt", mcp_secret=None)

    async def never(_: str) -> bool:
        raise AssertionError("not used in jwt mode")

    try:
        await build_auth(settings, verify_key=never)
    except ValueError as exc:
        message = str(exc)
    else:
        raise AssertionError("build_auth accepted an incomplete jwt configuration")
    for name in ("TINYFISH_MCP_JWT_ISSUER", "TINYFISH_MCP_JWT_JWKS_URL", "TINYFISH_API_KEY"):
        assert name in message
