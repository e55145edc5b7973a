"""Where users share one key (jwt mode): the caller's own records, checked and paged right.

A tool that touches one record first checks that the caller owns it (:func:`owned_key`).

TinyFish lists everything the shared key started, so the server pages over the caller's
records in the shared store instead (newest first, keyset cursor) and reads each record's
details upstream. Filters are applied to those details, so a page holds up to ``limit``
matching records and ``next_cursor`` continues right after the last record looked at. One
call looks at most :data:`MAX_SCANNED` records: a page can then be short, with a cursor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from ..runtime.context import ToolDeps
from ..runtime.errors import upstream_call
from ..runtime.ownership import Kind, encode_cursor
from ..upstream.errors import NotFoundError

__all__ = ["MAX_SCANNED", "OwnedPage", "fetch_each", "owned_key", "owned_page"]

T = TypeVar("T")

MAX_SCANNED = 500
"""Records one listing call looks at, at most (their details are read upstream)."""


@dataclass
class OwnedPage(Generic[T]):
    """One page of the caller's records: the items, the cursor after them, the owner's total."""

    items: list[T]
    next_cursor: str | None
    total: int | None


async def owned_page(
    deps: ToolDeps,
    key: str,
    kind: Kind,
    *,
    cursor: str | None,
    limit: int,
    fetch: Callable[[list[str]], Awaitable[dict[str, T]]],
    keep: Callable[[T], bool] = lambda _: True,
    chunk: int = 100,
    newest_first: bool = True,
    filtered: bool = False,
) -> OwnedPage[T]:
    """Up to ``limit`` of the caller's records of ``kind`` that ``keep`` accepts, after ``cursor``.

    ``fetch(ids)`` reads the details of some ids upstream (ids it cannot find are left out).
    ``total`` is the caller's number of records when nothing is ``filtered``.
    """
    ownership = deps.ownership
    assert ownership is not None
    items: list[T] = []
    position = cursor
    scanned = 0
    while scanned < MAX_SCANNED:
        try:
            records = await ownership.page(
                key, kind, cursor=position, limit=min(chunk, MAX_SCANNED - scanned), newest_first=newest_first
            )
        except ValueError:
            raise ToolError(
                "cursor: not a cursor this listing gave out. Pass the next_cursor of the previous page "
                "exactly, or leave cursor out for the first page."
            ) from None
        if not records:
            position = None
            break
        scanned += len(records)
        details = await fetch([record.resource_id for record in records])
        for record in records:
            position = encode_cursor(record)
            item = details.get(record.resource_id)
            if item is not None and keep(item):
                items.append(item)
                if len(items) >= limit:
                    break
        if len(items) >= limit:
            break
        if len(records) < chunk:
            position = None
            break
    total = None if filtered else await ownership.count(key, kind)
    return OwnedPage(items, position, total)


async def fetch_each(
    ids: Sequence[str], get: Callable[[str], Awaitable[T]], *, at_once: int = 8
) -> dict[str, T]:
    """Read each id with ``get`` (a few at a time); ids not found upstream are left out."""
    found: dict[str, T] = {}
    limiter = anyio.CapacityLimiter(at_once)

    async def one(ident: str) -> None:
        async with limiter:
            with contextlib.suppress(NotFoundError):
                found[ident] = await get(ident)

    async with anyio.create_task_group() as group:
        for ident in ids:
            group.start_soon(one, ident)
    return found


async def owned_key(
    deps: ToolDeps, kind: Kind, resource_id: str, *, action: str, find: str = "list_runs shows recent runs"
) -> str:
    """The caller's key, once ``resource_id`` is known to be theirs.

    Where users share one key and the caller does not own it, the tool error is the one
    TinyFish gives for an id it does not know (``action`` says what was being done).
    """
    key = await deps.resolve_key()
    await upstream_call(action, deps.require_owned(key, kind, resource_id), find=find)
    return key
