"""Schema migrations of the shared store, with Alembic run from the code (no ``alembic.ini``).

The revisions live in ``versions/`` and are written by hand: ``0001`` is the schema of the
first release (0.1.0), ``0002`` every table added since. :func:`upgrade` brings a database
to the newest revision; the server calls it at start and ``tinyfish-mcp db upgrade`` on
demand. Several replicas may call it at once: the whole upgrade is one transaction under a
lock that a second caller waits for, after which it finds nothing left to do.

- PostgreSQL: a transaction-scoped advisory lock (``pg_advisory_xact_lock``); DDL is
  transactional, so a failed upgrade leaves the database as it was.
- SQLite: ``BEGIN IMMEDIATE``, which takes the database's write lock before the first read.

A database made by 0.1.0 has the five tables but no version table: it is recognised by
``tfmcp_clients`` and stamped at ``0001`` before upgrading. The version table is
``tfmcp_alembic_version``, prefixed like every table of ours, so that a database shared
with another Alembic-managed application keeps both histories apart.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

# Alembic narrates every step at INFO, some of it as it is imported; one line of ours says
# what changed instead.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from alembic.util import CommandError  # noqa: E402
from sqlalchemy import Connection, inspect, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

__all__ = ["FIRST_RELEASE", "HEAD", "VERSION_TABLE", "SchemaError", "SchemaState", "state", "upgrade"]

logger = logging.getLogger(__name__)

FIRST_RELEASE = "0001"
HEAD = "0003"
VERSION_TABLE = "tfmcp_alembic_version"

# PostgreSQL advisory lock key held while upgrading (any constant; "tfmcp" in ASCII).
_LOCK_KEY = 0x74666D6370
# A table every schema since 0.1.0 has: its presence without a version table means 0.1.0.
_FIRST_RELEASE_TABLE = "tfmcp_clients"


class SchemaError(RuntimeError):
    """The database's schema cannot be brought to this build's (e.g. it is newer)."""


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database stands: its revision, and whether it is a 0.1.0 one not yet stamped."""

    revision: str | None
    unstamped_first_release: bool = False

    @property
    def current(self) -> bool:
        return self.revision == HEAD


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent).replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSION_TABLE
    return config


def _revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _state(connection: Connection) -> SchemaState:
    revision = _revision(connection)
    if revision is None and inspect(connection).has_table(_FIRST_RELEASE_TABLE):
        return SchemaState(FIRST_RELEASE, unstamped_first_release=True)
    return SchemaState(revision)


def _upgrade(connection: Connection, target: str) -> tuple[SchemaState, str | None]:
    """Lock, stamp a 0.1.0 database, upgrade to ``target``; the caller commits."""
    if connection.dialect.name == "sqlite":
        # The driver begins transactions lazily (and only before DML): take the write
        # lock now, so that two upgraders never both read "nothing here yet".
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    before = _state(connection)
    config = _config(connection)
    script = ScriptDirectory.from_config(config)
    known = {rev.revision for rev in script.walk_revisions()}
    if before.revision is not None and before.revision not in known:
        raise SchemaError(
            f"the database's schema is at revision {before.revision}, newer than this version of "
            f"tinyfish-mcp knows (up to {HEAD}): upgrade tinyfish-mcp, or use another database"
        )
    if before.unstamped_first_release:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        context.stamp(script, FIRST_RELEASE)
    try:
        command.upgrade(config, target)
    except CommandError as exc:
        raise SchemaError(f"the database's schema could not be upgraded: {exc}") from exc
    return before, _revision(connection)


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[SchemaState, str | None]:
    """Bring ``engine``'s database to ``target`` (:data:`HEAD`); returns where it was and is now."""
    async with engine.connect() as conn:
        before, after = await conn.run_sync(functools.partial(_upgrade, target=target))
        await conn.commit()
    if before.revision != after or before.unstamped_first_release:
        logger.info(
            "Database schema upgraded from %s to %s",
            "0.1.0 (unstamped)" if before.unstamped_first_release else before.revision or "empty",
            after,
        )
    return before, after


async def state(engine: AsyncEngine) -> SchemaState:
    """Where ``engine``'s database stands, without changing it."""
    async with engine.connect() as conn:
        return await conn.run_sync(_state)
