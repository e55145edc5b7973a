"""Persistent state of the authorization server, through SQLAlchemy (async, Core only).

Five tables, all prefixed ``tfmcp_``: registered clients, pending authorization
transactions, grants (one per consent: the encrypted TinyFish key), authorization
codes and tokens. Codes, tokens and transaction ids are stored only as SHA-256
digests; API keys and client secrets arrive here already encrypted by the provider.
A *grant* is also the token family: every code, access token and refresh token
issued from one consent carries its ``grant_id``, so revoking the family is one
delete per table.

The SQL is portable: a SQLite file by default, and a PostgreSQL URL
(``postgresql+asyncpg://...``) when several replicas share the state. The tables are
created and evolved by the migrations in ``auth/migrations`` (Alembic), which every
replica runs at start under a lock; a table defined here needs a revision there.
Single-use guarantees (codes, rotated refresh tokens, consent transactions) rely on
conditional ``UPDATE``/``DELETE`` and their row counts, which every backend reports
atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.provider import AuthorizationParams
from mcp.shared.auth import OAuthClientInformationFull
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from .crypto import hash_secret
from .migrations import upgrade

__all__ = ["AuthStore", "CodeRecord", "PendingRecord", "TokenRecord", "open_engine"]

_metadata = MetaData()

# Client ids are UUIDs for registered clients but whole https URLs for metadata-document
# clients, hence the generous width.
_CLIENT_ID = 2048

clients = Table(
    "tfmcp_clients",
    _metadata,
    Column("client_id", String(255), primary_key=True),
    Column("info_json", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

pending = Table(
    "tfmcp_pending",
    _metadata,
    Column("txn_hash", String(64), primary_key=True),
    Column("client_id", String(_CLIENT_ID), nullable=False),
    Column("params_json", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

grants = Table(
    "tfmcp_grants",
    _metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("client_id", String(_CLIENT_ID), nullable=False),
    Column("api_key_ciphertext", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

codes = Table(
    "tfmcp_codes",
    _metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("grant_id", String(64), nullable=False),
    Column("client_id", String(_CLIENT_ID), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("redirect_uri_explicit", Boolean, nullable=False),
    Column("resource", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float, nullable=True),
    Index("ix_tfmcp_codes_grant", "grant_id"),
)

tokens = Table(
    "tfmcp_tokens",
    _metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # "access" | "refresh"
    Column("grant_id", String(64), nullable=False),
    Column("client_id", String(_CLIENT_ID), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
    # Set when a refresh token was exchanged; the row stays so that a replay is recognised.
    Column("rotated_at", Float, nullable=True),
    Index("ix_tfmcp_tokens_grant", "grant_id"),
)

# Expired rows are removed at most this often (seconds), piggybacking on writes.
_PURGE_INTERVAL = 600.0


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """An authorization request waiting for the user's consent."""

    client_id: str
    params: AuthorizationParams
    expires_at: float


@dataclass(frozen=True, slots=True)
class CodeRecord:
    grant_id: str
    client_id: str
    scopes: list[str]
    code_challenge: str
    redirect_uri: str
    redirect_uri_explicit: bool
    resource: str
    expires_at: float
    used: bool


@dataclass(frozen=True, slots=True)
class TokenRecord:
    kind: str
    grant_id: str
    client_id: str
    scopes: list[str]
    resource: str
    expires_at: float
    rotated: bool


