"""Fixtures of the authorization tests: the database, a running oauth-mode harness and a client on it.

``database`` is parametrized: every test that asks for it (directly, or through ``harness``
and ``http``) runs on a fresh SQLite file, and also on a fresh PostgreSQL database when the
machine has PostgreSQL's server programs (CI installs them). Where they are missing, the
``postgres`` cases are not generated at all, rather than skipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pg
import pytest
from oauth_helpers import Database, Harness, hosted_harness, make_settings


@pytest.fixture(params=pg.DATABASES)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """An empty database of the parametrized kind, for this test alone."""
    return await Database.fresh(request, tmp_path, "tfmcp_tests")


@pytest.fixture
async def harness(tmp_path: Path, database: Database) -> AsyncIterator[Harness]:
    async with hosted_harness(make_settings(tmp_path, mcp_database_url=database.url)) as running:
        yield running


@pytest.fixture
async def http(harness: Harness) -> AsyncIterator[httpx2.AsyncClient]:
    async with harness.http() as client:
        yield client
