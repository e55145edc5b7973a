"""The official ``browserbase`` SDK, pointed at the emulator's Browserbase endpoints, parses what it gets."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import httpx
import pytest
from browserbase import AuthenticationError, Browserbase, NotFoundError
from playwright.sync_api import sync_playwright

from tinyfish_mcp.emulator.config import DEFAULT_BROWSERBASE_API_KEY


def sdk_for(emulator: Any) -> Browserbase:
    return Browserbase(api_key=DEFAULT_BROWSERBASE_API_KEY, base_url=f"{emulator.base_url}/browserbase")


@pytest.fixture
def bb(emulator: Any) -> Iterator[Browserbase]:
    client = sdk_for(emulator)
    yield client
    client.close()


def test_create_list_get_debug_release(bb: Browserbase) -> None:
    # This emulator runs time 1000x fast: the longest timeout (21600 s) lasts 21.6 s here.
    created = bb.sessions.create(api_timeout=21600, keep_alive=True, region="eu-central-1")
    assert created.status == "RUNNING" and created.keep_alive and created.region == "eu-central-1"
    assert created.connect_url.startswith("ws")
    assert (created.expires_at - created.created_at).total_seconds() == pytest.approx(21600, abs=1)

    listed = bb.sessions.list(status="RUNNING")
    assert [s.id for s in listed] == [created.id]
    got = bb.sessions.retrieve(created.id)
    assert got.id == created.id and got.status == "RUNNING"

    live = bb.sessions.debug(created.id)
    assert live.debugger_fullscreen_url.startswith("http") and live.ws_url == created.connect_url

    released = bb.sessions.update(created.id, status="REQUEST_RELEASE")
    assert released.status == "COMPLETED" and released.ended_at is not None
    assert bb.sessions.list(status="RUNNING") == []
    assert [s.id for s in bb.sessions.list(status="COMPLETED")] == [created.id]
    again = bb.sessions.update(created.id, status="REQUEST_RELEASE")  # idempotent
    assert again.status == "COMPLETED" and again.ended_at == released.ended_at
    assert bb.sessions.logs.list(created.id) == []


def test_contexts_lifecycle_and_errors(bb: Browserbase, emulator: Any) -> None:
    context = bb.contexts.create()
    assert context.id and context.cipher_algorithm == "AES-256-CBC"
    assert bb.contexts.retrieve(context.id).id == context.id
    session = bb.sessions.create(browser_settings={"context": {"id": context.id, "persist": True}})
    assert session.context_id == context.id
    bb.sessions.update(session.id, status="REQUEST_RELEASE")
    bb.contexts.delete(context.id)
    with pytest.raises(NotFoundError):
        bb.contexts.retrieve(context.id)
    with pytest.raises(NotFoundError):
        bb.sessions.create(browser_settings={"context": {"id": context.id}})
    wrong = Browserbase(api_key="bb_wrong", base_url=f"{emulator.base_url}/browserbase")
    with wrong, pytest.raises(AuthenticationError):
        wrong.sessions.list()
    # The error body is Browserbase's own shape, not TinyFish's.
    answer = httpx.get(f"{emulator.base_url}/browserbase/v1/sessions/nope", headers={"X-BB-API-Key": "bb_x"})
    assert answer.status_code == 401 and set(answer.json()) == {"statusCode", "error", "message"}


def test_fetch_and_search(bb: Browserbase, emulator: Any) -> None:
    page = bb.fetch_api.create(url=f"{emulator.base_url}/_fixtures/article.html")
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    assert "<html" in str(page.content).lower()
    found = bb.search.web(query="TinyFish web agent", num_results=3)
    assert 1 <= len(found.results) <= 3 and found.results[0].url.startswith("https://")
    with pytest.raises(Exception, match="numResults"):
        bb.search.web(query="x", num_results=26)


def test_a_persisted_context_keeps_cookies_across_real_sessions(
    chromium_emulator: Any, cookie_site: str
) -> None:
    with sdk_for(chromium_emulator) as bb:
        context = bb.contexts.create()
        settings: Any = {"context": {"id": context.id, "persist": True}}
        first = bb.sessions.create(browser_settings=settings)
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(first.connect_url)
            page = browser.contexts[0].new_page()
            page.goto(f"{cookie_site}/login")
            browser.close()
        assert bb.sessions.update(first.id, status="REQUEST_RELEASE").status == "COMPLETED"
        logs = bb.sessions.logs.list(first.id)
        assert any(entry.request and "/login" in str(entry.request.params) for entry in logs)
        # The SDK marks recording.retrieve deprecated (warnings are errors here): read it directly.
        api = f"{chromium_emulator.base_url}/browserbase/v1/sessions/{first.id}"
        headers = {"X-BB-API-Key": DEFAULT_BROWSERBASE_API_KEY}
        recording = httpx.get(f"{api}/recording", headers=headers).json()
        assert any("/login" in event["data"]["href"] for event in recording)
        zipped = httpx.get(f"{api}/downloads", headers=headers)
        assert zipfile.ZipFile(BytesIO(zipped.content)).namelist() == []

        second = bb.sessions.create(browser_settings=settings)
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(second.connect_url)
            page = browser.contexts[0].new_page()
            page.goto(f"{cookie_site}/check")
            assert page.inner_text("#seen") == "signed_in=yes"
            browser.close()
        bb.sessions.update(second.id, status="REQUEST_RELEASE")

        fresh = bb.sessions.create()  # no context: a clean profile
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(fresh.connect_url)
            page = browser.contexts[0].new_page()
            page.goto(f"{cookie_site}/check")
            assert page.inner_text("#seen") == ""
            browser.close()
        bb.sessions.update(fresh.id, status="REQUEST_RELEASE")
