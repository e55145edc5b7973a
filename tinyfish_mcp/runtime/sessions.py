"""Where the browser toolset remembers the sessions it created, and for whom.

TinyFish cannot list or delete browser sessions, so the server keeps its own record of
each one: who owns it (a digest naming the signed-in user, never a key), its URLs, its
timeout, the last activity it observed, and when it ended. :class:`BrowserSessionStore`
is the seam: :class:`MemorySessionStore` serves stdio (one process, one user), and the
hosted server passes a store on its shared database (``auth/sessions_store.py``), so
any replica can list and close any of a user's sessions.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Protocol

import anyio

from .. import observe
from ..callers import owner_of_key
from ..records import FORGET_AFTER, MAX_SESSIONS_PER_OWNER, SessionRecord
from ..upstream.errors import UpstreamError
from ..upstream.providers import BrowserProvider

__all__ = [
    "EXIT_BUDGET",
    "FORGET_AFTER",
    "MAX_SESSIONS_PER_OWNER",
    "BrowserSessionStore",
    "MemorySessionStore",
    "ObservedSessionStore",
    "SessionRecord",
    "close_open_sessions",
    "observed_sessions",
    "owner_of_key",
]

log = logging.getLogger(__name__)

EXIT_BUDGET = 15.0  # stdio: how long closing the open sessions may hold up the exit


class BrowserSessionStore(Protocol):
    """Sessions per owner. Implementations bound what they keep (newest first)."""

    async def add(self, record: SessionRecord) -> None:
        """Remember a new session (it bills from now)."""

    async def get(self, owner: str, session_id: str) -> SessionRecord | None:
        """The owner's session of that id, or None (also when it belongs to someone else)."""

    async def owned(self, owner: str) -> list[SessionRecord]:
        """The owner's sessions, newest first."""

    async def update(self, record: SessionRecord) -> None:
        """Store the observed state of a session: ``last_activity``, ``ended_at``, ``pages_digest``."""


class MemorySessionStore:
    """The stdio store: this process's sessions, which it closes when its client goes away."""

    def __init__(self) -> None:
        self._by_owner: dict[str, OrderedDict[str, SessionRecord]] = {}

    async def add(self, record: SessionRecord) -> None:
        sessions = self._by_owner.setdefault(record.owner, OrderedDict())
        sessions[record.session_id] = record
        horizon = record.created_at - FORGET_AFTER
        for old in [r for r in sessions.values() if (r.ended_at or r.expires_at) < horizon]:
            del sessions[old.session_id]
        while len(sessions) > MAX_SESSIONS_PER_OWNER:
            sessions.popitem(last=False)

    async def get(self, owner: str, session_id: str) -> SessionRecord | None:
        return self._by_owner.get(owner, OrderedDict()).get(session_id)

    async def owned(self, owner: str) -> list[SessionRecord]:
        return list(reversed(self._by_owner.get(owner, OrderedDict()).values()))

    async def update(self, record: SessionRecord) -> None:
        sessions = self._by_owner.get(record.owner)
        if sessions is not None and record.session_id in sessions:
            sessions[record.session_id] = record

    def open_sessions(self) -> list[SessionRecord]:
        """Every session not known to have ended, of every owner (for the cleanup at exit)."""
        return [r for sessions in self._by_owner.values() for r in sessions.values() if r.ended_at is None]


class ObservedSessionStore:
    """A store that also reports sessions opened and ended to ``observe`` (the live-session gauge)."""

    def __init__(self, inner: BrowserSessionStore) -> None:
        self.inner = inner

    async def add(self, record: SessionRecord) -> None:
        await self.inner.add(record)
        observe.browser_session(record.session_id, opened=True, created_at=record.created_at.timestamp())

    async def get(self, owner: str, session_id: str) -> SessionRecord | None:
        return await self.inner.get(owner, session_id)

    async def owned(self, owner: str) -> list[SessionRecord]:
        return await self.inner.owned(owner)

    async def update(self, record: SessionRecord) -> None:
        await self.inner.update(record)
        if record.ended_at is not None:
            observe.browser_session(record.session_id, opened=False, created_at=record.created_at.timestamp())


def observed_sessions(store: BrowserSessionStore) -> BrowserSessionStore:
    """``store``, reporting to ``observe`` (once, however often it is wrapped)."""
    return store if isinstance(store, ObservedSessionStore) else ObservedSessionStore(store)


async def close_open_sessions(store: MemorySessionStore, provider: BrowserProvider, key: str) -> int:
    """Close every session of ``store`` not known to have ended, all at once and within
    ``EXIT_BUDGET`` seconds (the stdio server's exit); returns how many were closed."""
    closed = 0

    async def close(record: SessionRecord) -> None:
        nonlocal closed
        try:
            outcome = await provider.close_session(key, record.session_id, record.cdp_url)
        except UpstreamError as exc:
            log.warning("browser session %s may still be open: %s", record.session_id, exc)
            return
        await store.update(record.changed(ended_at=datetime.now(UTC)))
        if outcome == "closed":
            closed += 1

    with anyio.move_on_after(EXIT_BUDGET):
        async with anyio.create_task_group() as group:
            for record in store.open_sessions():
                group.start_soon(close, record)
    return closed
