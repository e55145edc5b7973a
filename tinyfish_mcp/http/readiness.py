"""``/readyz``'s schema check: a replica whose database is behind its code is not ready.

The server upgrades the schema when it starts, but a database restored from a backup, or
one switched under a running replica, can be behind. Then ``/readyz`` answers 503 and
says what to run, so the balancer sends nothing to a replica whose queries would fail.
Once the schema is current the answer is kept: a schema never goes back while running
(and a newer one, written by a newer replica during a rolling upgrade, is still served).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SCHEMA_CHECK_SECONDS", "SchemaCheck"]

logger = logging.getLogger(__name__)

SCHEMA_CHECK_SECONDS = 3.0


def _older(revision: str, than: str) -> bool:
    """Whether revision ``revision`` comes before ``than`` (ours are numbered: ``0001``, ``0002``)."""
    if revision.isdigit() and than.isdigit():
        return int(revision) < int(than)
    return False


class SchemaCheck:
    """Compares the database's Alembic revision with this build's head, until it is current."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._current = False
        self._warned_newer = False

    async def behind(self) -> str | None:
        """Why the schema keeps this replica unready, or None when it is fine."""
        if self._current:
            return None
        from ..auth.migrations import HEAD, state

        try:
            with anyio.fail_after(SCHEMA_CHECK_SECONDS):
                found = await state(self._engine)
        except Exception as exc:  # an unreadable schema is an unready replica
            logger.warning("readiness: the schema revision could not be read (%s)", type(exc).__name__)
            return f"the database's schema revision could not be read ({type(exc).__name__})"
        if found.current:
            self._current = True
            return None
        upgrade = "run `tinyfish-mcp db upgrade`"
        if found.revision is None:
            return f"the database has no schema; this server needs revision {HEAD}: {upgrade}"
        if found.unstamped_first_release or _older(found.revision, HEAD):
            at = found.revision
            return f"the database's schema is at revision {at}, this server needs {HEAD}: {upgrade}"
        if not self._warned_newer:
            self._warned_newer = True
            logger.warning(
                "the database's schema is at revision %s, newer than this server's %s: upgrade this replica",
                found.revision,
                HEAD,
            )
        return None
