"""The sandbox's live views: a run's streaming_url shows its steps, a real browser's inspector its screen."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from .conftest import run_body, wait_terminal


def _events(client: httpx.Client, url: str, *, until: str) -> list[dict[str, Any]]:
    """The server-sent events of ``url`` up to the first one of type ``until`` (or with key ``until``)."""
    seen: list[dict[str, Any]] = []
    with client.stream("GET", url, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                seen.append(event)
                if event.get("type") == until or until in event:
                    break
    return seen


def test_a_runs_streaming_url_shows_its_steps_as_they_happen(api: httpx.Client) -> None:
    run_id = api.post("/v1/automation/run-async", json=run_body("https://a.example.com/?tf_steps=3")).json()[
        "run_id"
    ]
    run = wait_terminal(api, run_id)

    page = api.get(run["streaming_url"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert f"run {run_id}" in page.text and 'new EventSource("events")' in page.text
    # The page reads the run's event log: every step, then the end.
    events = _events(api, run["streaming_url"].removesuffix("/0") + "/events", until="COMPLETE")
    purposes = [event["purpose"] for event in events if event["type"] == "PROGRESS"]
    assert purposes == [step["action"] for step in run["steps"]]
    assert events[-1]["status"] == "COMPLETED"
    assert api.get(run["streaming_url"].replace(run_id, "no-such-run")).status_code == 404


def test_a_stand_in_sessions_inspector_says_it_has_no_screen(api: httpx.Client) -> None:
    session = api.post("/v1/browser", json={"url": "https://shop.example.com"}).json()
    pages = wait_pages(api, session["base_url"])
    inspector = api.get(pages[0]["devtoolsFrontendUrl"])
    assert inspector.status_code == 200 and "No real browser behind this session" in inspector.text


def wait_pages(client: httpx.Client, base_url: str) -> list[dict[str, Any]]:
    for _ in range(200):
        pages: list[dict[str, Any]] = client.get(f"{base_url}/pages").json()
        if pages and pages[0]["url"] != "about:blank":
            return pages
    raise AssertionError("the session never navigated")


def test_a_real_browsers_inspector_streams_its_screen(chromium_emulator: Any, cookie_site: str) -> None:
    emulator = chromium_emulator
    headers = {"X-API-Key": emulator.api_key}
    with httpx.Client(headers=headers, timeout=20) as client:
        session = client.post(f"{emulator.base_url}/v1/browser", json={"url": f"{cookie_site}/login"}).json()
        pages = wait_pages(client, session["base_url"])
        inspector_url = pages[0]["devtoolsFrontendUrl"]
        assert inspector_url.startswith(session["base_url"] + "/devtools/inspector.html?ws=")
        assert inspector_url.endswith(f"/devtools/page/{pages[0]['id']}")
        inspector = client.get(inspector_url)
        assert inspector.status_code == 200 and 'EventSource("screencast/"' in inspector.text

        frames = _events(client, f"{session['base_url']}/devtools/screencast/{pages[0]['id']}", until="data")
        jpeg = base64.b64decode(frames[-1]["data"])
        assert jpeg[:3] == b"\xff\xd8\xff"  # a JPEG of the page's screen
        # A page that does not exist: the stream says it ended.
        gone = _events(client, f"{session['base_url']}/devtools/screencast/NOPE", until="ended")
        assert gone == [{"ended": True}]
