"""The owners of what the server started, in the shared database (``tfmcp_owned``).

:class:`SqlOwnershipStore` implements the tools layer's ``OwnershipStore`` on the OAuth
store's engine and metadata, so every replica sees the same owners. One row per (kind,
resource id): the owner is a digest naming the signed-in user (never a key or a token), and
the first owner recorded stays the owner. Rows are kept as long as the records upstream.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Float, Index, String, Table, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..records import Kind, OwnedRecord
from .store import _metadata

__all__ = ["SqlOwnershipStore", "owned_records"]

owned_records = Table(
    "tfmcp_owned",
    _metadata,
    Column("kind", String(32), primary_key=True),
    Column("resource_id", String(255), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_tfmcp_owned_owner", "owner", "kind", "created_at"),
)

# Ids per IN (...) query: well under every database's parameter limit.
_CHUNK = 500


class SqlOwnershipStore:
    """``OwnershipStore`` on ``engine``; every method is one short transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, owner: str, kind: Kind, resource_ids: Sequence[str], created_at: float) -> None:
        table = owned_records
        for ident in dict.fromkeys(resource_ids):
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(
                        table.insert().values(
                            kind=kind, resource_id=ident, owner=owner, created_at=created_at
                        )
                    )
            except IntegrityError:
                pass  # recorded already (a retry, or a second replica): the first owner stays

    async def owned_of(self, owner: str, kind: Kind, resource_ids: Sequence[str]) -> set[str]:
        return await self._present(kind, resource_ids, owner)

    async def recorded(self, kind: Kind, resource_ids: Sequence[str]) -> set[str]:
        return await self._present(kind, resource_ids, None)

    async def _present(self, kind: Kind, resource_ids: Sequence[str], owner: str | None) -> set[str]:
        table = owned_records
        ids = [ident for ident in dict.fromkeys(resource_ids) if len(ident) <= 255]
        found: set[str] = set()
        async with self._engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                query = select(table.c.resource_id).where(
                    table.c.kind == kind, table.c.resource_id.in_(ids[start : start + _CHUNK])
                )
                if owner is not None:
                    query = query.where(table.c.owner == owner)
                found.update(row.resource_id for row in await conn.execute(query))
        return found

    async def page(
        self, owner: str, kind: Kind, *, after: tuple[float, str] | None, limit: int, newest_first: bool
    ) -> list[OwnedRecord]:
        table = owned_records
        query = select(table).where(table.c.owner == owner, table.c.kind == kind)
        if after is not None:
            moment, ident = after
            if newest_first:
                beyond = or_(
                    table.c.created_at < moment,
                    and_(table.c.created_at == moment, table.c.resource_id < ident),
                )
            else:
                beyond = or_(
                    table.c.created_at > moment,
                    and_(table.c.created_at == moment, table.c.resource_id > ident),
                )
            query = query.where(beyond)
        if newest_first:
            query = query.order_by(table.c.created_at.desc(), table.c.resource_id.desc())
        else:
            query = query.order_by(table.c.created_at.asc(), table.c.resource_id.asc())
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        return [OwnedRecord(kind, row.resource_id, row.owner, row.created_at) for row in rows]

    async def count(self, owner: str, kind: Kind) -> int:
        table = owned_records
        async with self._engine.connect() as conn:
            total = await conn.scalar(
                select(func.count()).select_from(table).where(table.c.owner == owner, table.c.kind == kind)
            )
        return int(total or 0)
