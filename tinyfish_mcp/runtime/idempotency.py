"""``session_id``: a retried run call gets the run it already started, never a second one.

TinyFish's hosted MCP server asks the model for a fresh ``session_id`` (a UUID) on every
``run_web_automation`` call. Here it is an idempotency key: the first call with a given
``session_id`` *claims* it, creates the run and records the run id; any later call with
the same ``session_id`` and the same API key (a client that timed out and retried, a
reconnect, a model that sent the call twice) follows that run instead of creating (and
billing) another. A call that arrives while the first is still starting waits for its
run id.

What is remembered lives behind :class:`RunKeyStore`: a SQLite file in the user's state
directory on stdio (``runkeys_file.py``: it survives a restart and is shared by the user's
processes), a table in the shared database in every hosted mode (``auth/idempotency.py``),
so that any replica recognises a retry; :class:`MemoryRunKeyStore` when asked for. Keys
are never stored: a claim is scoped by a SHA-256 of the owner (the signed-in user, where
users share a key) and the API key, and the request is remembered only as a fingerprint, so a
``session_id`` reused for a *different* run is refused instead of answered with the
wrong run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from ..records import RunKey, RunKeyState, RunKeyStore
from ..upstream.errors import APIError, UpstreamError

if TYPE_CHECKING:
    from ..upstream.models import RunRequest

__all__ = [
    "STARTING_LIMIT",
    "MemoryRunKeyStore",
    "RunClaim",
    "RunKey",
    "RunKeyState",
    "RunKeyStore",
    "claim_run",
    "fingerprint",
    "owner_of",
    "scope_of",
]

log = logging.getLogger(__name__)

# A claim still "starting" after this long belongs to a call that died mid-way (a crashed
# replica): its run may exist, so it is treated like "unknown", never re-created.
STARTING_LIMIT = 120.0
# How long a call waits at most for a concurrent call with the same session_id to learn
# its run id, and how often it looks.
WAIT_LIMIT = 30.0
_LOOK_FIRST, _LOOK_MAX = 0.1, 1.0


class MemoryRunKeyStore:
    """A :class:`RunKeyStore` in this process's memory (stdio: one client, one process)."""

    def __init__(self, ttl: float = 3600.0) -> None:
        self._ttl = ttl
        self._keys: dict[tuple[str, str], tuple[RunKey, float]] = {}

    def _purge(self, now: float) -> None:
        for slot in [slot for slot, (_, expires) in self._keys.items() if expires <= now]:
            del self._keys[slot]

    async def claim(self, owner: str, session_id: str, fingerprint: str) -> RunKey | None:
        now = time.time()
        self._purge(now)
        held = self._keys.get((owner, session_id))
        if held is not None:
            return held[0]
        self._keys[(owner, session_id)] = (RunKey("starting", fingerprint, now), now + self._ttl)
        return None

    def _update(self, owner: str, session_id: str, state: RunKeyState, run_id: str | None) -> None:
        held = self._keys.get((owner, session_id))
        if held is not None:
            key, expires = held
            self._keys[(owner, session_id)] = (
                RunKey(state, key.fingerprint, key.claimed_at, run_id),
                expires,
            )

    async def started(self, owner: str, session_id: str, run_id: str) -> None:
        self._update(owner, session_id, "started", run_id)

    async def lost(self, owner: str, session_id: str) -> None:
        self._update(owner, session_id, "unknown", None)

    async def release(self, owner: str, session_id: str) -> None:
        self._keys.pop((owner, session_id), None)


def owner_of(api_key: str) -> str:
    """Who a session_id belongs to, without keeping the key: its SHA-256, in hex."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def fingerprint(request: RunRequest) -> str:
    """A digest of the run as it would be sent: the same session_id must mean the same run."""
    text = json.dumps(request.to_body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _was_refused(exc: BaseException | None) -> bool:
    """True when the service answered the create with a client error (4xx): no run exists.

    Tool errors keep the upstream error they were made from as their context. Anything
    else (a 5xx, a timeout, a broken connection, a cancelled call) may have left a run
    behind, so it is not a refusal.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UpstreamError):
            return isinstance(exc, APIError) and exc.status is not None and 400 <= exc.status < 500
        exc = exc.__cause__ or exc.__context__
    return False