def open_engine(url: str) -> AsyncEngine:
    """An engine on the store's database, tuned for it (SQLite waits on a lock; memory is shared)."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Wait on a locked file instead of failing at once when two requests write together.
        kwargs["connect_args"] = {"timeout": 15}
        if url.rstrip("/").endswith(":memory:") or url.rstrip("/") in ("sqlite+aiosqlite:", "sqlite:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
    return create_async_engine(url, **kwargs)


class AuthStore:
    """Repository over the five tables; every method is one short transaction."""

    def __init__(self, database_url: str) -> None:
        self._engine = open_engine(database_url)
        self._last_purge = 0.0

    async def upgrade_schema(self) -> None:
        """Bring the schema to this build's revision; safe when several replicas start at once."""
        await upgrade(self._engine)
        await self.purge_expired()

    async def dispose(self) -> None:
        await self._engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for modules that keep tables of their own in this database."""
        return self._engine

    # --- clients (dynamic registration) --------------------------------------
    async def save_client(self, info: OAuthClientInformationFull) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(clients).values(
                    client_id=info.client_id, info_json=info.model_dump_json(), created_at=time.time()
                )
            )

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(clients.c.info_json).where(clients.c.client_id == client_id))
            ).first()
        return None if row is None else OAuthClientInformationFull.model_validate_json(row.info_json)

    # --- pending authorization transactions ----------------------------------
    async def save_pending(self, txn: str, client_id: str, params: AuthorizationParams, ttl: float) -> None:
        async with self._engine.begin() as conn:
            await self._maybe_purge(conn)
            await conn.execute(
                insert(pending).values(
                    txn_hash=hash_secret(txn),
                    client_id=client_id,
                    params_json=params.model_dump_json(),
                    expires_at=time.time() + ttl,
                )
            )

    async def get_pending(self, txn: str) -> PendingRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(pending).where(
                        pending.c.txn_hash == hash_secret(txn), pending.c.expires_at > time.time()
                    )
                )
            ).first()
        if row is None:
            return None
        params = AuthorizationParams.model_validate_json(row.params_json)
        return PendingRecord(client_id=row.client_id, params=params, expires_at=row.expires_at)

    async def take_pending(self, txn: str) -> bool:
        """Consume a transaction; False when another request consumed it first."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(pending).where(pending.c.txn_hash == hash_secret(txn)))
        return result.rowcount == 1

    # --- grants --------------------------------------------------------------
    async def create_grant_with_code(
        self, grant_id: str, client_id: str, ciphertext: bytes, code: str, record: CodeRecord
    ) -> None:
        """Store a consent's encrypted key and the authorization code issued for it, together."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(grants).values(
                    grant_id=grant_id,
                    client_id=client_id,
                    api_key_ciphertext=ciphertext,
                    created_at=time.time(),
                )
            )
            await conn.execute(
                insert(codes).values(
                    code_hash=hash_secret(code),
                    grant_id=grant_id,
                    client_id=record.client_id,
                    scopes=" ".join(record.scopes),
                    code_challenge=record.code_challenge,
                    redirect_uri=record.redirect_uri,
                    redirect_uri_explicit=record.redirect_uri_explicit,
                    resource=record.resource,
                    expires_at=record.expires_at,
                    used_at=None,
                )
            )

    async def grant_ciphertext(self, grant_id: str) -> bytes | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(grants.c.api_key_ciphertext).where(grants.c.grant_id == grant_id))
            ).first()
        return None if row is None else bytes(row.api_key_ciphertext)

    async def revoke_grant(self, grant_id: str) -> None:
        """Forget a whole family: its key, codes and tokens (rotated ones included)."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(tokens).where(tokens.c.grant_id == grant_id))
            await conn.execute(delete(codes).where(codes.c.grant_id == grant_id))
            await conn.execute(delete(grants).where(grants.c.grant_id == grant_id))

    # --- authorization codes -------------------------------------------------
    async def get_code(self, code: str) -> CodeRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(codes).where(codes.c.code_hash == hash_secret(code)))).first()
        if row is None:
            return None
        return CodeRecord(
            grant_id=row.grant_id,
            client_id=row.client_id,
            scopes=row.scopes.split(),
            code_challenge=row.code_challenge,
            redirect_uri=row.redirect_uri,
            redirect_uri_explicit=row.redirect_uri_explicit,
            resource=row.resource,
            expires_at=row.expires_at,
            used=row.used_at is not None,
        )

    async def redeem_code(self, code: str, issued: list[tuple[str, TokenRecord]]) -> bool:
        """Mark ``code`` used and store ``issued`` tokens, atomically; False if already used."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(codes)
                .where(codes.c.code_hash == hash_secret(code), codes.c.used_at.is_(None))
                .values(used_at=time.time())
            )
            if result.rowcount != 1:
                return False
            await self._insert_tokens(conn, issued)
        return True

    # --- tokens --------------------------------------------------------------
    async def save_tokens(self, issued: list[tuple[str, TokenRecord]]) -> None:
        async with self._engine.begin() as conn:
            await self._insert_tokens(conn, issued)

    async def get_token(self, token: str) -> TokenRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(tokens).where(tokens.c.token_hash == hash_secret(token)))
            ).first()
        if row is None:
            return None
        return TokenRecord(
            kind=row.kind,
            grant_id=row.grant_id,
            client_id=row.client_id,
            scopes=row.scopes.split(),
            resource=row.resource,
            expires_at=row.expires_at,
            rotated=row.rotated_at is not None,
        )

    async def rotate_refresh_token(self, token: str, issued: list[tuple[str, TokenRecord]]) -> bool:
        """Retire ``token`` and store its successors, atomically; False if it was already retired."""
        async with self._engine.begin() as conn:
            await self._maybe_purge(conn)
            result = await conn.execute(
                update(tokens)
                .where(
                    tokens.c.token_hash == hash_secret(token),
                    tokens.c.kind == "refresh",
                    tokens.c.rotated_at.is_(None),
                )
                .values(rotated_at=time.time())
            )
            if result.rowcount != 1:
                return False
            await self._insert_tokens(conn, issued)
        return True

    async def _insert_tokens(self, conn: AsyncConnection, issued: list[tuple[str, TokenRecord]]) -> None:
        if not issued:
            return
        await conn.execute(
            insert(tokens),
            [
                {
                    "token_hash": hash_secret(raw),
                    "kind": rec.kind,
                    "grant_id": rec.grant_id,
                    "client_id": rec.client_id,
                    "scopes": " ".join(rec.scopes),
                    "resource": rec.resource,
                    "expires_at": rec.expires_at,
                    "rotated_at": None,
                }
                for raw, rec in issued
            ],
        )

    # --- housekeeping --------------------------------------------------------
    async def purge_expired(self) -> None:
        async with self._engine.begin() as conn:
            self._last_purge = 0.0
            await self._maybe_purge(conn)

    async def _maybe_purge(self, conn: AsyncConnection) -> None:
        now = time.time()
        if now - self._last_purge < _PURGE_INTERVAL:
            return
        self._last_purge = now
        await conn.execute(delete(pending).where(pending.c.expires_at <= now))
        await conn.execute(delete(codes).where(codes.c.expires_at <= now))
        await conn.execute(delete(tokens).where(tokens.c.expires_at <= now))
        # A grant with nothing left that could use it (code and every token expired) is
        # forgotten, and with it the encrypted key. The hour of grace is belt and braces:
        # a grant and its code are inserted in one transaction anyway.
        live = select(tokens.c.grant_id).union(select(codes.c.grant_id))
        await conn.execute(
            delete(grants).where(grants.c.created_at < now - 3600, grants.c.grant_id.not_in(live))
        )
