"""Fixtures of the authorization tests: the database, a running oauth-mode harness and a client on it.

``database`` is parametrized: every test that asks for it (directly, or through ``harness``
and ``http``) runs on a fresh SQLite file, and also on a fresh PostgreSQL database when the
machine has PostgreSQL's server programs (CI installs them). Where they are missing, the
``postgres`` cases are not generated at all, rather than skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pg
import pytest
from oauth_helpers import Database, Harness, hosted_harness, make_settings

DATABASES = ["sqlite", "postgres"] if pg.find_bindir() is not None else ["sqlite"]
_PG_DATABASE = "tfmcp_tests"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg.Cluster]:
    """One throwaway PostgreSQL server for the whole session, started on first use."""
    with pg.running_cluster() as cluster:
        yield cluster


@pytest.fixture(params=DATABASES)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """An empty database of the parametrized kind, for this test alone."""
    if request.param == "sqlite":
        return Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
    cluster: pg.Cluster = request.getfixturevalue("pg_cluster")
    await cluster.empty_database(_PG_DATABASE)
    return Database("postgres", cluster.url(_PG_DATABASE))


@pytest.fixture
async def harness(tmp_path: Path, database: Database) -> AsyncIterator[Harness]:
    async with hosted_harness(make_settings(tmp_path, mcp_database_url=database.url)) as running:
        yield running


@pytest.fixture
async def http(harness: Harness) -> AsyncIterator[httpx2.AsyncClient]:
    async with harness.http() as client:
        yield client
