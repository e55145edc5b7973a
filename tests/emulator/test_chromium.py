"""Browser sessions that are real headless Chromium processes (skipped without Chromium; CI fails)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
from _browsers import process_exists as exists
from _browsers import require_chromium
from tinyfish import TinyFish
from websockets.sync.client import connect

from tinyfish_mcp.emulator import EmulatorConfig, create_app, serve_in_thread

API_KEY = "sk-tinyfish-emulator"


def wait_until(check: Any, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_the_sdk_creates_a_real_browser_that_browser_close_ends(chromium_emulator: Any) -> None:
    emulator = chromium_emulator
    with TinyFish(api_key=emulator.api_key, base_url=emulator.base_url) as sdk:
        session = sdk.browser.sessions.create(timeout_seconds=300)
    seen = emulator.browser(session.session_id)
    assert seen["real"] and seen["alive"] and exists(seen["pid"])
    assert session.cdp_url.startswith("ws://127.0.0.1:") and "/devtools/browser/" in session.cdp_url

    pages = emulator.http.get(f"{session.base_url}/pages").json()
    assert [page["type"] for page in pages] == ["page"]
    assert pages[0]["webSocketDebuggerUrl"].startswith("ws://127.0.0.1:")

    with connect(session.cdp_url) as socket:
        socket.send(json.dumps({"id": 1, "method": "Target.getTargets"}))
        targets = json.loads(socket.recv(timeout=10))["result"]["targetInfos"]
        assert pages[0]["id"] in {t["targetId"] for t in targets}
        socket.send(json.dumps({"id": 2, "method": "Browser.close"}))
        assert json.loads(socket.recv(timeout=10))["id"] == 2
    assert wait_until(lambda: not exists(seen["pid"]))
    ended = emulator.http.get(f"{session.base_url}/pages")
    assert ended.status_code == 404 and ended.json()["error"]["code"] == "NOT_FOUND"
    assert wait_until(lambda: emulator.browser(session.session_id)["end_reason"] == "closed")
    usage = emulator.http.get(f"{emulator.base_url}/v1/browser/usage", headers={"X-API-Key": API_KEY}).json()
    assert usage["data"][0]["status"] == "completed" and usage["data"][0]["ended_at"]


def test_reset_kills_every_browser(chromium_emulator: Any) -> None:
    emulator = chromium_emulator
    headers = {"X-API-Key": emulator.api_key}
    create = f"{emulator.base_url}/v1/browser"
    sessions = [emulator.http.post(create, json={}, headers=headers).json() for _ in range(2)]
    pids = [emulator.browser(s["session_id"])["pid"] for s in sessions]
    assert all(exists(pid) for pid in pids)
    emulator.reset()
    assert wait_until(lambda: not any(exists(pid) for pid in pids))


def test_inactivity_timeout_really_ends_the_browser_and_shutdown_reaps_the_rest() -> None:
    require_chromium()
    # time_scale 0.01: a 5 s timeout is 50 ms of inactivity; 3600 s is 36 s.
    with (
        serve_in_thread(EmulatorConfig(time_scale=0.01)) as handle,
        httpx.Client(base_url=handle.base_url, headers={"X-API-Key": API_KEY}, timeout=10) as http,
    ):
        short = http.post("/v1/browser", json={"timeout_seconds": 5}).json()
        long = http.post("/v1/browser", json={"timeout_seconds": 3600}).json()
        short_pid = http.get(f"/_emulator/browser/{short['session_id']}").json()["pid"]
        long_pid = http.get(f"/_emulator/browser/{long['session_id']}").json()["pid"]
        assert wait_until(lambda: not exists(short_pid))
        assert http.get(f"/_emulator/browser/{short['session_id']}").json()["end_reason"] == "timeout"
        assert http.get(f"{short['base_url']}/pages").status_code == 404
        assert exists(long_pid)
    assert wait_until(lambda: not exists(long_pid))  # the emulator's shutdown killed it


def test_without_chromium_sessions_are_stand_ins_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYFISH_EMULATOR_CHROMIUM", "/nonexistent/chromium")
    with caplog.at_level(logging.WARNING, logger="tinyfish_mcp.emulator"):
        app = create_app()
    assert app.state.browsers is None
    assert any("no Chromium found" in record.getMessage() for record in caplog.records)
