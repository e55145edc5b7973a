"""The emulator's memory: runs (with their event logs), browser sessions, usage, requests.

Everything lives on one event loop (uvicorn's), so plain data structures are safe.
A run's lifecycle is driven by its own background task (see ``agent.py``); readers
such as SSE streams and the blocking ``/run`` wait on ``RunRecord.changed``, a pulse
that is replaced each time the run changes, so a dropped stream never stops a run.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .faults import FaultBook
from .fixtures import Fixture
from .scenarios import Scenario
from .wire import iso, now

__all__ = ["TERMINAL", "BrowserRecord", "RunRecord", "Store", "VaultState", "key_suffix"]

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


def key_suffix(key: str | None) -> str | None:
    """The only part of a key the emulator ever reports: its last four characters."""
    return None if not key else key[-4:]


def _tiny_png(seed: int) -> str:
    """A valid 1x1 PNG data URL whose colour depends on ``seed`` (a stand-in screenshot)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    pixel = bytes([0, (seed * 40) % 256, (seed * 90) % 256, 200])
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(pixel))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


@dataclass
class RunRecord:
    run_id: str
    seq: int
    owner: str
    origin: str  # "run" | "async" | "sse" | "batch": only "run" cannot be cancelled
    goal: str
    url: str
    body: dict[str, Any]
    scenario: Scenario
    base_url: str
    created_at: datetime = field(default_factory=now)
    status: str = "PENDING"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_requested: bool = False
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    streaming_url: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    # ------------------------------------------------------------------ changes
    def _pulse(self) -> None:
        old, self.changed = self.changed, asyncio.Event()
        old.set()

    def emit(self, kind: str, **fields: Any) -> None:
        event = {"type": kind, "run_id": self.run_id, "timestamp": iso(now()), **fields}
        self.events.append(event)
        self._pulse()

    def start(self) -> None:
        self.status = "RUNNING"
        self.started_at = now()
        self.streaming_url = f"{self.base_url}/_live/{self.run_id}/stream/0"
        self.emit("STREAMING_URL", streaming_url=self.streaming_url)

    def add_step(self, action: str, duration: float) -> None:
        self.steps.append(
            {
                "id": str(uuid.uuid4()),
                "timestamp": iso(now()),
                "status": "COMPLETED",
                "action": action,
                "screenshot": None,
                "duration": f"{duration:.2f}s",
            }
        )
        self.emit("PROGRESS", purpose=action)

    def finish(self, status: str, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        if self.terminal:
            return
        self.status = status
        self.finished_at = now()
        if status == "CANCELLED":
            self.cancelled_at = self.finished_at
        self.result = result
        self.error = error
        extra: dict[str, Any] = {"status": status, "result": result, "error": error}
        if error is not None:
            extra["help_url"] = error.get("help_url")
            extra["help_message"] = error.get("help_message")
        self.emit("COMPLETE", **extra)

    async def wait_terminal(self) -> None:
        while not self.terminal:
            await self.changed.wait()

    # ------------------------------------------------------------------ wire
    def browser_config(self) -> dict[str, Any]:
        proxy = self.body.get("proxy_config") or {}
        return {
            "proxy_enabled": bool(proxy.get("enabled", bool(proxy))),
            "proxy_country_code": proxy.get("country_code"),
        }

    def to_wire(self, *, screenshots: bool = False) -> dict[str, Any]:
        """The run object of GET /v1/runs/{id}, list rows and batch gets."""
        steps = [dict(step) for step in self.steps]
        if screenshots:
            for index, step in enumerate(steps):
                step["screenshot"] = _tiny_png(index)
        recording = bool((self.body.get("capture_config") or {}).get("recording"))
        return {
            "run_id": self.run_id,
            "status": self.status,
            "goal": self.goal,
            "url": self.url,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "num_of_steps": len(self.steps),
            "result": self.result,
            "error": self.error,
            "streaming_url": self.streaming_url,
            "browser_config": self.browser_config(),
            "video_url": f"{self.base_url}/_live/{self.run_id}/video.mp4"
            if recording and self.terminal
            else None,
            "output_schema": self.body.get("output_schema"),
            "steps": steps,
        }

    def cancel_wire(self, message: str | None) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "cancelled_at": iso(self.cancelled_at),
            "message": message,
        }


@dataclass
class BrowserRecord:
    session_id: str
    owner: str
    url: str | None
    timeout_seconds: int
    base_url: str
    created_at: datetime = field(default_factory=now)
    target_id: str = field(default_factory=lambda: uuid.uuid4().hex.upper()[:32])
    # With Chromium installed: the real browser (a ``chromium.Browser``) and its watcher.
    browser: Any = None
    watcher: asyncio.Task[None] | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None  # "closed" (Browser.close) | "timeout" | "reset"

    def end(self, reason: str) -> None:
        if self.ended_at is None:
            self.ended_at = now()
            self.end_reason = reason

    def stop(self) -> None:
        """Stop the real browser, if any, and its watcher (a reset or the emulator's shutdown)."""
        if self.watcher is not None and not self.watcher.done():
            self.watcher.cancel()
        if self.browser is not None:
            self.browser.kill()
        self.end("reset")


@dataclass
class VaultState:
    """One key's password-manager connections and the items synced from them."""

    connections: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Store:
    runs: dict[str, RunRecord] = field(default_factory=dict)
    sessions: dict[str, BrowserRecord] = field(default_factory=dict)
    faults: FaultBook = field(default_factory=FaultBook)
    requests: list[dict[str, Any]] = field(default_factory=list)
    search_calls: dict[str, list[float]] = field(default_factory=dict)
    search_usage: list[dict[str, Any]] = field(default_factory=list)
    fetch_usage: list[dict[str, Any]] = field(default_factory=list)
    vaults: dict[str, VaultState] = field(default_factory=dict)
    # Fixture pages and search results a test changed (control API), and the product
    # endpoints' own state (monitors, research, profiles, datasets), by product name.
    pages: dict[str, Fixture] = field(default_factory=dict)
    search_extra: list[dict[str, Any]] = field(default_factory=list)
    products: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    # ``/run-sse`` streams open now, and the most open at once since the last reset.
    streams_open: int = 0
    streams_open_max: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def owned_run(self, run_id: str, key: str) -> RunRecord | None:
        """A run is visible only to the key that created it."""
        run = self.runs.get(run_id)
        return run if run is not None and run.owner == key else None

    def reset(self) -> None:
        for run in self.runs.values():
            if run.task is not None and not run.task.done():
                run.task.cancel()
            # Ends any stream or blocking /run still attached to the forgotten run.
            run.finish("CANCELLED", None, None)
        self.runs.clear()
        for session in self.sessions.values():
            session.stop()
        self.sessions.clear()
        self.faults.clear()
        self.requests.clear()
        self.search_calls.clear()
        self.search_usage.clear()
        self.fetch_usage.clear()
        self.vaults.clear()
        self.pages.clear()
        self.search_extra.clear()
        for records in self.products.values():
            for record in records.values() if isinstance(records, dict) else ():
                close = getattr(record, "close", None)
                if close is not None:
                    close()  # stops a product's background work and ends its streams
        self.products.clear()
        self.streams_open_max = self.streams_open
