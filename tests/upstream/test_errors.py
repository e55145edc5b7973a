"""Every documented error code, as the client raises it from real emulator answers.

Each test also checks the one promise every error makes: the API key never shows up
in its text.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tinyfish_mcp.settings import Settings
from tinyfish_mcp.upstream.client import TinyFishClient
from tinyfish_mcp.upstream.errors import (
    APIError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
)
from tinyfish_mcp.upstream.models import (
    BrowserSessionRequest,
    RunRequest,
    SearchParams,
)

from .conftest import ClientFactory

REQUEST = RunRequest(url="https://shop.example.com/", goal="Read the headline")
WRONG_KEY = "sk-tinyfish-this-key-does-not-exist-42"


def assert_keyless(exc: UpstreamError, *keys: str) -> None:
    text = " | ".join([str(exc), repr(exc), exc.message, exc.hint, repr(exc.args)])
    for key in keys:
        assert key not in text
    assert exc.hint  # every error tells the reader what to do next


async def test_missing_api_key(client: TinyFishClient, emulator: Any) -> None:
    with pytest.raises(AuthenticationError) as info:
        await client.run_async("", REQUEST)
    assert (info.value.status, info.value.code) == (401, "MISSING_API_KEY")
    assert "TINYFISH_API_KEY" in info.value.hint
    assert emulator.requests()[0]["key_suffix"] in (None, "")


async def test_invalid_api_key(client: TinyFishClient) -> None:
    with pytest.raises(AuthenticationError) as info:
        await client.get_run(WRONG_KEY, "run-1")
    assert (info.value.status, info.value.code) == (401, "INVALID_API_KEY")
    assert info.value.message == "The provided API key is invalid"
    assert_keyless(info.value, WRONG_KEY)


async def test_forbidden_without_credit(client: TinyFishClient, emulator: Any) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        await client.run_async(emulator.no_credit_key, REQUEST)
    assert (info.value.status, info.value.code) == (403, "FORBIDDEN")
    assert_keyless(info.value, emulator.no_credit_key)


async def test_browser_without_credit_is_402_insufficient_credits(
    client: TinyFishClient, emulator: Any
) -> None:
    with pytest.raises(PermissionDeniedError) as info:
        await client.create_browser_session(emulator.no_credit_key, BrowserSessionRequest())
    assert (info.value.status, info.value.code) == (402, "INSUFFICIENT_CREDITS")
    assert_keyless(info.value, emulator.no_credit_key)


async def test_not_found(client: TinyFishClient, emulator: Any) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.get_run(emulator.api_key, "run-that-never-was")
    assert (info.value.status, info.value.code, info.value.message) == (404, "NOT_FOUND", "Run not found")
    assert_keyless(info.value, emulator.api_key)


async def test_invalid_input_carries_details(client: TinyFishClient, emulator: Any) -> None:
    # Our models refuse this before sending; build it unchecked to see the service's answer.
    unchecked = RunRequest.model_construct(url="not-a-url", goal="")
    with pytest.raises(InvalidInputError) as info:
        await client.run_async(emulator.api_key, unchecked)
    error = info.value
    assert (error.status, error.code) == (400, "INVALID_INPUT")
    paths = {tuple(item["path"]) for item in error.details}
    assert {("url",), ("goal",)} <= paths
    assert all(item.get("code") and item.get("message") for item in error.details)
    assert "url:" in str(error) and "goal:" in str(error)
    assert_keyless(error, emulator.api_key)


async def test_rate_limit_exceeded(make_client: ClientFactory, emulator: Any) -> None:
    async with make_client(max_retries=0) as client:
        for _ in range(5):  # the emulator allows 5 searches a minute, like the service
            await client.search(emulator.api_key, SearchParams(query="tinyfish"))
        with pytest.raises(RateLimitError) as info:
            await client.search(emulator.api_key, SearchParams(query="tinyfish"))
    assert (info.value.status, info.value.code) == (429, "RATE_LIMIT_EXCEEDED")
    assert "wait" in info.value.hint
    assert_keyless(info.value, emulator.api_key)


async def test_internal_error(make_client: ClientFactory, emulator: Any) -> None:
    emulator.fault("/v1/runs/*", method="GET", status=500)
    async with make_client(max_retries=0) as client:
        with pytest.raises(ServerError) as info:
            await client.get_run(emulator.api_key, "run-1")
    assert (info.value.status, info.value.code) == (500, "INTERNAL_ERROR")
    assert isinstance(info.value, APIError) and info.value.body
    assert_keyless(info.value, emulator.api_key)


async def test_unreachable_service_is_a_connection_error(emulator: Any) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        base_url=f"http://127.0.0.1:{port}",
        max_retries=2,
        retry_initial_backoff=0.001,
        retry_max_backoff=0.002,
    )
    async with TinyFishClient(settings) as client:
        with pytest.raises(UpstreamConnectionError) as info:
            await client.run_async(emulator.api_key, REQUEST)
    assert info.value.status is None and info.value.code == "CONNECTION_ERROR"
    assert_keyless(info.value, emulator.api_key)
