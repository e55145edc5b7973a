"""What the server remembers between calls, as the tools write it and the stores keep it.

The tools (``runtime/idempotency.py``, ``runtime/ownership.py``, ``runtime/sessions.py``) fill
these records and define the logic around them; the shared database's stores
(``auth/idempotency.py``, ``auth/ownership_store.py``, ``auth/sessions_store.py``) keep
them for every replica. Both import them from here, so neither package reaches into the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

__all__ = [
    "FORGET_AFTER",
    "MAX_SESSIONS_PER_OWNER",
    "Kind",
    "OwnedRecord",
    "RunKey",
    "RunKeyState",
    "RunKeyStore",
    "SessionRecord",
]

# ------------------------------------------------------------------ run session_ids
RunKeyState = Literal["starting", "started", "unknown"]


@dataclass(frozen=True, slots=True)
class RunKey:
    """What is recorded for one (owner, session_id)."""

    state: RunKeyState
    fingerprint: str
    claimed_at: float
    run_id: str | None = None


class RunKeyStore(Protocol):
    """Where session_ids are remembered: for ``ttl`` seconds, keyed by owner and session_id.

    ``owner`` is already a digest of the API key (``runtime.idempotency.owner_of``). Every
    method is atomic with respect to every other caller of the same store, in every process
    that shares it.
    """

    async def claim(self, owner: str, session_id: str, fingerprint: str) -> RunKey | None:
        """Claim ``session_id`` for a new run: ``None`` when this call now owns it (state
        "starting"), otherwise what is already recorded (the claim is not taken)."""
        ...

    async def started(self, owner: str, session_id: str, run_id: str) -> None:
        """The claimed run exists: remember its id."""
        ...

    async def lost(self, owner: str, session_id: str) -> None:
        """The claimed run may exist but its id was never learnt: never create it again."""
        ...

    async def release(self, owner: str, session_id: str) -> None:
        """The claimed run was provably never created: forget the claim, so a retry creates it."""
        ...


# ------------------------------------------------------------------ owners (jwt mode)
Kind = Literal["run", "research", "dataset", "monitor", "profile_setup"]


@dataclass(frozen=True, slots=True)
class OwnedRecord:
    kind: Kind
    resource_id: str
    owner: str
    created_at: float


# ------------------------------------------------------------------ browser sessions
MAX_SESSIONS_PER_OWNER = 50  # the oldest are forgotten first
FORGET_AFTER = timedelta(hours=24)  # an ended session stays listed for a day


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    owner: str
    cdp_url: str
    base_url: str
    timeout_seconds: int
    created_at: datetime
    # The last activity we observed: the creation, or a change in the session's pages.
    last_activity: datetime
    ended_at: datetime | None = None
    pages_digest: str | None = None  # what /pages showed last, to notice activity

    @property
    def expires_at(self) -> datetime:
        """When the inactivity timeout ends the session, if nothing happened since ``last_activity``."""
        return self.last_activity + timedelta(seconds=self.timeout_seconds)

    def changed(self, **fields: object) -> SessionRecord:
        return replace(self, **fields)  # type: ignore[arg-type]
