"""Fixtures of the authorization tests: a running oauth-mode harness and a client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from oauth_helpers import Harness, hosted_harness, make_settings


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with hosted_harness(make_settings(tmp_path)) as running:
        yield running


@pytest.fixture
async def http(harness: Harness) -> AsyncIterator[httpx2.AsyncClient]:
    async with harness.http() as client:
        yield client
