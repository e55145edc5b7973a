"""The ``/run-sse`` event stream: a reader of the run's event log, never its driver.

Events are replayed from the run's log in order; while the run is quiet the stream
sends a HEARTBEAT every ``heartbeat_interval``. The stream ends after COMPLETE (which
says CANCELLED when the run was cancelled meanwhile). ``drop_after`` and
``malformed_after`` faults count every data line sent, heartbeats included.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from .faults import Fault
from .state import RunRecord, Store
from .wire import iso, now

__all__ = ["counted_stream", "event_stream", "sse_line"]


def sse_line(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n"


async def event_stream(run: RunRecord, heartbeat_interval: float, fault: Fault | None) -> AsyncIterator[str]:
    drop_after = fault.drop_after if fault else None
    malformed_after = fault.malformed_after if fault else None
    sent = 0
    index = 0

    def counted(line: str) -> list[str]:
        nonlocal sent, malformed_after
        lines = [line]
        sent += 1
        if malformed_after is not None and sent >= malformed_after:
            lines.append("data: {this is not json\n\n")
            malformed_after = None
        return lines

    if malformed_after == 0:
        yield "data: {this is not json\n\n"
        malformed_after = None
    while True:
        while index < len(run.events):
            event = run.events[index]
            index += 1
            if drop_after is not None and sent >= drop_after:
                return
            for line in counted(sse_line(event)):
                yield line
            if event["type"] == "COMPLETE":
                return
        if drop_after is not None and sent >= drop_after:
            return
        waiter = run.changed
        try:
            await asyncio.wait_for(waiter.wait(), heartbeat_interval)
        except TimeoutError:
            for line in counted(sse_line({"type": "HEARTBEAT", "timestamp": iso(now())})):
                yield line


async def counted_stream(store: Store, stream: AsyncIterator[str]) -> AsyncIterator[str]:
    """``stream``, counted in ``store.streams_open`` while a client reads it."""
    store.streams_open += 1
    store.streams_open_max = max(store.streams_open_max, store.streams_open)
    try:
        async for line in stream:
            yield line
    finally:
        store.streams_open -= 1
