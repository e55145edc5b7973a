"""Key resolvers: which TinyFish API key a tool call uses, given the request's token.

The SDK's bearer middleware puts the verified token in a context variable for the
duration of the request (``get_access_token()``), and its session plumbing carries
that context into the tool's task. The MCP token itself never goes upstream (no token
passthrough): in oauth mode the token's subject names a grant whose stored key is
decrypted for the call; in jwt mode every authenticated caller uses the deployment key.
"""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token

from ..callers import KeyResolver, MissingKeyError
from .provider import TinyFishOAuthProvider

__all__ = ["deployment_key_resolver", "oauth_key_resolver"]

_NOT_SIGNED_IN = "This request is not signed in. Reconnect this MCP server so that it asks you to sign in."
_REVOKED = (
    "Your TinyFish sign-in for this MCP server was revoked or has expired. "
    "Reconnect (sign in again with your TinyFish API key) and retry."
)


def oauth_key_resolver(provider: TinyFishOAuthProvider) -> KeyResolver:
    """The key stored with the grant of the current request's access token."""

    async def resolve() -> str:
        token = get_access_token()
        if token is None or not token.subject:
            raise MissingKeyError(_NOT_SIGNED_IN)
        key = await provider.api_key_for(token.subject)
        if key is None:
            raise MissingKeyError(_REVOKED)
        return key

    return resolve


def deployment_key_resolver(api_key: str) -> KeyResolver:
    """The one deployment-wide key, for any authenticated request (jwt mode)."""

    async def resolve() -> str:
        if get_access_token() is None:
            raise MissingKeyError(_NOT_SIGNED_IN)
        return api_key

    return resolve
