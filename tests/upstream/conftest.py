"""Fixtures of the upstream tests: a real ``TinyFishClient`` pointed at the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from tinyfish_mcp.settings import Settings
from tinyfish_mcp.upstream.client import TinyFishClient

ClientFactory = Callable[..., AbstractAsyncContextManager[TinyFishClient]]


def emulator_settings(emulator: Any, **overrides: object) -> Settings:
    """Settings for the emulator with backoffs small enough for tests."""
    values: dict[str, object] = {
        "api_key": emulator.api_key,
        "base_url": emulator.base_url,
        "max_retries": 3,
        "retry_initial_backoff": 0.01,
        "retry_max_backoff": 0.05,
        "search_rate_limit_backoff": 0.05,
        "retry_max_total_wait": 2.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(emulator: Any) -> AsyncIterator[TinyFishClient]:
    async with TinyFishClient(emulator_settings(emulator)) as tf:
        yield tf


@pytest.fixture
def make_client(emulator: Any) -> ClientFactory:
    """``async with make_client(max_retries=5) as tf:`` — a client with other settings."""

    def factory(**overrides: object) -> AbstractAsyncContextManager[TinyFishClient]:
        return TinyFishClient(emulator_settings(emulator, **overrides))

    return factory
