"""Browserbase sessions and contexts, as the emulator plays them (under ``/browserbase/v1``).

With Chromium installed a session is a real headless browser (``chromium.py``): its
``connectUrl`` is the browser's DevTools WebSocket. A context is a profile directory:
a session created with ``browserSettings.context`` and ``persist: true`` runs on that
directory, so cookies and storage it leaves behind are there for the next session with
the same context; without ``persist`` it runs on a copy, thrown away after.

A session ends when its ``timeout`` (seconds, times ``time_scale``) has passed
(TIMED_OUT), when a client sends CDP ``Browser.close`` (COMPLETED), or on
``POST /v1/sessions/{id}`` with ``status: REQUEST_RELEASE`` (COMPLETED): the browser is
asked to close (so it writes its profile) before it is killed. Navigations seen in its
pages become its logs and recording (both bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .chromium import Browser, Browsers, ChromiumStartError
from .wire import iso, now

__all__ = ["REGIONS", "BBContext", "BBSession", "BBState"]

log = logging.getLogger(__name__)

REGIONS = ("us-west-2", "us-east-1", "eu-central-1", "ap-southeast-1")
STATUSES = ("PENDING", "RUNNING", "ERROR", "TIMED_OUT", "COMPLETED")
DEFAULT_TIMEOUT = 300  # the project's defaultTimeout
MAX_EVENTS = 500  # log and recording entries kept per session
RELEASE_WAIT = 5.0  # seconds a released browser gets to close by itself (and write its profile)


@dataclass
class BBContext:
    id: str
    project_id: str
    directory: str
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "projectId": self.project_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass
class BBSession:
    id: str
    project_id: str
    region: str
    keep_alive: bool
    timeout: int
    connect_url: str
    context_id: str | None = None
    persist: bool = False
    user_metadata: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    ended_at: datetime | None = None
    status: str = "RUNNING"
    browser: Browser | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    recording: list[dict[str, Any]] = field(default_factory=list)
    scratch: str | None = None  # a profile copy to remove when the session ends
    seen: dict[str, str] = field(default_factory=dict)  # page target id -> the last URL noted

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.timeout)

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "projectId": self.project_id,
            "startedAt": iso(self.created_at),
            "endedAt": iso(self.ended_at),
            "expiresAt": iso(self.expires_at),
            "status": self.status,
            "proxyBytes": 0,
            "keepAlive": self.keep_alive,
            "contextId": self.context_id,
            "region": self.region,
            "userMetadata": self.user_metadata or {},
        }
        return {name: value for name, value in body.items() if value is not None}

    def note(self, url: str, target_id: str, page: int) -> None:
        """A navigation seen in a page: one log entry and one recording (rrweb Meta) event."""
        stamp = int(time.time() * 1000)
        if len(self.logs) < MAX_EVENTS:
            params = {"url": url, "frameId": target_id}
            self.logs.append(
                {
                    "method": "Page.navigate",
                    "pageId": page,
                    "sessionId": self.id,
                    "frameId": target_id,
                    "loaderId": "",
                    "timestamp": stamp,
                    "request": {"timestamp": stamp, "params": params, "rawBody": json.dumps(params)},
                    "response": {"timestamp": stamp, "result": {"frameId": target_id}, "rawBody": "{}"},
                }
            )
        if len(self.recording) < MAX_EVENTS:
            self.recording.append(
                {"sessionId": self.id, "timestamp": stamp, "type": 4, "data": {"href": url}}
            )


class BBState:
    """Every Browserbase session and context of one emulator; contexts live under one temporary root."""

    def __init__(self) -> None:
        self.sessions: dict[str, BBSession] = {}
        self.contexts: dict[str, BBContext] = {}
        self._root: str | None = None

    def new_context(self, project_id: str) -> BBContext:
        if self._root is None:
            self._root = tempfile.mkdtemp(prefix="tinyfish-emulator-bb-contexts-")
        context_id = str(uuid.uuid4())
        directory = os.path.join(self._root, context_id)
        os.makedirs(directory)
        context = BBContext(id=context_id, project_id=project_id, directory=directory)
        self.contexts[context_id] = context
        return context

    def delete_context(self, context_id: str) -> None:
        context = self.contexts.pop(context_id)
        shutil.rmtree(context.directory, ignore_errors=True)

    def in_use(self, context_id: str) -> bool:
        return any(
            s.context_id == context_id and s.persist and s.ended_at is None for s in self.sessions.values()
        )

    async def start(self, session: BBSession, browsers: Browsers | None, time_scale: float) -> None:
        """Start the session's browser (with Chromium) and its end-of-life timer."""
        if browsers is not None:
            profile: str | None = None
            if session.context_id is not None:
                source = self.contexts[session.context_id].directory
                if session.persist:
                    profile = source
                else:
                    session.scratch = profile = tempfile.mkdtemp(prefix="tinyfish-emulator-bb-copy-")
                    shutil.copytree(
                        source, profile, dirs_exist_ok=True, ignore=shutil.ignore_patterns("Singleton*")
                    )
            try:
                session.browser = await browsers.start(None, profile=profile)
            except (ChromiumStartError, OSError):
                if session.scratch:
                    shutil.rmtree(session.scratch, ignore_errors=True)
                raise
            session.connect_url = session.browser.ws_url
            loop = asyncio.get_running_loop()
            session.tasks.append(loop.create_task(self._follow(session, browsers), name="bb-follow"))
        loop = asyncio.get_running_loop()
        session.tasks.append(
            loop.create_task(self._expire(session, browsers, session.timeout * time_scale), name="bb-expire")
        )

    async def _expire(self, session: BBSession, browsers: Browsers | None, after: float) -> None:
        await asyncio.sleep(after)
        await self.end(session, browsers, "TIMED_OUT")

    async def _follow(self, session: BBSession, browsers: Browsers) -> None:
        """Note navigations; a browser that exits by itself (CDP Browser.close) completes the session."""
        browser = session.browser
        assert browser is not None
        while session.ended_at is None:
            await asyncio.sleep(0.2)
            if not browser.alive():
                await self.end(session, browsers, "COMPLETED")
                return
            await _look(session, browser)

    async def end(self, session: BBSession, browsers: Browsers | None, status: str) -> None:
        """End a session once: let its browser close (writing its profile), then stop it."""
        if session.ended_at is not None:
            return
        session.ended_at = session.updated_at = now()
        session.status = status
        browser = session.browser
        if browser is not None and browsers is not None:
            if browser.alive():
                await _look(session, browser)  # what it shows now is in its logs, however fast the release
                await _close_gracefully(browser)
            browsers.stop(browser)
        if session.scratch:
            shutil.rmtree(session.scratch, ignore_errors=True)
        current = asyncio.current_task()
        for task in session.tasks:
            if task is not current and not task.done():
                task.cancel()

    def close_all(self) -> None:
        """The emulator's shutdown: stop every browser's tasks and remove every context."""
        for session in self.sessions.values():
            for task in session.tasks:
                task.cancel()
            if session.browser is not None:
                session.browser.kill()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


