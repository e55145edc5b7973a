"""/readyz and the schema: a database behind this version's revision keeps the replica unready."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from _servers import clean_env
from alembic import command
from hosted import serve_app, serve_oauth
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tinyfish_mcp.auth.migrations import FIRST_RELEASE, HEAD, _config


async def _back_to_first_release(url: str) -> None:
    """What a restore of an older backup does: the database at revision 0001 under a running server."""

    def downgrade(connection: Connection) -> None:
        command.downgrade(_config(connection), FIRST_RELEASE)

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
    finally:
        await engine.dispose()


def _db_upgrade(url: str) -> str:
    clean = clean_env()
    done = subprocess.run(
        [sys.executable, "-m", "tinyfish_mcp", "db", "upgrade"],
        env={**clean, "TINYFISH_MCP_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def test_readyz_is_unready_while_the_schema_is_behind_and_ready_after_db_upgrade(
    emulator: Any, tmp_path: Path
) -> None:
    with serve_oauth(emulator.base_url, tmp_path) as served:
        url = served.settings.mcp_database_url
        assert url is not None
        await _back_to_first_release(url)
        behind = httpx.get(f"{served.url}/readyz", timeout=10)
        assert behind.status_code == 503
        body = behind.json()
        assert body["status"] == "schema behind"
        assert FIRST_RELEASE in body["detail"] and HEAD in body["detail"]
        assert "tinyfish-mcp db upgrade" in body["detail"]
        assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200  # alive, not ready

        assert f"-> {HEAD}" in _db_upgrade(url)
        ready = httpx.get(f"{served.url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_readyz_without_a_store_checks_no_schema(emulator: Any) -> None:
    with serve_app(mcp_auth="none", base_url=emulator.base_url, api_key=emulator.api_key) as served:
        ready = httpx.get(f"{served.url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
