"""Reading the run-sse event stream into typed events, with httpx-sse.

The stream is a sequence of ``data: {json}`` events: STARTED, STREAMING_URL, PROGRESS
and HEARTBEAT while the run goes on, then one COMPLETE, after which the service ends
the response. What can go wrong, and what the reader does:

* a data line that is not a JSON object: logged as a warning and skipped — one bad
  line must not cost the caller the rest of the run;
* an event type this version does not know: yielded as ``UnknownEvent``;
* a known type with an unreadable shape: logged and skipped, like a bad line;
* the connection breaks, or the response ends before COMPLETE:
  ``UpstreamConnectionError`` (the run itself goes on upstream; poll it by id);
* nothing at all — not even a heartbeat — within the read timeout: ``UpstreamTimeoutError``.

Cancellation (``asyncio.CancelledError``, anyio cancel scopes, ``asyncio.timeout``) is
never caught or translated here: it goes straight through to the caller.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, cast

import httpx2
from httpx_sse import EventSource, ServerSentEvent
from pydantic import ValidationError

from ._http import map_transport_error
from .errors import UpstreamConnectionError, UpstreamProtocolError
from .models import CompleteEvent, RunEvent, parse_event

__all__ = ["check_event_stream", "event_source", "iter_run_events", "sse_messages"]

log = logging.getLogger("tinyfish_mcp.upstream")


def event_source(response: httpx2.Response) -> EventSource:
    """httpx-sse's reader over an httpx2 response.

    httpx-sse is typed for httpx's ``Response``; it reads only the response's headers and
    its byte stream, which httpx2's response (the same API, forked) provides alike.
    """
    return EventSource(cast(Any, response))


def check_event_stream(response: httpx2.Response) -> None:
    """Refuse a 2xx answer that is not an event stream (a proxy page, a JSON body)."""
    content_type = response.headers.get("content-type", "").partition(";")[0].strip()
    if content_type != "text/event-stream":
        raise UpstreamProtocolError(
            f"run-sse answered {content_type or 'without a content type'} instead of text/event-stream",
            status=response.status_code,
        )


async def sse_messages(response: httpx2.Response, *, what: str) -> AsyncGenerator[ServerSentEvent, None]:
    """The SSE messages with data of an open event-stream response, as they arrive.

    Every product's stream (runs, research, datasets) is read through this: a response
    that is not an event stream is refused, a broken connection becomes our error naming
    ``what``, keep-alives and id-only messages are skipped. It ends quietly when the
    connection ends; whether that was too early is the caller's call. Use it under
    ``contextlib.aclosing`` so the response's reader is closed when the caller stops early.
    """
    check_event_stream(response)
    events = event_source(response).aiter_sse()
    try:
        while True:
            try:
                sse = await events.__anext__()
            except StopAsyncIteration:
                return
            except httpx2.HTTPError as exc:
                raise map_transport_error(exc, what=what) from None
            if sse.data.strip():
                yield sse
    finally:
        await events.aclose()


async def iter_run_events(
    response: httpx2.Response, *, what: str = "run-sse"
) -> AsyncGenerator[RunEvent, None]:
    """Yield the typed events of an open run-sse response, ending after COMPLETE."""
    async with aclosing(sse_messages(response, what=f"{what} stream")) as messages:
        async for sse in messages:
            try:
                data = json.loads(sse.data)
            except ValueError:
                log.warning("%s: skipped an event whose data is not JSON (%d chars)", what, len(sse.data))
                continue
            if not isinstance(data, dict):
                log.warning("%s: skipped an event whose data is not a JSON object", what)
                continue
            if "type" not in data and sse.event and sse.event != "message":
                data["type"] = sse.event  # the type may come as the SSE event name instead
            try:
                event = parse_event(data)
            except ValidationError as exc:
                log.warning(
                    "%s: skipped a %s event of unexpected shape (%d problems)",
                    what,
                    data.get("type"),
                    exc.error_count(),
                )
                continue
            yield event
            if isinstance(event, CompleteEvent):
                return
    raise UpstreamConnectionError(f"{what}: the event stream ended before the COMPLETE event")
