"""Access-token checks shared and remembered briefly: one store read saved per request.

Keyed by the token's SHA-256, never the token. Checks that arrive together (a client's
burst, or every connection when an entry expires) share one read. A revocation made on
this replica drops the grant's entries at once, and a read that began before it is not
kept; one made on another replica reaches this one within ``seconds`` (0 turns the
memory off, and only the sharing of reads in flight remains).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

from mcp.server.auth.provider import AccessToken

__all__ = ["TokenChecks"]

_SIZE = 10_000

Check = Callable[[str], Awaitable[AccessToken | None]]


class TokenChecks:
    """The outcome of ``check(token)``, shared by concurrent callers and kept ``seconds``."""

    def __init__(self, check: Check, seconds: float) -> None:
        self._check = check
        self._seconds = seconds
        self._kept: dict[str, tuple[AccessToken, float]] = {}  # digest -> (check, monotonic expiry)
        self._reading: dict[str, asyncio.Task[AccessToken | None]] = {}
        self._revocations = 0

    async def get(self, token: str) -> AccessToken | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        kept = self._kept.get(digest)
        if kept is not None:
            hit, until = kept
            if until > time.monotonic() and (hit.expires_at is None or hit.expires_at > time.time()):
                return hit
            del self._kept[digest]
        reading = self._reading.get(digest)
        if reading is None:
            reading = asyncio.ensure_future(self._read(token, digest))
            self._reading[digest] = reading
            reading.add_done_callback(lambda done: self._done(digest, done))
        # Shielded: a caller that goes away does not cancel the read the others wait for.
        return await asyncio.shield(reading)

    def forget(self, grant_id: str) -> None:
        """Drop the grant's checks, after its revocation is committed."""
        self._revocations += 1
        for digest, (access, _) in list(self._kept.items()):
            if access.subject == grant_id:
                del self._kept[digest]

    def _done(self, digest: str, done: asyncio.Task[AccessToken | None]) -> None:
        self._reading.pop(digest, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone before it failed

    async def _read(self, token: str, digest: str) -> AccessToken | None:
        began, revocations = time.monotonic(), self._revocations
        checked = await self._check(token)
        if checked is not None and self._seconds > 0 and revocations == self._revocations:
            if len(self._kept) >= _SIZE:
                self._kept.clear()  # rare; simpler than LRU bookkeeping on every call
            # From when the read began: a revocation committed after it is seen within the bound.
            self._kept[digest] = (checked, began + self._seconds)
        return checked
