"""Headless clients of a hosted server: a TinyFish API key instead of an OAuth sign-in.

A CI job or a script cannot click through a consent page. As TinyFish's own hosted MCP
server does, ``/mcp`` then also accepts the caller's TinyFish API key, either in an
``X-API-Key`` header or as the bearer token itself when it has a TinyFish key's shape
(``sk-tinyfish-…``). The key is checked upstream with the same cheap call as the consent
page, and the answer is cached briefly under the key's SHA-256 (never the key itself),
so a busy client costs one upstream check a minute. Tool calls then use that key, as
if its owner had signed in. Anyone else still gets the OAuth challenge.

On by default in ``oauth`` mode; ``TINYFISH_MCP_HEADLESS_API_KEYS=false`` turns it off.

- :class:`ApiKeyHeader` (ASGI): ``X-API-Key: K`` becomes ``Authorization: Bearer K`` on
  ``/mcp`` when the request carries no ``Authorization`` header;
- :class:`HeadlessKeyProvider`: the OAuth provider, plus API keys as access tokens.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Receive, Scope, Send

from ..callers import KeyResolver
from .provider import OAUTH_SCOPE, TinyFishOAuthProvider

__all__ = [
    "HEADLESS_CLIENT_ID",
    "KEY_PREFIX",
    "ApiKeyHeader",
    "HeadlessKeyProvider",
    "headless_key_resolver",
    "looks_like_key",
]

logger = logging.getLogger(__name__)

KEY_PREFIX = "sk-tinyfish-"
HEADLESS_CLIENT_ID = "tinyfish-api-key"
_SUBJECT_PREFIX = "api-key:"
_CACHE_SIZE = 10_000
_MAX_KEY_LENGTH = 512


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX) and len(token) <= _MAX_KEY_LENGTH


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class HeadlessKeyProvider(TinyFishOAuthProvider):
    """The OAuth provider; a bearer that is a TinyFish key accepted upstream is a valid token too."""

    def __init__(
        self, *, verify_key: Callable[[str], Awaitable[bool]], key_ttl: float, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._verify_key = verify_key
        self._key_ttl = key_ttl
        # sha256(key) -> (accepted, monotonic expiry): what upstream said, for a short while.
        self._verdicts: dict[str, tuple[bool, float]] = {}

    async def load_access_token(self, token: str) -> AccessToken | None:
        if not looks_like_key(token):
            return await super().load_access_token(token)
        digest = _digest(token)
        if not await self._accepted(digest, token):
            return None
        return AccessToken(
            token=token,
            client_id=HEADLESS_CLIENT_ID,
            scopes=[OAUTH_SCOPE],
            expires_at=int(time.time() + self._key_ttl),
            resource=self.resource_url,
            subject=_SUBJECT_PREFIX + digest,
            claims={"iss": self.issuer},
        )

    async def _accepted(self, digest: str, key: str) -> bool:
        now = time.monotonic()
        cached = self._verdicts.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            accepted = await self._verify_key(key)
        except Exception:
            # Not cached: the next request checks again. The reason may quote the request.
            logger.warning("Could not check an API key with TinyFish (headless sign-in)", exc_info=False)
            return False
        if len(self._verdicts) >= _CACHE_SIZE:
            self._verdicts = {d: v for d, v in self._verdicts.items() if v[1] > now}
            if len(self._verdicts) >= _CACHE_SIZE:
                self._verdicts.clear()
        self._verdicts[digest] = (accepted, now + self._key_ttl)
        return accepted

    async def revoke_token(self, token: object) -> None:
        subject = getattr(token, "subject", None)
        if isinstance(subject, str) and subject.startswith(_SUBJECT_PREFIX):
            return  # an API key is revoked at TinyFish, not here
        await super().revoke_token(token)  # type: ignore[arg-type]


def api_key_of(token: AccessToken | None) -> str | None:
    """The TinyFish key itself when ``token`` is a headless API-key token."""
    if token is not None and token.subject and token.subject.startswith(_SUBJECT_PREFIX):
        return token.token
    return None


def headless_key_resolver(signed_in: KeyResolver) -> KeyResolver:
    """The request's own API key for a headless client; the signed-in user's key otherwise."""

    async def resolve() -> str:
        key = api_key_of(get_access_token())
        return key if key is not None else await signed_in()

    return resolve


class ApiKeyHeader:
    """ASGI: on ``/mcp``, ``X-API-Key: K`` (and no ``Authorization``) reads as ``Bearer K``."""

    def __init__(self, app: ASGIApp, path: str = "/mcp") -> None:
        self.app = app
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") == self._path:
            headers = list(scope.get("headers", []))
            names = {name.lower() for name, _ in headers}
            if b"authorization" not in names:
                key = next((v for n, v in headers if n.lower() == b"x-api-key"), None)
                if key and key.strip():
                    headers.append((b"authorization", b"Bearer " + key.strip()))
                    scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
