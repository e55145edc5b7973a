"""The events of a run-sse stream, typed, with unknown types passed through."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import _Response
from .runs import RunError

# --------------------------------------------------------------------------- SSE events


class _Event(_Response):
    type: str
    timestamp: str | None = None


class StartedEvent(_Event):
    type: Literal["STARTED"]
    run_id: str


class StreamingUrlEvent(_Event):
    type: Literal["STREAMING_URL"]
    run_id: str | None = None
    streaming_url: str


class ProgressEvent(_Event):
    type: Literal["PROGRESS"]
    run_id: str | None = None
    purpose: str = ""


class HeartbeatEvent(_Event):
    type: Literal["HEARTBEAT"]


class CompleteEvent(_Event):
    type: Literal["COMPLETE"]
    run_id: str | None = None
    status: str
    result: Any = None
    error: RunError | None = None
    help_url: str | None = None
    help_message: str | None = None


class UnknownEvent(_Event):
    """An event type this version does not know; passed through, never fatal."""

    data: dict[str, Any] = Field(default_factory=dict)


RunEvent = StartedEvent | StreamingUrlEvent | ProgressEvent | HeartbeatEvent | CompleteEvent | UnknownEvent

_EVENT_TYPES: dict[str, type[_Event]] = {
    "STARTED": StartedEvent,
    "STREAMING_URL": StreamingUrlEvent,
    "PROGRESS": ProgressEvent,
    "HEARTBEAT": HeartbeatEvent,
    "COMPLETE": CompleteEvent,
}


def parse_event(data: dict[str, Any]) -> RunEvent:
    """Turn one decoded SSE ``data:`` object into a typed event.

    The live service has been seen sending camelCase ids (``runId``), which the SDK also
    accepts, so both spellings are read. Unknown types become :class:`UnknownEvent`.
    """
    data = dict(data)
    for camel, snake in (("runId", "run_id"), ("streamingUrl", "streaming_url")):
        if camel in data and snake not in data:
            data[snake] = data.pop(camel)
    kind = str(data.get("type", ""))
    model = _EVENT_TYPES.get(kind)
    if model is None:
        return UnknownEvent(type=kind or "UNKNOWN", timestamp=data.get("timestamp"), data=data)
    return model.model_validate(data)  # type: ignore[return-value]
