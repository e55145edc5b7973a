"""What every tool module needs: settings, the shared client, and the caller's API key.

Each ``toolsets/<product>.py`` exposes ``register(mcp, deps)``; ``server.build_server``
calls it for every enabled toolset. The key is resolved per call because the HTTP
server serves many users: over stdio it is ``TINYFISH_API_KEY``; behind OAuth it is
the key of the token's user (the auth layer passes its own resolver).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..callers import KeyResolver, MissingKeyError, OwnerResolver
from ..settings import Settings
from ..upstream.client import TinyFishClient
from ..upstream.providers import Providers
from .idempotency import MemoryRunKeyStore, RunKeyStore
from .ownership import Kind, Ownership
from .sessions import BrowserSessionStore, owner_of_key

__all__ = ["KeyResolver", "MissingKeyError", "OwnerResolver", "ToolDeps", "settings_key_resolver"]


def settings_key_resolver(settings: Settings) -> KeyResolver:
    """The stdio resolver: the one key from the environment, checked at call time.

    The server starts and lists its tools without a key (clients expect that); only a
    call fails, with a message that says how to set the key.
    """

    async def resolve() -> str:
        if settings.api_key is None or not settings.api_key.get_secret_value().strip():
            raise MissingKeyError(
                "No TinyFish API key is configured. Set the TINYFISH_API_KEY environment variable "
                "in this MCP server's configuration (get a key at https://agent.tinyfish.ai/api-keys), "
                "then restart the server."
            )
        return settings.api_key.get_secret_value().strip()

    return resolve


@dataclass(frozen=True, slots=True)
class ToolDeps:
    """Everything a tool needs, built once by ``server.build_server``."""

    settings: Settings
    client: TinyFishClient
    resolve_key: KeyResolver
    # Who serves browser sessions, fetch and search (``upstream.providers.build_providers``).
    providers: Providers
    # Where run session_ids are remembered: this process by default, the shared store when hosted.
    run_keys: RunKeyStore = field(default_factory=MemoryRunKeyStore)
    # Browser sessions: where they are recorded (None: in this process's memory) and who
    # owns them (None: whoever holds the key, see ``sessions.owner_of_key``).
    browser_sessions: BrowserSessionStore | None = None
    resolve_owner: OwnerResolver | None = None
    # Owners of runs, research runs, datasets, monitors and profile setups, where owners share
    # one key (jwt mode); None where the key itself separates them (oauth) or one owner has it all.
    ownership: Ownership | None = None

    async def owner(self, key: str) -> str:
        """Who owns what is created with ``key``: the signed-in user when hosted."""
        return await self.resolve_owner(key) if self.resolve_owner is not None else owner_of_key(key)

    async def require_owned(self, key: str, kind: Kind, resource_id: str) -> None:
        """Raise ``NotFoundError`` (as TinyFish would) unless the caller owns ``resource_id``."""
        if self.ownership is not None:
            await self.ownership.require(key, kind, resource_id)

    async def record_owned(self, key: str, kind: Kind, resource_ids: list[str]) -> None:
        """Record the caller as the owner of what it just started (no-op where keys separate owners)."""
        if self.ownership is not None:
            await self.ownership.record(key, kind, resource_ids)
