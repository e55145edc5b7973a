"""The sharded upstream pool: event streams spread over small pools, everything else in one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest

from tinyfish_mcp.upstream._pool import ShardedTransport
from tinyfish_mcp.upstream.client import TinyFishClient
from tinyfish_mcp.upstream.errors import ServerError
from tinyfish_mcp.upstream.models import CompleteEvent, RunRequest, StartedEvent

from .conftest import emulator_settings

SLOW = "https://shop.example.com/?tf_scenario=slow&tf_steps=2&tf_step_delay=0.3"


@pytest.fixture
async def pooled(emulator: Any) -> AsyncIterator[tuple[TinyFishClient, ShardedTransport]]:
    transport = ShardedTransport(shard_size=4, max_shards=3, max_keepalive=10, keepalive_expiry=5.0)
    async with (
        httpx2.AsyncClient(transport=transport, follow_redirects=False) as http,
        TinyFishClient(emulator_settings(emulator), http=http) as client,
    ):
        yield client, transport


async def test_streams_fill_shards_in_turn_and_give_their_place_back(
    pooled: tuple[TinyFishClient, ShardedTransport], emulator: Any
) -> None:
    client, transport = pooled
    started = 0
    all_started = anyio.Event()
    loads_while_open: list[int] = []
    ends: list[str] = []

    async def follow(index: int) -> None:
        nonlocal started
        request = RunRequest(url=SLOW, goal=f"Stream {index}")
        async with client.stream_run(emulator.api_key, request) as events:
            async for event in events:
                if isinstance(event, StartedEvent):
                    started += 1
                    if started == 14:
                        all_started.set()
                    await all_started.wait()
                    if not loads_while_open:
                        loads_while_open.extend(transport.stream_loads)
                        # An ordinary request meanwhile goes through the main pool.
                        run = await client.get_run(emulator.api_key, event.run_id)
                        assert run.run_id == event.run_id
                elif isinstance(event, CompleteEvent):
                    ends.append(event.status)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for index in range(14):
                tg.start_soon(follow, index)

    assert ends == ["COMPLETED"] * 14
    # Three shards of four, then (no fourth shard allowed) the least busy ones take the rest.
    assert len(loads_while_open) == 3
    assert sum(loads_while_open) == 14
    assert max(loads_while_open) - min(loads_while_open) <= 1
    assert transport.stream_loads == [0, 0, 0]


async def test_ordinary_requests_never_open_a_stream_shard(
    pooled: tuple[TinyFishClient, ShardedTransport], emulator: Any
) -> None:
    client, transport = pooled
    for _ in range(5):
        created = await client.run_async(emulator.api_key, RunRequest(url=SLOW, goal="Quick look"))
        await client.get_run(emulator.api_key, created.run_id)
    assert transport.stream_loads == []


async def test_a_stream_refused_by_the_service_gives_its_place_back(
    pooled: tuple[TinyFishClient, ShardedTransport], emulator: Any
) -> None:
    client, transport = pooled
    emulator.fault("/v1/automation/run-sse", status=500, count=10)
    with pytest.raises(ServerError):
        async with client.stream_run(emulator.api_key, RunRequest(url=SLOW, goal="Refused")) as events:
            async for _ in events:
                pass
    assert transport.stream_loads == [0]
