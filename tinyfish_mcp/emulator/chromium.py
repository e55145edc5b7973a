"""Real headless Chromium browsers behind the emulator's browser sessions.

``find_chromium()`` looks for Debian's ``chromium-headless-shell`` or ``chromium`` (or the
path in ``TINYFISH_EMULATOR_CHROMIUM``). Each session is one :class:`Browser`: its own
process group, a private temporary profile and a DevTools port on 127.0.0.1 chosen by
Chromium itself (port 0, read back from ``DevToolsActivePort``). Its browser WebSocket URL
is the session's ``cdp_url``; ``/json/list`` gives its real targets.

Nothing outlives the emulator: :class:`Browsers` kills every process group it started
on ``close_all()`` (the emulator's shutdown and reset), at interpreter exit, and on
Linux a browser also gets SIGKILL when the thread that started it dies.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Browser", "Browsers", "ChromiumStartError", "find_chromium"]

log = logging.getLogger(__name__)

CANDIDATES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
# Debian's /usr/bin entries are shell wrappers that do not exec; the real binaries live here.
REAL_BINARIES = {
    "chromium-headless-shell": "/usr/lib/chromium/chromium-headless-shell",
    "chromium": "/usr/lib/chromium/chromium",
}
START_TIMEOUT = 15.0
FLAGS = (
    "--headless=new",  # ignored by the headless shell, needed by the full browser
    "--no-sandbox",  # containers and root: the sandbox cannot start there
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class ChromiumStartError(RuntimeError):
    """The browser did not come up (the message says why)."""


def find_chromium() -> str | None:
    """The Chromium executable to use, or None when none is installed."""
    explicit = os.environ.get("TINYFISH_EMULATOR_CHROMIUM", "").strip()
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        real = REAL_BINARIES.get(name)
        if real and os.access(real, os.X_OK):
            return real
        found = shutil.which(name)
        if found:
            return found
    return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGKILL this browser if the thread that started it dies (emulator killed)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _read_endpoint(path: str) -> tuple[int, str] | None:
    """``DevToolsActivePort``: the port on the first line, the browser's socket path on the second."""
    try:
        with open(path, encoding="ascii") as handle:
            lines = handle.read().split()
        return (int(lines[0]), lines[1]) if len(lines) >= 2 else None
    except (OSError, ValueError):
        return None


@dataclass
class Browser:
    """One running Chromium: its process, profile directory and DevTools endpoint."""

    process: subprocess.Popen[bytes]
    profile: str
    port: int
    ws_path: str
    ended: bool = False
    _reaped: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.ws_path}"

    def alive(self) -> bool:
        return not self.ended and self.process.poll() is None

    def kill(self) -> None:
        """Kill the whole process group, reap the leader and remove the profile (idempotent)."""
        self.ended = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        shutil.rmtree(self.profile, ignore_errors=True)
        self._reaped.set()

    async def targets(self) -> list[dict[str, Any]]:
        """``/json/list`` of this browser (page targets and others), as Chromium answers it.

        One plain HTTP/1.1 request: Chromium keeps the connection open, so the body is read
        by its Content-Length, and the socket is closed here.
        """
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 2.0)
        try:
            # Chromium builds the URLs it reports from the Host header.
            writer.write(f"GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await asyncio.wait_for(reader.readexactly(length), 5.0)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        data = json.loads(body or b"[]")
        return data if isinstance(data, list) else []


class Browsers:
    """Starts browsers and kills them all when asked, at exit, or when their parent dies."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._live: dict[int, Browser] = {}
        self._lock = threading.Lock()
        atexit.register(self.close_all)

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [pid for pid, browser in self._live.items() if browser.alive()]

    async def start(self, url: str | None) -> Browser:
        """A new browser on ``url`` (or about:blank); returns once its DevTools port answers."""
        profile = tempfile.mkdtemp(prefix="tinyfish-emulator-chromium-")
        process = self._launch(profile, url)
        browser = Browser(process=process, profile=profile, port=0, ws_path="")
        with self._lock:
            for pid in [pid for pid, old in self._live.items() if old.ended]:
                del self._live[pid]
            self._live[process.pid] = browser
        try:
            browser.port, browser.ws_path = await self._endpoint(browser)
        except BaseException:
            self._forget(browser)
            raise
        return browser

    def _launch(self, profile: str, url: str | None) -> subprocess.Popen[bytes]:
        # fork+exec returns at once; the wait for the browser to be ready is async (_endpoint).
        return subprocess.Popen(  # noqa: S603 - a fixed executable and fixed flags
            [self.executable, *FLAGS, f"--user-data-dir={profile}", url or "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, killed as one
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    async def _endpoint(self, browser: Browser) -> tuple[int, str]:
        path = os.path.join(browser.profile, "DevToolsActivePort")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if browser.process.poll() is not None:
                raise ChromiumStartError(f"{self.executable} exited with status {browser.process.returncode}")
            found = _read_endpoint(path)
            if found is not None:
                return found
            await asyncio.sleep(0.02)
        raise ChromiumStartError(f"{self.executable} did not open its DevTools port in {START_TIMEOUT:.0f} s")

    def _forget(self, browser: Browser) -> None:
        browser.kill()
        with self._lock:
            self._live.pop(browser.pid, None)

    def stop(self, browser: Browser) -> None:
        """End one browser (its inactivity timeout, or a reset)."""
        self._forget(browser)

    def reap(self, browser: Browser) -> None:
        """A browser that exited by itself (``Browser.close``): clean up after it."""
        self._forget(browser)

    def close_all(self) -> None:
        with self._lock:
            browsers = list(self._live.values())
            self._live.clear()
        for browser in browsers:
            browser.kill()


def watch(
    browser: Browser,
    *,
    idle_limit: float,
    on_end: Callable[[str], None],
    interval: float = 0.25,
) -> asyncio.Task[None]:
    """Follow one browser: it ends when it exits, or after ``idle_limit`` seconds in which its
    targets (pages, their URLs and titles) did not change. ``on_end(reason)`` is called once,
    with ``"closed"`` or ``"timeout"``.
    """

    async def follow() -> None:
        last_seen: Any = None
        last_change = time.monotonic()
        step = max(0.02, min(interval, idle_limit / 4))
        while True:
            await asyncio.sleep(step)
            if not browser.alive():
                on_end("closed")
                return
            try:
                targets = await browser.targets()
            except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
                continue  # exiting, or busy: the next round tells
            seen = sorted((t.get("id"), t.get("url"), t.get("title")) for t in targets)
            if seen != last_seen:
                last_seen, last_change = seen, time.monotonic()
            elif time.monotonic() - last_change >= idle_limit:
                on_end("timeout")
                return

    return asyncio.get_running_loop().create_task(follow(), name="chromium-watch")