class RunClaim:
    """This call's right to create the run of ``session_id``; report how the creation went."""

    def __init__(self, store: RunKeyStore, owner: str, session_id: str) -> None:
        self._store = store
        self._owner = owner
        self.session_id = session_id
        self._settled = False

    async def started(self, run_id: str) -> None:
        """Record the run id (best effort: a store failure must not fail a started run)."""
        self._settled = True
        with anyio.CancelScope(shield=True):
            try:
                await self._store.started(self._owner, self.session_id, run_id)
            except Exception:
                log.exception("could not record run %s for its session_id", run_id)

    async def not_created(self) -> None:
        """The service answered without creating a run: a retry may create it."""
        await self.failed(None, refused=True)

    async def failed(self, exc: BaseException | None, *, refused: bool = False) -> None:
        """The creation failed before a run id was known: forget or block the session_id."""
        if self._settled:
            return
        self._settled = True
        with anyio.CancelScope(shield=True):
            try:
                if refused or _was_refused(exc):
                    await self._store.release(self._owner, self.session_id)
                else:
                    await self._store.lost(self._owner, self.session_id)
            except Exception:
                log.exception("could not record the outcome of a session_id claim")


def _unknown_error(session_id: str) -> ToolError:
    return ToolError(
        f"An earlier call with session_id {session_id!r} may have started a run, but its run id was "
        "never confirmed. Look for it with list_runs(status='RUNNING') (or list_runs(goal=...)) "
        "before starting anything; to start a new run on purpose, use a new session_id."
    )


def scope_of(owner: str, api_key: str) -> str:
    """The scope a session_id is remembered in: the owner (the signed-in user, where users share
    a key) and the key, as one SHA-256 in hex, so no store holds either."""
    return hashlib.sha256(f"{owner}\n{api_key}".encode()).hexdigest()


async def claim_run(
    store: RunKeyStore,
    api_key: str,
    session_id: str,
    request: RunRequest,
    *,
    wait: float,
    owner: str | None = None,
) -> RunClaim | str:
    """Claim ``session_id`` for ``request``, or find the run an earlier call started.

    Returns a :class:`RunClaim` (create the run, then report to it) or the run id to
    follow. Raises ``ToolError`` when the session_id was used for another run, when an
    earlier attempt may have started a run whose id is unknown, or when a concurrent
    call is still starting the run after ``wait`` seconds (at most ``WAIT_LIMIT``).
    ``owner`` names the caller where several share ``api_key`` (jwt mode): another owner's
    session_id is then a different one, never their run.
    """
    owner = scope_of(owner, api_key) if owner is not None else owner_of(api_key)
    digest = fingerprint(request)
    deadline = time.monotonic() + min(wait, WAIT_LIMIT)
    pause = _LOOK_FIRST
    while True:
        try:
            held = await store.claim(owner, session_id, digest)
        except Exception:
            log.exception("the session_id store failed")
            raise ToolError(
                f"Could not check session_id {session_id!r} (this server's store failed), so no run "
                "was started. Call again in a moment with the same session_id."
            ) from None
        if held is None:
            return RunClaim(store, owner, session_id)
        if held.fingerprint != digest:
            found = f" (run {held.run_id})" if held.run_id else ""
            raise ToolError(
                f"session_id {session_id!r} was already used for a different run{found}. A session_id "
                "names one run: pass a new one (a fresh UUID) for a new task, or the same arguments "
                "to follow the earlier run."
            )
        if held.state == "started" and held.run_id:
            return held.run_id
        if held.state == "unknown" or time.time() - held.claimed_at > STARTING_LIMIT:
            raise _unknown_error(session_id)
        if time.monotonic() >= deadline:
            raise ToolError(
                f"Another call with session_id {session_id!r} is still starting this run. Call again "
                "in a few seconds with the same session_id to follow it (no second run is started)."
            )
        await anyio.sleep(pause)
        pause = min(pause * 2, _LOOK_MAX)
