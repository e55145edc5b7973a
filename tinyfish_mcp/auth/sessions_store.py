"""Browser sessions of the hosted server's users, in the shared database.

:class:`SqlSessionStore` implements the tools layer's ``BrowserSessionStore`` on one
table, ``tfmcp_browser_sessions``, defined on the OAuth store's metadata and engine, so
that every replica lists and closes the same sessions. A row holds the owner (a digest
naming the user, never a key), the session's URLs and timeout, the last activity seen and
when it ended. Ended sessions are forgotten a day later; each owner keeps at most
``MAX_SESSIONS_PER_OWNER`` rows.

:func:`owner_resolver` names the owner: the TinyFish account (a digest of its key) in
oauth mode, where every user brings their own key, and in none mode (one owner); the
token's issuer and subject in jwt mode, where every user shares the deployment's key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from mcp.server.auth.middleware.auth_context import get_access_token
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from ..callers import MissingKeyError, OwnerResolver, owner_of_key
from ..records import FORGET_AFTER, MAX_SESSIONS_PER_OWNER, SessionRecord
from .migrations import upgrade
from .store import _metadata, open_engine

__all__ = ["SqlSessionStore", "browser_sessions", "owner_resolver"]

browser_sessions = Table(
    "tfmcp_browser_sessions",
    _metadata,
    Column("session_id", String(255), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("cdp_url", Text, nullable=False),
    Column("base_url", Text, nullable=False),
    Column("timeout_seconds", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_activity", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("pages_digest", String(64), nullable=True),
    Index("ix_tfmcp_browser_sessions_owner", "owner", "created_at"),
)


def _moment(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _record(row: Row[tuple[object, ...]]) -> SessionRecord:
    created = _moment(row.created_at)
    activity = _moment(row.last_activity)
    assert created is not None and activity is not None  # NOT NULL columns
    return SessionRecord(
        session_id=row.session_id,
        owner=row.owner,
        cdp_url=row.cdp_url,
        base_url=row.base_url,
        timeout_seconds=row.timeout_seconds,
        created_at=created,
        last_activity=activity,
        ended_at=_moment(row.ended_at),
        pages_digest=row.pages_digest,
    )


class SqlSessionStore:
    """``BrowserSessionStore`` on the shared database; every method is one short transaction."""

    def __init__(self, engine: AsyncEngine | None = None, *, database_url: str | None = None) -> None:
        """On ``engine`` (the OAuth store's), or on an engine of its own for ``database_url``."""
        if engine is None and database_url is None:
            raise ValueError("SqlSessionStore needs an engine or a database URL")
        self._owns_engine = engine is None
        self._engine = engine if engine is not None else open_engine(str(database_url))

    @property
    def engine(self) -> AsyncEngine:
        """The engine the store works on (the OAuth store's, or its own)."""
        return self._engine

    async def dispose(self) -> None:
        """Dispose of the engine if it is this store's own."""
        if self._owns_engine:
            await self._engine.dispose()

    async def create_table(self) -> None:
        """Bring the database's schema, this table included, to this build's revision (locked)."""
        await upgrade(self._engine)

    async def add(self, record: SessionRecord) -> None:
        table = browser_sessions
        horizon = (record.created_at - FORGET_AFTER).timestamp()
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(table).values(
                    session_id=record.session_id,
                    owner=record.owner,
                    cdp_url=record.cdp_url,
                    base_url=record.base_url,
                    timeout_seconds=record.timeout_seconds,
                    created_at=record.created_at.timestamp(),
                    last_activity=record.last_activity.timestamp(),
                    ended_at=None,
                    pages_digest=None,
                )
            )
            await conn.execute(
                delete(table).where(
                    table.c.owner == record.owner, table.c.ended_at.is_not(None), table.c.ended_at < horizon
                )
            )
            keep = (
                select(table.c.session_id)
                .where(table.c.owner == record.owner)
                .order_by(table.c.created_at.desc())
                .limit(MAX_SESSIONS_PER_OWNER)
            )
            await conn.execute(
                delete(table).where(table.c.owner == record.owner, table.c.session_id.not_in(keep))
            )

    async def get(self, owner: str, session_id: str) -> SessionRecord | None:
        table = browser_sessions
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(table).where(table.c.session_id == session_id, table.c.owner == owner)
                )
            ).first()
        return None if row is None else _record(row)

    async def owned(self, owner: str) -> list[SessionRecord]:
        table = browser_sessions
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(table)
                    .where(table.c.owner == owner)
                    .order_by(table.c.created_at.desc())
                    .limit(MAX_SESSIONS_PER_OWNER)
                )
            ).all()
        return [_record(row) for row in rows]

    async def update(self, record: SessionRecord) -> None:
        table = browser_sessions
        values: dict[str, object] = {
            "last_activity": record.last_activity.timestamp(),
            "pages_digest": record.pages_digest,
        }
        if record.ended_at is not None:
            values["ended_at"] = record.ended_at.timestamp()
        async with self._engine.begin() as conn:
            # An end, once recorded by any replica, is never undone by a stale copy.
            await conn.execute(
                update(table)
                .where(table.c.session_id == record.session_id, table.c.owner == record.owner)
                .values(**values)
            )


def owner_resolver(mode: str) -> OwnerResolver:
    """Who owns what a request creates: the key's account (oauth, none) or the token's issuer
    and subject (jwt)."""

    async def resolve(key: str) -> str:
        if mode != "jwt":
            return owner_of_key(key)
        token = get_access_token()
        if token is None or not token.subject:
            raise MissingKeyError("This request is not signed in. Reconnect so that it asks you to sign in.")
        claims = token.claims or {}
        issuer = str(claims.get("iss") or "")
        return "jwt:" + hashlib.sha256(f"{issuer}\n{token.subject}".encode()).hexdigest()

    return resolve
