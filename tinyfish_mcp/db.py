"""``tinyfish-mcp db``: the OAuth store's schema, for operators.

    tinyfish-mcp db upgrade     bring the database at TINYFISH_MCP_DATABASE_URL to this version's schema
    tinyfish-mcp db current     print the database's schema revision (exit 1 when an upgrade is due)

The server upgrades at start too (under a lock, so replicas may race); running
``db upgrade`` first, from one place, makes a deployment's upgrade an explicit step.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from .settings import Settings

__all__ = ["add_db_parser", "run_db"]


def add_db_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="the OAuth store's schema: upgrade it, or show its revision")
    actions = db.add_subparsers(dest="db_command", metavar="{upgrade,current}", required=True)
    actions.add_parser("upgrade", help="upgrade the database's schema to this version's (safe on a live one)")
    actions.add_parser("current", help="print the schema revision; exit 1 when an upgrade is due")


def run_db(args: argparse.Namespace, settings: Settings) -> int:
    """Run one db command: 0 on success (and at head), 1 when behind or on failure."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from .auth.migrations import SchemaError

    where = make_url(settings.mcp_database_url).render_as_string(hide_password=True)
    try:
        return asyncio.run(_run(args.db_command, settings.mcp_database_url))
    except SchemaError as exc:
        print(f"tinyfish-mcp db: {exc}", file=sys.stderr)
    except (SQLAlchemyError, OSError) as exc:
        print(
            f"tinyfish-mcp db: the database at {where} could not be used ({type(exc).__name__}); "
            "check TINYFISH_MCP_DATABASE_URL and that the database is reachable",
            file=sys.stderr,
        )
    return 1


async def _run(action: str, url: str) -> int:
    from .auth.migrations import HEAD, state, upgrade
    from .auth.store import open_engine

    engine = open_engine(url)
    try:
        if action == "upgrade":
            before, after = await upgrade(engine)
            if before.revision == after and not before.unstamped_first_release:
                print(f"schema already at {after} (current)")
            else:
                origin = "0.1.0" if before.unstamped_first_release else before.revision or "empty"
                print(f"schema upgraded: {origin} -> {after} (current)")
            return 0
        now = await state(engine)
        if now.current:
            print(f"{now.revision} (current)")
            return 0
        if now.revision is None:
            print(f"empty: `tinyfish-mcp db upgrade` creates the schema ({HEAD})")
        elif now.unstamped_first_release:
            print(f"{now.revision} (the 0.1.0 schema, unstamped): run `tinyfish-mcp db upgrade` ({HEAD})")
        else:
            print(f"{now.revision}: run `tinyfish-mcp db upgrade` to reach {HEAD}")
        return 1
    finally:
        await engine.dispose()
