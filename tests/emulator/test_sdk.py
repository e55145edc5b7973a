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


def test_hosted_run_arguments_through_the_sdk(
    sdk: TinyFish, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run fields the hosted tools take, sent by the SDK: accepted, recorded and acted on."""
    from tinyfish.agent.types import AgentConfig, CaptureConfig, CursorStyle, ProxyConfig

    monkeypatch.setenv("TF_API_INTEGRATION", "sdk-contract-test")
    queued = sdk.agent.queue(
        goal="g",
        url="https://h.example.com/?tf_steps=3",
        proxy_config=ProxyConfig(enabled=True, country_code="IN"),
        agent_config=AgentConfig(
            mode="strict", cursor_style=CursorStyle.GREEN_POINTER, max_duration_seconds=60
        ),
        capture_config=CaptureConfig(screenshots=True, recording=True, elements=True),
        use_profile=True,
        profile_id=" prof-1 ",
        use_vault=True,
        credential_item_ids=["op://Personal/shop-login"],
    )
    assert queued.run_id and queued.error is None
    body = next(r["body"] for r in emulator.requests() if r["path"] == "/v1/automation/run-async")
    assert body["api_integration"] == "sdk-contract-test" and body["profile_id"] == "prof-1"
    assert body["agent_config"] == {
        "mode": "strict",
        "cursor_style": "green-pointer",
        "max_duration_seconds": 60,
    }
    assert emulator.run(queued.run_id)["api_integration"] == "sdk-contract-test"

    deadline = time.monotonic() + 5
    run = sdk.runs.get(queued.run_id)
    while run.status != SdkRunStatus.COMPLETED and time.monotonic() < deadline:
        time.sleep(0.01)
        run = sdk.runs.get(queued.run_id)
    assert run.status == SdkRunStatus.COMPLETED
    assert run.browser_config is not None and run.browser_config.proxy_country_code == "IN"


def test_max_steps_in_agent_config_stops_the_run(sdk: TinyFish) -> None:
    from tinyfish.agent.types import AgentConfig

    response = sdk.agent.run(
        goal="g", url="https://m.example.com/?tf_steps=5", agent_config=AgentConfig(max_steps=2)
    )
    assert response.status == SdkRunStatus.FAILED
    assert response.error is not None and response.error.code == "MAX_STEPS_EXCEEDED"
    assert response.num_of_steps == 2


def test_the_emulator_refuses_what_the_api_refuses(emulator: Any) -> None:
    from tinyfish import BadRequestError

    raw = httpx.post(
        f"{emulator.base_url}/v1/automation/run-async",
        headers={"X-API-Key": emulator.api_key},
        json={"url": "https://x.example.com", "goal": "g", "agent_config": {"cursor_style": "arrow"}},
    )
    assert raw.status_code == 400
    assert raw.json()["error"]["details"][0]["path"] == ["agent_config", "cursor_style"]
    sdk = TinyFish(api_key=emulator.api_key, base_url=emulator.base_url)
    # The SDK checks profile_id itself; the vault dependency is the API's (here, the emulator's).
    with pytest.raises(BadRequestError) as refused:
        sdk.agent.queue(goal="g", url="https://x.example.com", credential_item_ids=["c1"])
    assert refused.value.code == "INVALID_INPUT"
    sdk.close()
