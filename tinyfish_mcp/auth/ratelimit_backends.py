"""Where the rate-limit counters live: the OAuth database, or Redis.

:func:`build_rate_limiter` is the one place that chooses. Without
``TINYFISH_MCP_REDIS_URL`` the counters are rows of ``tfmcp_rate_limits`` in the OAuth
database (one row per key and fixed window, bumped by an atomic upsert on SQLite and
PostgreSQL alike); with it, Redis keys that expire on their own. Either way every
replica sees the same counts. Both follow ``ratelimit.sliding_decision``; a refused hit
is taken back, so it does not count.

When Redis cannot be reached the limiter lets requests through and logs a warning (at
most once a minute): sign-in must not stop because the limit store did. A database
failure needs no such care, since sign-in needs the database anyway.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Float, Integer, String, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..settings import Settings
from .ratelimit import RateLimiter, sliding_decision
from .store import _metadata

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRateLimiter", "SqlRateLimiter", "build_rate_limiter", "rate_limits"]

logger = logging.getLogger(__name__)

rate_limits = Table(
    "tfmcp_rate_limits",
    _metadata,
    # "<name>:<address>@<window>:<window index>"
    Column("bucket", String(255), primary_key=True),
    Column("hits", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
)

_PURGE_INTERVAL = 300.0


def _window(window: float, now: float) -> tuple[int, float]:
    """The index of the fixed window holding ``now``, and how far into it ``now`` is."""
    index = math.floor(now / window)
    return index, now - index * window


def _bucket(key: str, window: float, index: int) -> str:
    return f"{key[:200]}@{window:g}:{index}"


class SqlRateLimiter:
    """Counters in the OAuth database (the table is created with the store's other tables)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._last_purge = 0.0

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        now = time.time()
        index, elapsed = _window(window, now)
        current_bucket = _bucket(key, window, index)
        async with self._engine.begin() as conn:
            await self._maybe_purge(conn, now)
            current = await self._bump(conn, current_bucket, expires_at=(index + 2) * window)
            previous = (
                await conn.execute(
                    select(rate_limits.c.hits).where(rate_limits.c.bucket == _bucket(key, window, index - 1))
                )
            ).scalar()
            wait = sliding_decision(current, int(previous or 0), limit, window, elapsed)
            if wait is not None:
                await conn.execute(
                    update(rate_limits)
                    .where(rate_limits.c.bucket == current_bucket)
                    .values(hits=rate_limits.c.hits - 1)
                )
        return wait

    @staticmethod
    async def _bump(conn: AsyncConnection, bucket: str, *, expires_at: float) -> int:
        """Insert the bucket with one hit, or add one to it: one atomic statement."""
        dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(rate_limits)
            .values(bucket=bucket, hits=1, expires_at=expires_at)
            .on_conflict_do_update(
                index_elements=[rate_limits.c.bucket], set_={"hits": rate_limits.c.hits + 1}
            )
            .returning(rate_limits.c.hits)
        )
        return int((await conn.execute(statement)).scalar_one())

    async def _maybe_purge(self, conn: AsyncConnection, now: float) -> None:
        if now - self._last_purge < _PURGE_INTERVAL:
            return
        self._last_purge = now
        await conn.execute(delete(rate_limits).where(rate_limits.c.expires_at < now))

    async def close(self) -> None:
        return None  # the store owns the engine


class RedisRateLimiter:
    """Counters in Redis: one key per limit key and fixed window, expiring after two windows."""

    def __init__(self, client: Redis, *, prefix: str = "tfmcp:rl:") -> None:
        self._redis = client
        self._prefix = prefix
        self._last_warning = 0.0

    @classmethod
    def from_url(cls, url: str) -> RedisRateLimiter:
        from redis.asyncio import Redis

        return cls(Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0))

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        from redis.exceptions import RedisError

        now = time.time()
        index, elapsed = _window(window, now)
        current_key = self._prefix + _bucket(key, window, index)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(current_key)
                pipe.expire(current_key, math.ceil(2 * window) + 1)
                pipe.get(self._prefix + _bucket(key, window, index - 1))
                current, _, previous = await pipe.execute()
            wait = sliding_decision(int(current), int(previous or 0), limit, window, elapsed)
            if wait is not None:
                await self._redis.decr(current_key)
        except RedisError as exc:
            if now - self._last_warning > 60:
                self._last_warning = now
                logger.warning("Rate limits are not enforced: Redis is unreachable (%s)", type(exc).__name__)
            return None
        return wait

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(settings: Settings, engine: AsyncEngine) -> RateLimiter:
    """The deployment's limiter: Redis when ``TINYFISH_MCP_REDIS_URL`` is set, else the database."""
    if settings.mcp_redis_url is not None:
        return RedisRateLimiter.from_url(settings.mcp_redis_url.get_secret_value())
    return SqlRateLimiter(engine)
