"""Helpers for the emulator's own tests: an httpx client already carrying the API key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture(scope="session")
def _api_client(emulator_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator_server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def api(emulator: Any, _api_client: httpx.Client) -> httpx.Client:
    """A pooled client of the (freshly reset) emulator, sending the default key."""
    _api_client.headers["X-API-Key"] = emulator.api_key
    return _api_client


def run_body(
    url: str = "https://shop.example.com/", goal: str = "Find the prices", **extra: Any
) -> dict[str, Any]:
    return {"url": url, "goal": goal, **extra}


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``check`` until it returns something truthy (the test fails on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


def wait_terminal(api: httpx.Client, run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run: dict[str, Any] = api.get(f"/v1/runs/{run_id}").json()
        return run if run["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

    result: dict[str, Any] = wait_for(done)
    return result
