"""Who may reach what: the owner of everything the server starts, where owners share one key.

In ``oauth`` mode every user signs in with their own TinyFish key, so TinyFish itself keeps
their work apart; on stdio and in ``none`` mode there is one owner. In ``jwt`` mode every
signed-in user shares the deployment's key, and TinyFish cannot tell them apart: the server
records the owner (a digest of the token's issuer and subject) of every run, batch, research
run, dataset, monitor and profile setup it starts, in the shared store, and answers an id
recorded for somebody else, or never recorded at all, exactly as it answers an id that does not
exist.

:class:`OwnershipStore` is the seam (``auth/ownership_store.py`` implements it on the shared
database); :class:`Ownership` is what the tools call. Listings page over the owner's own
records (newest first, with a cursor of their own) and read the details upstream.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import anyio

from ..records import Kind, OwnedRecord
from ..upstream.errors import NotFoundError

__all__ = [
    "ACCOUNT_WIDE",
    "KINDS",
    "Kind",
    "OwnedRecord",
    "Ownership",
    "OwnershipStore",
    "decode_cursor",
    "encode_cursor",
    "say_account_wide",
]

log = logging.getLogger(__name__)

KINDS: tuple[Kind, ...] = ("run", "research", "dataset", "monitor", "profile_setup")

# How a missing record is named in the "not found" answer (the same words TinyFish uses).
_NOUNS: dict[Kind, str] = {
    "run": "Run",
    "research": "Research run",
    "dataset": "Dataset",
    "monitor": "Monitor",
    "profile_setup": "Profile setup session",
}


class OwnershipStore(Protocol):
    """Owners of the records the server started, in a store every replica shares."""

    async def record(self, owner: str, kind: Kind, resource_ids: Sequence[str], created_at: float) -> None:
        """Record ``owner`` for each id (an id recorded already keeps its first owner)."""
        ...

    async def owned_of(self, owner: str, kind: Kind, resource_ids: Sequence[str]) -> set[str]:
        """Which of ``resource_ids`` are recorded for ``owner``."""
        ...

    async def page(
        self, owner: str, kind: Kind, *, after: tuple[float, str] | None, limit: int, newest_first: bool
    ) -> list[OwnedRecord]:
        """The owner's records of ``kind`` in (created_at, id) order, after the position ``after``."""
        ...

    async def count(self, owner: str, kind: Kind) -> int:
        """How many records of ``kind`` the owner has."""
        ...

    async def recorded(self, kind: Kind, resource_ids: Sequence[str]) -> set[str]:
        """Which of ``resource_ids`` have any owner (for ``admin unowned``)."""
        ...


# What the account-wide tools show where users share one key (jwt mode), said in each
# tool's description there: TinyFish keeps these per account, not per user.
ACCOUNT_WIDE: dict[str, str] = {
    "get_wallet": "Users of this server share one TinyFish account: this is the whole account's "
    "balance, spent by everyone's runs.",
    "get_usage": "Users of this server share one TinyFish account: this lists the whole account's "
    "usage, everyone's, not only yours.",
    "list_vault_items": "Users of this server share one TinyFish account: these are the account's "
    "vault items, usable by every user of this server.",
    "start_profile_setup_session": "Users of this server share one TinyFish account: a profile is "
    "the account's, so every user's runs can use what is signed in to it.",
}


def say_account_wide(tools: dict[str, Any]) -> None:
    """Append to each account-wide tool's description what it shows in a shared-key deployment.

    ``tools`` maps tool names to the registered tool objects (their ``description`` is edited).
    """
    for name, sentence in ACCOUNT_WIDE.items():
        tool = tools.get(name)
        if tool is not None and sentence not in (tool.description or ""):
            tool.description = f"{(tool.description or '').rstrip()} {sentence}"


def encode_cursor(record: OwnedRecord) -> str:
    """An opaque cursor naming the position just after ``record``."""
    text = f"{record.created_at!r}|{record.resource_id}"
    return "own_" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    """The position a cursor of :func:`encode_cursor` names; ``None`` for none.

    Raises ``ValueError`` for a cursor this server never gave out.
    """
    if cursor is None:
        return None
    if not cursor.startswith("own_") or len(cursor) > 1_200:
        raise ValueError("not a cursor of this listing")
    body = cursor[4:]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        moment, ident = text.split("|", 1)
        return float(moment), ident
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor of this listing") from None


def not_found(kind: Kind, resource_id: str) -> NotFoundError:
    """The answer for an id this caller does not own: the same as for an id that never existed."""
    del resource_id  # not echoed: TinyFish's own answer names no id either
    return NotFoundError(f"{_NOUNS[kind]} not found", status=404)


class Ownership:
    """Records and checks owners for the tools (jwt mode); ``owner(key)`` names the caller."""

    def __init__(self, store: OwnershipStore, owner: Callable[[str], Awaitable[str]]) -> None:
        self.store = store
        self._owner = owner

    async def record(self, key: str, kind: Kind, resource_ids: Sequence[str]) -> None:
        """Record the caller as the owner of ``resource_ids``, just started.

        Shielded from cancellation: the record of something billed must not be lost because
        the client hung up at that moment. A store failure is logged, not raised (the run
        exists; failing the call would hide its id).
        """
        ids = [ident for ident in resource_ids if ident]
        if not ids:
            return
        with anyio.CancelScope(shield=True):
            try:
                owner = await self._owner(key)
                await self.store.record(owner, kind, ids, _now())
            except Exception:
                log.exception("could not record the owner of %s %s", kind, ", ".join(ids)[:200])

    async def require(self, key: str, kind: Kind, resource_id: str) -> None:
        """Raise ``NotFoundError`` unless the caller owns ``resource_id``."""
        owner = await self._owner(key)
        if resource_id not in await self.store.owned_of(owner, kind, [resource_id]):
            raise not_found(kind, resource_id)

    async def split(self, key: str, kind: Kind, resource_ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """``resource_ids`` as (the caller's, everyone else's or nobody's), order kept."""
        owner = await self._owner(key)
        mine = await self.store.owned_of(owner, kind, list(resource_ids))
        return [i for i in resource_ids if i in mine], [i for i in resource_ids if i not in mine]

    async def page(
        self, key: str, kind: Kind, *, cursor: str | None, limit: int, newest_first: bool = True
    ) -> list[OwnedRecord]:
        """Up to ``limit`` of the caller's records after ``cursor`` (``ValueError`` for a bad cursor)."""
        owner = await self._owner(key)
        return await self.store.page(
            owner, kind, after=decode_cursor(cursor), limit=limit, newest_first=newest_first
        )

    async def count(self, key: str, kind: Kind) -> int:
        return await self.store.count(await self._owner(key), kind)


def _now() -> float:
    return time.time()
