"""Fixtures of the hosted-server tests: an oauth-mode and a no-auth server on the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hosted import Served, serve_app, serve_oauth


@pytest.fixture
def oauth_server(emulator: Any, tmp_path: Path) -> Iterator[Served]:
    with serve_oauth(
        emulator.base_url,
        tmp_path,
    ) as served:
        yield served


@pytest.fixture
def open_server(emulator: Any) -> Iterator[Served]:
    with serve_app(mcp_auth="none", base_url=emulator.base_url, api_key=emulator.api_key) as served:
        yield served
