"""The official ``tinyfish`` SDK, pointed at the emulator, parses everything it sends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tinyfish import (
    CompleteEvent,
    HeartbeatEvent,
    ProgressEvent,
    StartedEvent,
    StreamingUrlEvent,
    TinyFish,
)
from tinyfish import RunStatus as SdkRunStatus


@pytest.fixture
def sdk(emulator: Any) -> Iterator[TinyFish]:
    client = TinyFish(api_key=emulator.api_key, base_url=emulator.base_url)
    yield client
    client.close()


def test_sync_run(sdk: TinyFish) -> None:
    response = sdk.agent.run(goal="Find the prices", url="https://shop.example.com/?tf_steps=2")

    assert response.status == SdkRunStatus.COMPLETED
    assert response.num_of_steps == 2
    assert response.result is not None and response.result["title"] == "Results from shop.example.com"
    assert response.started_at is not None and response.finished_at is not None


def test_sync_failed_run_carries_a_typed_error(sdk: TinyFish) -> None:
    response = sdk.agent.run(
        goal="g", url="https://x.example.com/?tf_scenario=failed&tf_error=INTERNAL_ERROR"
    )

    assert response.status == SdkRunStatus.FAILED
    assert response.error is not None
    assert (response.error.code, response.error.category) == ("INTERNAL_ERROR", "SYSTEM_FAILURE")
    assert response.error.retry_after == 30


def test_queue_then_poll(sdk: TinyFish) -> None:
    queued = sdk.agent.queue(goal="g", url="https://q.example.com/?tf_steps=2", output_schema={
        "type": "object", "properties": {"price": {"type": "number"}}, "required": ["price"],
    })  # fmt: skip
    assert queued.run_id and queued.error is None

    deadline = time.monotonic() + 5
    run = sdk.runs.get(queued.run_id)
    while run.status not in (SdkRunStatus.COMPLETED, SdkRunStatus.FAILED) and time.monotonic() < deadline:
        time.sleep(0.01)
        run = sdk.runs.get(queued.run_id)

    assert run.status == SdkRunStatus.COMPLETED
    assert run.result == {"price": 9.99}
    assert run.output_schema is not None
    assert run.browser_config is not None and run.browser_config.proxy_enabled is False


def test_stream(sdk: TinyFish) -> None:
    events = []
    with sdk.agent.stream(goal="g", url="https://s.example.com/?tf_steps=2&tf_step_delay=0.12") as stream:
        events = list(stream)

    assert isinstance(events[0], StartedEvent)
    assert isinstance(events[1], StreamingUrlEvent)
    assert sum(isinstance(e, ProgressEvent) for e in events) == 2
    assert any(isinstance(e, HeartbeatEvent) for e in events)
    complete = events[-1]
    assert isinstance(complete, CompleteEvent)
    assert complete.status == SdkRunStatus.COMPLETED
    assert complete.result_json is not None and "items" in complete.result_json


def test_stream_then_cancel_over_http(sdk: TinyFish, emulator: Any) -> None:
    url = "https://s.example.com/?tf_scenario=slow&tf_step_delay=0.05"
    with sdk.agent.stream(goal="g", url=url) as stream:
        for event in stream:
            if isinstance(event, ProgressEvent):
                cancelled = httpx.post(
                    f"{emulator.base_url}/v1/runs/{event.run_id}/cancel",
                    headers={"X-API-Key": emulator.api_key},
                ).json()
                assert cancelled["status"] == "CANCELLED"
            last = event

    assert isinstance(last, CompleteEvent)
    assert last.status == SdkRunStatus.CANCELLED
    assert sdk.runs.get(last.run_id).status == SdkRunStatus.CANCELLED


def test_list_runs(sdk: TinyFish) -> None:
    for goal in ("one", "two", "three"):
        sdk.agent.run(goal=goal, url="https://l.example.com/?tf_steps=1")

    first = sdk.runs.list(limit=2)
    assert [run.goal for run in first.data] == ["three", "two"]
    assert first.pagination.total == 3 and first.pagination.has_more
    rest = sdk.runs.list(limit=2, cursor=first.pagination.next_cursor)
    assert [run.goal for run in rest.data] == ["one"]
    assert sdk.runs.list(status=SdkRunStatus.FAILED).pagination.total == 0


def test_fetch(sdk: TinyFish, emulator: Any) -> None:
    response = sdk.fetch.get_contents(
        [f"{emulator.base_url}/_fixtures/article.html", "http://192.168.1.1/"], links=True, image_links=True
    )

    [page] = response.results
    assert page.title == "Tide Pools of the Northern Coast"
    assert page.format == "markdown"
    assert page.text is not None and page.text.startswith("# Tide Pools")
    assert page.links and page.image_links
    assert [error.error for error in response.errors] == ["Invalid or disallowed URL"]


def test_search(sdk: TinyFish) -> None:
    response = sdk.search.query("playwright browser automation", location="GB")

    assert response.query == "playwright browser automation"
    assert response.results[0].site_name
    assert response.total_results == len(response.results) > 0
    assert response.page == 0


def test_browser_session_and_vault(sdk: TinyFish) -> None:
    session = sdk.browser.sessions.create(url="example.com")
    assert session.session_id.startswith("br-")

    items = sdk.vault.items.list().items
    assert items[1].has_totp is True and items[1].vault_name == "Work"
    assert sdk.vault.connections.list().connections[0].provider == "1password"


def test_sdk_errors_map_from_the_documented_body(emulator: Any) -> None:
    from tinyfish import AuthenticationError, BadRequestError

    bad_key = TinyFish(api_key="sk-tinyfish-wrong", base_url=emulator.base_url)
    with pytest.raises(AuthenticationError) as info:
        bad_key.runs.list()
    assert info.value.code == "INVALID_API_KEY"
    bad_key.close()

    sdk = TinyFish(api_key=emulator.api_key, base_url=emulator.base_url)
    with pytest.raises(BadRequestError) as bad:
        sdk.agent.run(goal="g", url="not-a-url")
    assert bad.value.code == "INVALID_INPUT"
    sdk.close()
