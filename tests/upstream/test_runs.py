"""Agent and runs endpoints, end to end against the emulator over loopback HTTP."""

from __future__ import annotations

from typing import Any

import anyio

from tinyfish_mcp.upstream.client import TinyFishClient
from tinyfish_mcp.upstream.errors import InvalidInputError, NotFoundError
from tinyfish_mcp.upstream.models import (
    AgentConfig,
    ListRunsParams,
    ProxyConfig,
    Run,
    RunBatchRequest,
    RunRequest,
)

SHOP = "https://shop.example.com/"


def _req(query: str = "", **fields: Any) -> RunRequest:
    url = f"{SHOP}?{query}" if query else SHOP
    return RunRequest(url=url, goal="Find the price of the blue mug", **fields)


async def _wait_terminal(client: TinyFishClient, key: str, run_id: str) -> Run:
    with anyio.fail_after(10):
        while True:
            run = await client.get_run(key, run_id)
            if run.is_terminal:
                return run
            await anyio.sleep(0.02)


async def test_sync_run_completes_with_a_result(client: TinyFishClient, emulator: Any) -> None:
    response = await client.run(emulator.api_key, _req("tf_steps=2"))
    assert response.status == "COMPLETED"
    assert response.run_id
    assert isinstance(response.result, dict) and "title" in response.result
    assert response.num_of_steps == 2
    [seen] = emulator.requests()
    assert (seen["method"], seen["path"]) == ("POST", "/v1/automation/run")
    assert seen["key_suffix"] == emulator.api_key[-4:]


async def test_run_body_is_sent_exactly_with_unset_fields_left_out(
    client: TinyFishClient, emulator: Any
) -> None:
    schema = {"type": "object", "properties": {"price": {"type": "string"}}, "required": ["price"]}
    request = _req(
        browser_profile="stealth",
        proxy_config=ProxyConfig(country_code="GB"),
        output_schema=schema,
        agent_config=AgentConfig(mode="strict", max_steps=20),
    )
    created = await client.run_async(emulator.api_key, request)
    assert created.run_id and created.error is None
    [seen] = emulator.requests()
    assert seen["body"] == {
        "url": SHOP,
        "goal": "Find the price of the blue mug",
        "browser_profile": "stealth",
        "proxy_config": {"enabled": True, "country_code": "GB"},
        "output_schema": schema,
        "agent_config": {"mode": "strict", "max_steps": 20},
        "api_integration": "tinyfish-mcp",
    }
    run = await _wait_terminal(client, emulator.api_key, created.run_id)
    assert run.status == "COMPLETED"
    assert run.output_schema == schema
    assert isinstance(run.result, dict) and "price" in run.result


async def test_async_run_is_polled_to_completion_with_steps(client: TinyFishClient, emulator: Any) -> None:
    created = await client.run_async(emulator.api_key, _req("tf_steps=3"))
    assert created.run_id is not None
    run = await _wait_terminal(client, emulator.api_key, created.run_id)
    assert run.status == "COMPLETED"
    assert run.num_of_steps == 3 and len(run.steps) == 3
    assert run.goal == "Find the price of the blue mug"
    assert all(step.screenshot is None for step in run.steps)
    with_shots = await client.get_run(emulator.api_key, created.run_id, screenshots=True)
    assert all(step.screenshot for step in with_shots.steps)
    gets = [r for r in emulator.requests() if r["method"] == "GET"]
    assert gets[-1]["query"] == {"screenshots": "base64"}
    assert all(r["query"] == {} for r in gets[:-1])


async def test_failed_run_reports_code_and_category(client: TinyFishClient, emulator: Any) -> None:
    response = await client.run(emulator.api_key, _req("tf_scenario=failed&tf_error=SITE_BLOCKED"))
    assert response.status == "FAILED"
    assert response.error is not None
    assert (response.error.code, response.error.category) == ("SITE_BLOCKED", "AGENT_FAILURE")
    assert response.error.help_message


