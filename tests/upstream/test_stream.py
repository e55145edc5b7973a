"""The run-sse stream: typed events, heartbeats, broken and malformed streams, cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest

from tinyfish_mcp.settings import Settings
from tinyfish_mcp.upstream.client import TinyFishClient
from tinyfish_mcp.upstream.errors import (
    AuthenticationError,
    PermissionDeniedError,
    ServerError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeoutError,
)
from tinyfish_mcp.upstream.models import (
    CompleteEvent,
    HeartbeatEvent,
    ProgressEvent,
    RunEvent,
    RunRequest,
    StartedEvent,
    StreamingUrlEvent,
    UnknownEvent,
)

SHOP = "https://shop.example.com/"


def _req(query: str = "") -> RunRequest:
    return RunRequest(url=f"{SHOP}?{query}" if query else SHOP, goal="Find the opening hours")


async def _collect(client: TinyFishClient, key: str, request: RunRequest) -> list[RunEvent]:
    seen: list[RunEvent] = []
    with anyio.fail_after(10):
        async with client.stream_run(key, request) as events:
            async for event in events:
                seen.append(event)
    return seen


async def test_stream_yields_typed_events_in_order(client: TinyFishClient, emulator: Any) -> None:
    events = await _collect(client, emulator.api_key, _req("tf_steps=3"))
    kinds = [type(e) for e in events if not isinstance(e, HeartbeatEvent)]
    assert kinds == [
        StartedEvent,
        StreamingUrlEvent,
        ProgressEvent,
        ProgressEvent,
        ProgressEvent,
        CompleteEvent,
    ]
    started, complete = events[0], events[-1]
    assert isinstance(started, StartedEvent) and isinstance(complete, CompleteEvent)
    assert complete.run_id == started.run_id
    assert complete.status == "COMPLETED" and isinstance(complete.result, dict)
    assert all(e.purpose for e in events if isinstance(e, ProgressEvent))
    assert all(e.timestamp for e in events)
    [seen] = emulator.requests()
    assert (seen["method"], seen["path"]) == ("POST", "/v1/automation/run-sse")


async def test_heartbeats_arrive_while_the_run_is_quiet(client: TinyFishClient, emulator: Any) -> None:
    events = await _collect(client, emulator.api_key, _req("tf_scenario=slow&tf_steps=2&tf_step_delay=0.2"))
    assert any(isinstance(e, HeartbeatEvent) for e in events)
    assert isinstance(events[-1], CompleteEvent) and events[-1].status == "COMPLETED"


async def test_failed_run_ends_with_a_failed_complete_event(client: TinyFishClient, emulator: Any) -> None:
    events = await _collect(client, emulator.api_key, _req("tf_scenario=failed&tf_error=INTERNAL_ERROR"))
    complete = events[-1]
    assert isinstance(complete, CompleteEvent) and complete.status == "FAILED"
    assert complete.error is not None
    assert (complete.error.code, complete.error.category) == ("INTERNAL_ERROR", "SYSTEM_FAILURE")


async def test_dropped_stream_raises_after_the_events_before_it(
    client: TinyFishClient, emulator: Any
) -> None:
    emulator.fault("/v1/automation/run-sse", drop_after=3)
    seen: list[RunEvent] = []
    with pytest.raises(UpstreamConnectionError) as info:
        async with client.stream_run(emulator.api_key, _req("tf_steps=5")) as events:
            async for event in events:
                seen.append(event)
    assert len(seen) == 3 and isinstance(seen[0], StartedEvent)
    assert "COMPLETE" in str(info.value)
    # The run itself does not depend on the stream: it finishes upstream.
    run_id = seen[0].run_id
    with anyio.fail_after(10):
        while not (run := await client.get_run(emulator.api_key, run_id)).is_terminal:
            await anyio.sleep(0.02)
    assert run.status == "COMPLETED"


async def test_malformed_line_is_skipped_with_a_warning(
    client: TinyFishClient, emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fault("/v1/automation/run-sse", malformed_after=2)
    with caplog.at_level(logging.WARNING, logger="tinyfish_mcp.upstream"):
        events = await _collect(client, emulator.api_key, _req("tf_steps=2"))
    assert isinstance(events[0], StartedEvent) and isinstance(events[-1], CompleteEvent)
    assert sum(isinstance(e, ProgressEvent) for e in events) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not JSON" in warnings[0]
    assert all(emulator.api_key not in r.getMessage() for r in caplog.records)


async def test_error_status_before_streaming_is_typed(client: TinyFishClient, emulator: Any) -> None:
    with pytest.raises(PermissionDeniedError) as denied:
        await _collect(client, emulator.no_credit_key, _req())
    assert denied.value.code == "FORBIDDEN"
    with pytest.raises(AuthenticationError) as missing:
        await _collect(client, "", _req())
    assert missing.value.code == "MISSING_API_KEY"
    emulator.fault("/v1/automation/run-sse", status=503)
    with pytest.raises(ServerError):
        await _collect(client, emulator.api_key, _req())
    assert sum(r["path"] == "/v1/automation/run-sse" for r in emulator.requests()) == 3  # 503: not resent


async def test_a_429_before_streaming_is_retried(client: TinyFishClient, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-sse", status=429)
    events = await _collect(client, emulator.api_key, _req("tf_steps=1"))
    assert isinstance(events[-1], CompleteEvent)
    assert sum(r["path"] == "/v1/automation/run-sse" for r in emulator.requests()) == 2


async def test_leaving_early_closes_the_stream_but_not_the_run(client: TinyFishClient, emulator: Any) -> None:
    async with client.stream_run(emulator.api_key, _req("tf_scenario=slow&tf_step_delay=0.3")) as events:
        async for event in events:
            if isinstance(event, StartedEvent):
                run_id = event.run_id
                break
    run = emulator.run(run_id)
    assert run["status"] in ("PENDING", "RUNNING") and run["cancel_requested"] is False
    # The pool is still healthy after the abandoned stream.
    cancelled = await client.cancel_run(emulator.api_key, run_id)
    assert cancelled.status == "CANCELLED"


async def test_cancelling_the_consumer_propagates_cancellation(client: TinyFishClient, emulator: Any) -> None:
    progressed = asyncio.Event()
    started: list[str] = []

    async def consume() -> None:
        async with client.stream_run(emulator.api_key, _req("tf_scenario=slow&tf_step_delay=0.05")) as events:
            async for event in events:
                if isinstance(event, StartedEvent):
                    started.append(event.run_id)
                if isinstance(event, ProgressEvent):
                    progressed.set()

    task = asyncio.create_task(consume())
    with anyio.fail_after(10):
        await progressed.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Cancelling the reader is not cancelling the run (that is the caller's decision).
    assert emulator.run(started[0])["cancel_requested"] is False
    run = await client.get_run(emulator.api_key, started[0])
    assert run.run_id == started[0]


async def test_an_outer_timeout_stays_a_plain_timeout(client: TinyFishClient, emulator: Any) -> None:
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(0.2):
            await _collect(client, emulator.api_key, _req("tf_scenario=slow&tf_step_delay=0.05"))
    assert not isinstance(info.value, UpstreamError)


# ----------------------------------------------------------------- at the transport seam


class _Stream(httpx2.AsyncByteStream):
    """An event-stream body that may fail after its chunks."""

    def __init__(self, chunks: list[bytes], fail: type[httpx2.TransportError] | None = None) -> None:
        self.chunks, self.fail = chunks, fail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.fail is not None:
            raise self.fail("simulated")


async def _mock_events(stream: _Stream) -> tuple[list[RunEvent], BaseException | None]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    seen: list[RunEvent] = []
    settings = Settings(base_url="http://tinyfish.test", max_retries=0)
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = TinyFishClient(settings, http=http)
        try:
            async with client.stream_run("sk-secret-stream-key", _req()) as events:
                async for event in events:
                    seen.append(event)
        except UpstreamError as exc:
            assert "sk-secret-stream-key" not in str(exc)
            return seen, exc
    return seen, None


async def test_unknown_and_odd_events_are_passed_or_skipped() -> None:
    body = (
        b'data: {"type":"STARTED","runId":"r-1","timestamp":"2025-01-01T00:00:00Z"}\n\n'
        b": a comment line\n\n"
        b'data: {"type":"AGENT_THOUGHT","text":"looking"}\n\n'
        b"data: [1, 2]\n\n"
        b'event: PROGRESS\ndata: {"purpose":"Clicking search"}\n\n'
        b'data: {"type":"STARTED"}\n\n'
        b'data: {"type":"COMPLETE","status":"COMPLETED","result":{"ok":true}}\n\n'
        b'data: {"type":"PROGRESS","purpose":"after the end"}\n\n'
    )
    seen, error = await _mock_events(_Stream([body[:50], body[50:]]))
    assert error is None
    assert [type(e).__name__ for e in seen] == [
        "StartedEvent",
        "UnknownEvent",
        "ProgressEvent",
        "CompleteEvent",
    ]
    assert isinstance(seen[0], StartedEvent) and seen[0].run_id == "r-1"
    unknown = seen[1]
    assert isinstance(unknown, UnknownEvent) and unknown.type == "AGENT_THOUGHT"
    assert unknown.data["text"] == "looking"


async def test_connection_reset_mid_stream_is_a_connection_error() -> None:
    seen, error = await _mock_events(
        _Stream([b'data: {"type":"STARTED","run_id":"r-1"}\n\n'], fail=httpx2.RemoteProtocolError)
    )
    assert [type(e) for e in seen] == [StartedEvent]
    assert isinstance(error, UpstreamConnectionError)


async def test_silence_past_the_read_timeout_is_a_timeout_error() -> None:
    seen, error = await _mock_events(_Stream([b'data: {"type":"HEARTBEAT"}\n\n'], fail=httpx2.ReadTimeout))
    assert [type(e) for e in seen] == [HeartbeatEvent]
    assert isinstance(error, UpstreamTimeoutError)
