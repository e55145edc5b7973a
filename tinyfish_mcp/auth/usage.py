"""When each grant was last used, for operators (``tinyfish-mcp admin grants``).

One row per grant in ``tfmcp_grant_usage``, upserted when a replica decrypts the grant's
key for a tool call, which it does at most once a minute per grant (the provider caches
the key in between): "last used" is exact to about a minute, at the cost of at most one
small write per active user per minute.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Column, Float, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from .store import _metadata

__all__ = ["grant_usage", "touch_grant"]

grant_usage = Table(
    "tfmcp_grant_usage",
    _metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("last_used_at", Float, nullable=False),
)


async def touch_grant(engine: AsyncEngine, grant_id: str) -> None:
    """Record that ``grant_id`` was used now (one atomic upsert)."""
    now = time.time()
    async with engine.begin() as conn:
        dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(
            dialect.insert(grant_usage)
            .values(grant_id=grant_id, last_used_at=now)
            .on_conflict_do_update(index_elements=[grant_usage.c.grant_id], set_={"last_used_at": now})
        )