async def test_batch_create_and_batch_get(client: TinyFishClient, emulator: Any) -> None:
    batch = await client.run_batch(emulator.api_key, RunBatchRequest(runs=[_req(), _req("tf_steps=1")]))
    assert len(batch.run_ids) == 2
    found = await client.get_runs(emulator.api_key, [*batch.run_ids, "run-does-not-exist"])
    assert sorted(run.run_id for run in found.data) == sorted(batch.run_ids)
    assert found.not_found == ["run-does-not-exist"]
    # Runs belong to the key that created them.
    other = await client.get_runs(emulator.other_key, batch.run_ids)
    assert other.data == [] and other.not_found == batch.run_ids


async def test_list_runs_filters_and_pages_with_only_set_params(
    client: TinyFishClient, emulator: Any
) -> None:
    ids = []
    for _ in range(3):
        created = await client.run_async(emulator.api_key, _req("tf_steps=1"))
        assert created.run_id is not None
        ids.append(created.run_id)
    for run_id in ids:
        await _wait_terminal(client, emulator.api_key, run_id)
    first = await client.list_runs(emulator.api_key, ListRunsParams(limit=2, sort_direction="asc"))
    assert [run.run_id for run in first.data] == ids[:2]
    assert first.pagination.total == 3 and first.pagination.has_more
    assert first.pagination.next_cursor is not None
    second = await client.list_runs(
        emulator.api_key,
        ListRunsParams(limit=2, sort_direction="asc", cursor=first.pagination.next_cursor),
    )
    assert [run.run_id for run in second.data] == ids[2:]
    assert not second.pagination.has_more
    none_pending = await client.list_runs(emulator.api_key, ListRunsParams(status="PENDING"))
    assert none_pending.data == []
    lists = [r for r in emulator.requests() if r["path"] == "/v1/runs"]
    assert lists[0]["query"] == {"limit": "2", "sort_direction": "asc"}
    assert lists[2]["query"] == {"status": "PENDING"}


async def test_cancel_is_idempotent_and_batch_cancel_reports_not_found(
    client: TinyFishClient, emulator: Any
) -> None:
    slow = await client.run_async(emulator.api_key, _req("tf_scenario=slow&tf_step_delay=0.5"))
    assert slow.run_id is not None
    first = await client.cancel_run(emulator.api_key, slow.run_id)
    again = await client.cancel_run(emulator.api_key, slow.run_id)
    assert first.status == again.status == "CANCELLED"
    assert again.message == "Run already cancelled"
    assert emulator.run(slow.run_id)["cancel_requested"] is True

    other = await client.run_async(emulator.api_key, _req("tf_scenario=slow&tf_step_delay=0.5"))
    assert other.run_id is not None
    batch = await client.cancel_runs(emulator.api_key, [other.run_id, "run-unknown"])
    assert [(r.run_id, r.status) for r in batch.data] == [(other.run_id, "CANCELLED")]
    assert batch.not_found == ["run-unknown"]
    run = await client.get_run(emulator.api_key, other.run_id)
    assert run.status == "CANCELLED"


async def test_cancelling_a_sync_run_is_invalid_input_with_details(
    client: TinyFishClient, emulator: Any
) -> None:
    done = await client.run(emulator.api_key, _req("tf_steps=1"))
    assert done.run_id is not None
    try:
        await client.cancel_run(emulator.api_key, done.run_id)
    except InvalidInputError as exc:
        assert exc.status == 400 and exc.details
        assert "run-async" in str(exc)
    else:
        raise AssertionError("cancelling a synchronous run must fail")


async def test_another_keys_run_is_not_found(client: TinyFishClient, emulator: Any) -> None:
    created = await client.run_async(emulator.api_key, _req())
    assert created.run_id is not None
    try:
        await client.get_run(emulator.other_key, created.run_id)
    except NotFoundError as exc:
        assert (exc.status, exc.code) == (404, "NOT_FOUND")
    else:
        raise AssertionError("another key must not see the run")