async def _look(session: BBSession, browser: Browser) -> None:
    """Note the navigations the session's pages show now."""
    try:
        targets = await browser.targets()
    except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
        return  # exiting, or busy: the next look tells
    pages = [t for t in targets if t.get("type") == "page"]
    for index, target in enumerate(pages):
        url, target_id = str(target.get("url", "")), str(target.get("id", ""))
        if url not in ("", "about:blank") and session.seen.get(target_id) != url:
            session.seen[target_id] = url
            session.note(url, target_id, index)


async def _close_gracefully(browser: Browser) -> None:
    """CDP ``Browser.close``, then wait (bounded) for the process to exit, so it flushes its profile."""
    from websockets.asyncio.client import connect

    with contextlib.suppress(Exception):
        async with asyncio.timeout(RELEASE_WAIT):
            async with connect(browser.ws_url, proxy=None, max_size=None, ping_interval=None) as socket:
                await socket.send(json.dumps({"id": 1, "method": "Browser.close"}))
                with contextlib.suppress(Exception):
                    async for _ in socket:
                        pass
            await asyncio.to_thread(browser.process.wait, RELEASE_WAIT)


def downloads_zip(session: BBSession) -> bytes:
    """The files the session's browser downloaded, as one zip (empty when there are none)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        folder = os.path.join(session.browser.profile, "Downloads") if session.browser else None
        if folder and os.path.isdir(folder):
            for name in sorted(os.listdir(folder))[:100]:
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    archive.write(path, arcname=name)
    return buffer.getvalue()
