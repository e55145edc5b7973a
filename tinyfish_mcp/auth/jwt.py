"""``jwt`` mode: validate access tokens that an external authorization server signed.

For a company that runs its own identity provider: this server is only a resource
server. Each bearer token must be a JWS-signed JWT whose signature verifies against
the issuer's JWKS, with the configured ``iss``, an ``aud`` naming this server, a live
``exp`` (and ``nbf``/``iat`` not in the future); the SDK then enforces the required scope.
joserfc does the JOSE work (signature, claim checks); this module adds the JWKS cache
and the mapping to the SDK's ``AccessToken``.

The JWKS is cached for ``JWKS_TTL`` seconds. A token signed with a key id we do not
know makes us refetch at once (the issuer may have rotated keys), but such refetches
are spaced at least ``UNKNOWN_KID_COOLDOWN`` apart, so random key ids cannot make us
hammer the issuer.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import httpx
from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet
from mcp.server.auth.provider import AccessToken

__all__ = ["ALLOWED_ALGORITHMS", "JWKSCache", "JWTTokenVerifier"]

logger = logging.getLogger(__name__)

# Asymmetric algorithms only: "none" and HMAC (a shared secret would let any holder of
# the JWKS mint tokens) are refused.
ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
JWKS_TTL = 600.0
UNKNOWN_KID_COOLDOWN = 30.0
FETCH_TIMEOUT = 5.0
MAX_JWKS_BYTES = 256 * 1024
CLOCK_LEEWAY = 30


class JWKSCache:
    """The issuer's signing keys, fetched lazily and refreshed on expiry or an unknown kid."""

    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self._url = url
        self._http = http
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._last_kid_refetch = float("-inf")
        self._lock = anyio.Lock()

    async def key_for(self, kid: str | None) -> Key | None:
        keys = await self._current()
        key = self._find(keys, kid)
        if key is not None or kid is None:
            return key
        async with self._lock:
            now = time.monotonic()
            if now - self._last_kid_refetch < UNKNOWN_KID_COOLDOWN:
                return self._find(self._keys, kid)
            self._last_kid_refetch = now
            await self._refresh()
        return self._find(self._keys, kid)

    async def _current(self) -> KeySet | None:
        if self._keys is None or time.monotonic() - self._fetched_at > JWKS_TTL:
            async with self._lock:
                if self._keys is None or time.monotonic() - self._fetched_at > JWKS_TTL:
                    await self._refresh()
        return self._keys

    @staticmethod
    def _find(keys: KeySet | None, kid: str | None) -> Key | None:
        if keys is None:
            return None
        if kid is None:
            # Without a kid, only an unambiguous single-key set is usable.
            return keys.keys[0] if len(keys.keys) == 1 else None
        return next((key for key in keys.keys if key.kid == kid), None)

    async def _refresh(self) -> None:
        try:
            with anyio.fail_after(FETCH_TIMEOUT):
                response = await self._http.get(
                    self._url, headers={"Accept": "application/json"}, timeout=FETCH_TIMEOUT
                )
            if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
                raise ValueError(f"JWKS endpoint answered HTTP {response.status_code}")
            data: Any = response.json()
            self._keys = KeySet.import_key_set(data)
            self._fetched_at = time.monotonic()
        except (httpx.HTTPError, TimeoutError, ValueError, JoseError, KeyError, TypeError) as exc:
            # Keep the previous keys (if any): a flaky JWKS endpoint must not log everyone out.
            logger.warning("Could not fetch the JWKS from %s: %s", self._url, type(exc).__name__)


class JWTTokenVerifier:
    """A ``TokenVerifier`` for externally issued JWT access tokens."""

    def __init__(
        self,
        *,
        jwks: JWKSCache,
        issuer: str,
        audience: str,
        resource_url: str,
    ) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._resource_url = resource_url
        self._claims = jose_jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError):
            return None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            return None
        key = await self._jwks.key_for(header.get("kid"))
        if key is None:
            return None
        try:
            decoded = jose_jwt.decode(token, key, algorithms=[alg])
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError):
            return None
        claims = decoded.claims
        scopes = _scopes(claims)
        # The required scope is enforced by the SDK (``AuthSettings.required_scopes``), which
        # answers 403 insufficient_scope with a challenge, so the client can step up.
        subject = claims.get("sub")
        client_id = claims.get("client_id") or claims.get("azp") or subject or "unknown"
        return AccessToken(
            token=token,
            client_id=str(client_id),
            scopes=scopes,
            expires_at=int(claims["exp"]),
            # ``aud`` was checked against our audience above, so the token is for this resource.
            resource=self._resource_url,
            subject=str(subject) if subject is not None else None,
            claims={"iss": self._issuer},
        )


def _scopes(claims: dict[str, Any]) -> list[str]:
    """Scopes from ``scope`` (RFC 9068/8693, space-separated) or ``scp`` (a list, some IdPs)."""
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return []
