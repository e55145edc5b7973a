"""Who is calling: the seams through which a request names its TinyFish key and its owner.

The tools call these resolvers; the transports supply them (stdio: the key in the
environment; the HTTP server's auth layer: the key and owner of the request's token).
They sit below both, so ``auth/`` and ``runtime/`` share them without importing each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from mcp.server.mcpserver.exceptions import ToolError

__all__ = ["KeyResolver", "MissingKeyError", "OwnerResolver", "owner_of_key"]

KeyResolver = Callable[[], Awaitable[str]]
"""Returns the TinyFish API key for the current request, or raises ``ToolError``."""

OwnerResolver = Callable[[str], Awaitable[str]]
"""Given the request's key, names the user who owns what the request creates (a digest)."""


class MissingKeyError(ToolError):
    """No TinyFish API key is configured for this caller."""


def owner_of_key(key: str) -> str:
    """The owner of sessions created with ``key``: a digest, so no store ever holds a key."""
    return "key:" + hashlib.sha256(key.encode()).hexdigest()
