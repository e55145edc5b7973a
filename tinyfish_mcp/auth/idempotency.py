"""Run session_ids in the shared database, so that every replica recognises a retried call.

The tools layer's :class:`~tinyfish_mcp.runtime.idempotency.RunKeyStore`, on the OAuth
store's engine and metadata (the table is created with the others, under the same
replica-safe lock). One row per (owner, session_id): the owner is already a SHA-256 of
the API key and the request only a fingerprint, so nothing secret is stored.

Who wins a race is decided by the primary key: of two replicas inserting the same
claim at once, exactly one insert succeeds; the other reads the winner's row and waits
for its run id. State changes are conditional ``UPDATE``s from "starting", so a claim
that expired and was taken again is never overwritten by its first owner.
"""

from __future__ import annotations

import time

from sqlalchemy import Column, ColumnElement, Float, Index, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..records import RunKey, RunKeyState
from .store import _metadata

__all__ = ["SqlRunKeyStore", "run_keys"]

run_keys = Table(
    "tfmcp_run_keys",
    _metadata,
    Column("owner", String(64), primary_key=True),
    Column("session_id", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # "starting" | "started" | "unknown"
    Column("run_id", String(255), nullable=True),
    Column("claimed_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_tfmcp_run_keys_expires", "expires_at"),
)

# Expired rows are removed at most this often (seconds), piggybacking on claims.
_PURGE_INTERVAL = 600.0


class SqlRunKeyStore:
    """A ``RunKeyStore`` on ``engine``; rows live ``ttl`` seconds from their claim."""

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl
        self._last_purge = 0.0

    def _key(self, owner: str, session_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return run_keys.c.owner == owner, run_keys.c.session_id == session_id

    async def claim(self, owner: str, session_id: str, fingerprint: str) -> RunKey | None:
        now = time.time()
        async with self._engine.begin() as conn:
            if now - self._last_purge >= _PURGE_INTERVAL:
                self._last_purge = now
                await conn.execute(delete(run_keys).where(run_keys.c.expires_at <= now))
            else:
                expired = run_keys.c.expires_at <= now
                await conn.execute(delete(run_keys).where(*self._key(owner, session_id), expired))
        for _ in range(3):
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(
                        insert(run_keys).values(
                            owner=owner,
                            session_id=session_id,
                            fingerprint=fingerprint,
                            state="starting",
                            run_id=None,
                            claimed_at=now,
                            expires_at=now + self._ttl,
                        )
                    )
                return None
            except IntegrityError:
                pass  # held already: read the holder's row (in a new transaction)
            async with self._engine.connect() as conn:
                row = (await conn.execute(select(run_keys).where(*self._key(owner, session_id)))).first()
            if row is not None:
                state: RunKeyState = row.state
                return RunKey(state, row.fingerprint, row.claimed_at, row.run_id)
            # The holder released it between our insert and our read: try again.
        raise RuntimeError("a session_id claim kept changing hands")

    async def _settle(self, owner: str, session_id: str, state: RunKeyState, run_id: str | None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(run_keys)
                .where(*self._key(owner, session_id), run_keys.c.state == "starting")
                .values(state=state, run_id=run_id)
            )

    async def started(self, owner: str, session_id: str, run_id: str) -> None:
        await self._settle(owner, session_id, "started", run_id)

    async def lost(self, owner: str, session_id: str) -> None:
        await self._settle(owner, session_id, "unknown", None)

    async def release(self, owner: str, session_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(run_keys).where(*self._key(owner, session_id), run_keys.c.state == "starting")
            )
