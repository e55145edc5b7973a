"""Schema migrations on SQLite and PostgreSQL: from nothing, from 0.1.0, raced, and by command.

The 0.1.0 schema below is a copy of that release's table definitions (``auth/store.py`` at
0.1.0), kept here on purpose: revision 0001 must reproduce it, and a database it made must
be recognised, stamped and upgraded with its rows intact.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from _servers import clean_env
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from oauth_helpers import Database
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import tinyfish_mcp.auth.idempotency
import tinyfish_mcp.auth.ownership_store
import tinyfish_mcp.auth.ratelimit_backends
import tinyfish_mcp.auth.sessions_store
import tinyfish_mcp.auth.usage  # noqa: F401  (their tables join the store's metadata)
from tinyfish_mcp.auth.migrations import HEAD, VERSION_TABLE, SchemaError, state, upgrade
from tinyfish_mcp.auth.store import _metadata

FIRST_RELEASE_TABLES = {"tfmcp_clients", "tfmcp_pending", "tfmcp_grants", "tfmcp_codes", "tfmcp_tokens"}
ALL_TABLES = FIRST_RELEASE_TABLES | {
    "tfmcp_run_keys",
    "tfmcp_browser_sessions",
    "tfmcp_rate_limits",
    "tfmcp_grant_usage",
    "tfmcp_owned",
}


def schema_0_1_0() -> MetaData:
    metadata = MetaData()
    Table(
        "tfmcp_clients",
        metadata,
        Column("client_id", String(255), primary_key=True),
        Column("info_json", Text, nullable=False),
        Column("created_at", Float, nullable=False),
    )
    Table(
        "tfmcp_pending",
        metadata,
        Column("txn_hash", String(64), primary_key=True),
        Column("client_id", String(2048), nullable=False),
        Column("params_json", Text, nullable=False),
        Column("expires_at", Float, nullable=False),
    )
    Table(
        "tfmcp_grants",
        metadata,
        Column("grant_id", String(64), primary_key=True),
        Column("client_id", String(2048), nullable=False),
        Column("api_key_ciphertext", LargeBinary, nullable=False),
        Column("created_at", Float, nullable=False),
    )
    Table(
        "tfmcp_codes",
        metadata,
        Column("code_hash", String(64), primary_key=True),
        Column("grant_id", String(64), nullable=False),
        Column("client_id", String(2048), nullable=False),
        Column("scopes", Text, nullable=False),
        Column("code_challenge", String(128), nullable=False),
        Column("redirect_uri", Text, nullable=False),
        Column("redirect_uri_explicit", Boolean, nullable=False),
        Column("resource", Text, nullable=False),
        Column("expires_at", Float, nullable=False),
        Column("used_at", Float, nullable=True),
        Index("ix_tfmcp_codes_grant", "grant_id"),
    )
    Table(
        "tfmcp_tokens",
        metadata,
        Column("token_hash", String(64), primary_key=True),
        Column("kind", String(16), nullable=False),
        Column("grant_id", String(64), nullable=False),
        Column("client_id", String(2048), nullable=False),
        Column("scopes", Text, nullable=False),
        Column("resource", Text, nullable=False),
        Column("expires_at", Float, nullable=False),
        Column("rotated_at", Float, nullable=True),
        Index("ix_tfmcp_tokens_grant", "grant_id"),
    )
    return metadata


async def _differences(engine: AsyncEngine, metadata: MetaData) -> list[Any]:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def _tables(database: Database) -> set[str]:
    if database.kind == "sqlite":
        rows = await database.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await database.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row[0] for row in rows}


async def _made_by_0_1_0(database: Database) -> None:
    engine = create_async_engine(database.url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(schema_0_1_0().create_all)
    finally:
        await engine.dispose()
    await database.execute(
        "INSERT INTO tfmcp_grants (grant_id, client_id, api_key_ciphertext, created_at)"
        " VALUES ('g-1', 'client-1', :blob, 1.5)",
        blob=b"sealed",
    )


async def test_an_empty_database_is_upgraded_to_exactly_the_tables_the_code_uses(database: Database) -> None:
    engine = create_async_engine(database.url)
    try:
        assert (await state(engine)).revision is None
        before, after = await upgrade(engine)
        assert (before.revision, after) == (None, HEAD)
        assert (await state(engine)).current
        assert await _tables(database) == ALL_TABLES | {VERSION_TABLE}
        assert await _differences(engine, _metadata) == []
        assert (await upgrade(engine))[1] == HEAD  # a second upgrade finds nothing to do
    finally:
        await engine.dispose()


async def test_revision_one_is_the_first_release_schema(database: Database) -> None:
    engine = create_async_engine(database.url)
    try:
        assert (await upgrade(engine, "0001"))[1] == "0001"
        assert await _tables(database) == FIRST_RELEASE_TABLES | {VERSION_TABLE}
        assert await _differences(engine, schema_0_1_0()) == []
    finally:
        await engine.dispose()


async def test_a_0_1_0_database_is_stamped_then_upgraded_and_keeps_its_rows(database: Database) -> None:
    await _made_by_0_1_0(database)
    engine = create_async_engine(database.url)
    try:
        found = await state(engine)
        assert (found.revision, found.unstamped_first_release, found.current) == ("0001", True, False)
        before, after = await upgrade(engine)
        assert before.unstamped_first_release and after == HEAD
        assert await _differences(engine, _metadata) == []
    finally:
        await engine.dispose()
    assert await database.rows("SELECT version_num FROM tfmcp_alembic_version") == [(HEAD,)]
    assert await database.rows("SELECT grant_id, client_id, created_at FROM tfmcp_grants") == [
        ("g-1", "client-1", 1.5)
    ]


async def test_replicas_upgrading_at_once_all_succeed(database: Database) -> None:
    await _made_by_0_1_0(database)
    engines = [create_async_engine(database.url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(upgrade(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert [after for _, after in results] == [HEAD] * 3
    assert sum(before.unstamped_first_release for before, _ in results) == 1  # one did the work
    assert await database.rows("SELECT version_num FROM tfmcp_alembic_version") == [(HEAD,)]
    assert await database.count("tfmcp_grants") == 1


async def test_a_database_newer_than_this_build_is_refused_untouched(database: Database) -> None:
    engine = create_async_engine(database.url)
    try:
        await upgrade(engine)
        await database.execute("UPDATE tfmcp_alembic_version SET version_num = '0099'")
        with pytest.raises(SchemaError, match="revision 0099, newer than this version of tinyfish-mcp"):
            await upgrade(engine)
    finally:
        await engine.dispose()
    assert await database.rows("SELECT version_num FROM tfmcp_alembic_version") == [("0099",)]


def _db(command: str, url: str) -> subprocess.Popen[str]:
    clean = clean_env()
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tinyfish_mcp", "db", command],
        env={**clean, "TINYFISH_MCP_DATABASE_URL": url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


async def test_db_commands_in_two_processes_at_once(database: Database) -> None:
    await _made_by_0_1_0(database)
    code, out, _ = await asyncio.to_thread(_finish, _db("current", database.url))
    assert (code, out) == (1, f"0001 (the 0.1.0 schema, unstamped): run `tinyfish-mcp db upgrade` ({HEAD})\n")

    racers = [_db("upgrade", database.url) for _ in range(2)]
    results = [await asyncio.to_thread(_finish, each) for each in racers]
    assert [code for code, _, _ in results] == [0, 0], results
    assert sorted(out for _, out, _ in results) == [
        f"schema already at {HEAD} (current)\n",
        f"schema upgraded: 0.1.0 -> {HEAD} (current)\n",
    ]
    assert all("Traceback" not in err for _, _, err in results)

    code, out, _ = await asyncio.to_thread(_finish, _db("current", database.url))
    assert (code, out) == (0, f"{HEAD} (current)\n")
    assert await database.count("tfmcp_grants") == 1


def test_db_command_on_an_unreachable_database_says_so_in_one_line_without_the_password() -> None:
    code, out, err = _finish(_db("upgrade", "postgresql+asyncpg://ops:hunter2@127.0.0.1:1/tfmcp"))
    assert code == 1 and out == ""
    assert err.startswith("tinyfish-mcp db: the database at postgresql+asyncpg://ops:***@127.0.0.1:1/tfmcp")
    assert "hunter2" not in err and "Traceback" not in err and err.count("\n") == 1
