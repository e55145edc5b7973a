"""stdio's session_ids in a small SQLite file, so a retry after a restart follows the same run.

Desktop clients restart their servers often; a client that timed out, restarted the server and
retried with the same ``session_id`` must get the run already started, not a second billed one.
:class:`FileRunKeyStore` is the :class:`~.idempotency.RunKeyStore` for that: one table in a file
under the user's state directory, with the same TTL as the shared store, and safe for two
processes of one user at once (WAL, and a claim is one ``BEGIN IMMEDIATE`` transaction, which
takes the file's write lock before it reads, so exactly one process claims a key).

The standard library's ``sqlite3`` is used in a worker thread (a claim is a few milliseconds):
nothing heavier is loaded on the stdio cold start. The file holds digests only: the owner is a
SHA-256 of the key, the request a fingerprint.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .idempotency import RunKey, RunKeyState

if TYPE_CHECKING:
    import sqlite3

__all__ = ["FileRunKeyStore"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_keys (
    owner TEXT NOT NULL,
    session_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    run_id TEXT,
    claimed_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (owner, session_id)
)
"""
# How long a process waits for another one holding the file's write lock (seconds).
_BUSY_TIMEOUT = 10.0


class FileRunKeyStore:
    """A ``RunKeyStore`` in the SQLite file ``path`` (created on first use, with its directory)."""

    def __init__(self, path: Path, ttl: float) -> None:
        self.path = path
        self._ttl = ttl
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            import sqlite3  # on the first claim: a start that never runs a tool does not load it

            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def _claim(self, owner: str, session_id: str, fingerprint: str) -> RunKey | None:
        now = time.time()
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM run_keys WHERE expires_at <= ?", (now,))
                row = conn.execute(
                    "SELECT state, fingerprint, claimed_at, run_id FROM run_keys "
                    "WHERE owner = ? AND session_id = ?",
                    (owner, session_id),
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO run_keys VALUES (?, ?, ?, 'starting', NULL, ?, ?)",
                        (owner, session_id, fingerprint, now, now + self._ttl),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if row is None:
            return None
        state: RunKeyState = row[0]
        return RunKey(state, row[1], row[2], row[3])

    def _write(self, sql: str, values: tuple[object, ...]) -> None:
        with self._lock:
            self._connect().execute(sql, values)

    async def claim(self, owner: str, session_id: str, fingerprint: str) -> RunKey | None:
        return await anyio.to_thread.run_sync(self._claim, owner, session_id, fingerprint)

    async def _settle(self, owner: str, session_id: str, state: RunKeyState, run_id: str | None) -> None:
        sql = (
            "UPDATE run_keys SET state = ?, run_id = ? "
            "WHERE owner = ? AND session_id = ? AND state = 'starting'"
        )
        await anyio.to_thread.run_sync(self._write, sql, (state, run_id, owner, session_id))

    async def started(self, owner: str, session_id: str, run_id: str) -> None:
        await self._settle(owner, session_id, "started", run_id)

    async def lost(self, owner: str, session_id: str) -> None:
        await self._settle(owner, session_id, "unknown", None)

    async def release(self, owner: str, session_id: str) -> None:
        sql = "DELETE FROM run_keys WHERE owner = ? AND session_id = ? AND state = 'starting'"
        await anyio.to_thread.run_sync(self._write, sql, (owner, session_id))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
