"""Agent runs over raw HTTP: the three run endpoints, the lifecycle and every scenario."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import run_body, wait_terminal

RUN_KEYS = {
    "run_id", "status", "goal", "url", "created_at", "started_at", "finished_at", "num_of_steps",
    "result", "error", "streaming_url", "browser_config", "video_url", "output_schema", "steps",
}  # fmt: skip


def test_sync_run_completes_with_documented_shape(api: httpx.Client) -> None:
    response = api.post("/v1/automation/run", json=run_body("https://shop.example.com/?tf_steps=4"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"run_id", "status", "started_at", "finished_at", "num_of_steps", "result", "error"}
    assert body["status"] == "COMPLETED"
    assert body["num_of_steps"] == 4
    assert body["error"] is None
    assert body["result"]["title"] == "Results from shop.example.com"
    assert len(body["result"]["items"]) == 3


def test_async_run_moves_through_lifecycle_and_records_steps(api: httpx.Client) -> None:
    created = api.post("/v1/automation/run-async", json=run_body("https://a.example.com/?tf_steps=2"))
    assert created.status_code == 200
    assert created.json()["error"] is None
    run_id = created.json()["run_id"]

    first = api.get(f"/v1/runs/{run_id}").json()
    assert first["status"] in ("PENDING", "RUNNING")
    run = wait_terminal(api, run_id)

    assert set(run) == RUN_KEYS
    assert run["status"] == "COMPLETED"
    assert run["goal"] == "Find the prices"
    assert run["num_of_steps"] == 2
    assert run["streaming_url"].endswith(f"/_live/{run_id}/stream/0")
    assert run["steps"][0]["action"] == "Navigate to https://a.example.com/?tf_steps=2"
    assert all(step["screenshot"] is None and step["status"] == "COMPLETED" for step in run["steps"])
    assert all(step["duration"].endswith("s") for step in run["steps"])
    assert run["created_at"] <= run["started_at"] <= run["finished_at"]


def test_screenshots_base64_attaches_a_data_url_to_each_step(api: httpx.Client) -> None:
    run_id = api.post("/v1/automation/run", json=run_body()).json()["run_id"]

    run = api.get(f"/v1/runs/{run_id}", params={"screenshots": "base64"}).json()

    assert len(run["steps"]) == 3
    assert all(step["screenshot"].startswith("data:image/png;base64,") for step in run["steps"])
    assert api.get(f"/v1/runs/{run_id}", params={"screenshots": "url"}).status_code == 400


def test_pending_scenario_stays_pending_before_running(api: httpx.Client, emulator: Any) -> None:
    run_id = api.post(
        "/v1/automation/run-async", json=run_body("https://p.example.com/?tf_scenario=pending&tf_pending=0.3")
    ).json()["run_id"]

    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "PENDING"
    assert api.get(f"/v1/runs/{run_id}").json()["started_at"] is None
    assert wait_terminal(api, run_id)["status"] == "COMPLETED"


def test_goal_failure_is_completed_with_failure_result(api: httpx.Client) -> None:
    body = api.post(
        "/v1/automation/run", json=run_body("https://x.example.com/?tf_scenario=goal_failure")
    ).json()

    assert body["status"] == "COMPLETED"
    assert body["result"]["status"] == "failure"
    assert "x.example.com" in body["result"]["reason"]


def test_captcha_scenario_mentions_the_block(api: httpx.Client) -> None:
    body = api.post("/v1/automation/run", json=run_body("https://x.example.com/?tf_scenario=captcha")).json()

    assert body["status"] == "COMPLETED"
    assert "CAPTCHA" in body["result"]["reason"]


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("TASK_FAILED", "AGENT_FAILURE"),
        ("SITE_BLOCKED", "AGENT_FAILURE"),
        ("MAX_STEPS_EXCEEDED", "AGENT_FAILURE"),
        ("TIMEOUT", "AGENT_FAILURE"),
        ("INSUFFICIENT_CREDITS", "BILLING_FAILURE"),
        ("INTERNAL_ERROR", "SYSTEM_FAILURE"),
    ],
)
def test_failed_scenario_carries_documented_error(api: httpx.Client, code: str, category: str) -> None:
    url = f"https://x.example.com/?tf_scenario=failed&tf_error={code}&tf_steps=1"
    body = api.post("/v1/automation/run", json=run_body(url)).json()

    assert body["status"] == "FAILED"
    assert body["result"] is None
    error = body["error"]
    assert set(error) == {"code", "message", "category", "retry_after", "help_url", "help_message"}
    assert (error["code"], error["category"]) == (code, category)
    assert error["message"] and error["help_url"].startswith("https://docs.tinyfish.ai/")
    assert (error["retry_after"] is not None) == (category == "SYSTEM_FAILURE")


def test_overlimit_run_fails_with_timeout_at_the_scaled_limit(api: httpx.Client) -> None:
    body = api.post(
        "/v1/automation/run", json=run_body("https://x.example.com/?tf_scenario=overlimit")
    ).json()

    assert body["status"] == "FAILED"
    assert body["error"]["code"] == "TIMEOUT"
    assert body["num_of_steps"] > 3


def test_max_steps_below_scenario_steps_fails(api: httpx.Client) -> None:
    body = run_body("https://x.example.com/?tf_steps=5", agent_config={"max_steps": 2})
    result = api.post("/v1/automation/run", json=body).json()

    assert result["status"] == "FAILED"
    assert result["error"]["code"] == "MAX_STEPS_EXCEEDED"
    assert result["num_of_steps"] == 2


def test_output_schema_shapes_the_result(api: httpx.Client) -> None:
    schema = {
        "type": "object",
        "required": ["products", "count"],
        "properties": {
            "products": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "price": {"type": "number", "minimum": 0},
                        "url": {"type": "string", "format": "uri"},
                        "stock": {"enum": ["in", "out"]},
                    },
                },
            },
            "count": {"type": "integer", "minimum": 1},
            "page": {"$ref": "#/$defs/page"},
        },
        "$defs": {"page": {"type": ["string", "null"]}},
    }
    result = api.post("/v1/automation/run", json=run_body(output_schema=schema)).json()["result"]

    assert set(result) == {"products", "count", "page"}
    assert isinstance(result["count"], int) and result["count"] >= 1
    assert isinstance(result["page"], str)
    product = result["products"][0]
    assert isinstance(product["name"], str) and isinstance(product["price"], float)
    assert product["url"].startswith("https://") and product["stock"] == "in"


def test_run_records_output_schema_and_browser_config(api: httpx.Client) -> None:
    body = run_body(
        output_schema={"type": "object", "properties": {"title": {"type": "string"}}},
        proxy_config={"enabled": True, "type": "tetra", "country_code": "DE"},
    )
    run_id = api.post("/v1/automation/run", json=body).json()["run_id"]
    run = api.get(f"/v1/runs/{run_id}").json()

    assert run["output_schema"] == body["output_schema"]
    assert run["browser_config"] == {"proxy_enabled": True, "proxy_country_code": "DE"}
    assert run["result"] == {"title": "Example title"}


def _events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in response.iter_lines() if line.startswith("data: ")]


def test_sse_stream_sends_events_in_order_with_heartbeats(api: httpx.Client) -> None:
    body = run_body("https://s.example.com/?tf_steps=2&tf_step_delay=0.12")
    with api.stream("POST", "/v1/automation/run-sse", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)

    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["STARTED", "STREAMING_URL"]
    assert kinds[-1] == "COMPLETE"
    assert kinds.count("PROGRESS") == 2
    assert "HEARTBEAT" in kinds
    run_id = events[0]["run_id"]
    assert all(event["run_id"] == run_id for event in events if event["type"] != "HEARTBEAT")
    assert all("timestamp" in event for event in events)
    assert events[-1]["status"] == "COMPLETED"
    assert events[-1]["result"]["title"] == "Results from s.example.com"


def test_sse_complete_of_a_failed_run_carries_help(api: httpx.Client) -> None:
    body = run_body("https://s.example.com/?tf_scenario=failed&tf_error=SITE_BLOCKED&tf_steps=1")
    with api.stream("POST", "/v1/automation/run-sse", json=body) as response:
        complete = _events(response)[-1]

    assert complete["status"] == "FAILED"
    assert complete["error"]["code"] == "SITE_BLOCKED"
    assert complete["help_url"] == complete["error"]["help_url"]
    assert complete["help_message"]


def test_sse_run_cancelled_while_streaming_ends_with_cancelled(api: httpx.Client) -> None:
    body = run_body("https://s.example.com/?tf_scenario=slow&tf_step_delay=0.05")
    with api.stream("POST", "/v1/automation/run-sse", json=body) as response:
        events: list[dict[str, Any]] = []
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(json.loads(line[6:]))
            if events[-1]["type"] == "PROGRESS" and len([e for e in events if e["type"] == "PROGRESS"]) == 1:
                cancelled = api.post(f"/v1/runs/{events[0]['run_id']}/cancel").json()
                assert cancelled["status"] == "CANCELLED"

    assert events[-1]["type"] == "COMPLETE"
    assert events[-1]["status"] == "CANCELLED"
    assert events[-1]["result"] is None


def test_dropped_stream_does_not_stop_the_run(api: httpx.Client) -> None:
    body = run_body("https://s.example.com/?tf_steps=3&tf_step_delay=0.05")
    with api.stream("POST", "/v1/automation/run-sse", json=body) as response:
        lines = response.iter_lines()
        first = json.loads(next(line for line in lines if line.startswith("data: "))[6:])

    run = wait_terminal(api, first["run_id"])
    assert run["status"] == "COMPLETED"
    assert run["num_of_steps"] == 3


def test_unknown_scenario_is_rejected(api: httpx.Client) -> None:
    response = api.post("/v1/automation/run-async", json=run_body("https://x.example.com/?tf_scenario=nope"))

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["path"] == ["url"]


def test_runs_belong_to_their_key(api: httpx.Client, emulator: Any) -> None:
    run_id = api.post("/v1/automation/run-async", json=run_body()).json()["run_id"]
    other = {"X-API-Key": emulator.other_key}

    response = api.get(f"/v1/runs/{run_id}", headers=other)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "NOT_FOUND", "message": "Run not found"}}
    assert api.post(f"/v1/runs/{run_id}/cancel", headers=other).status_code == 404
    assert api.get("/v1/runs", headers=other).json()["data"] == []
    assert emulator.run(run_id)["owner_key_suffix"] == emulator.api_key[-4:]


def test_unknown_run_is_not_found(api: httpx.Client) -> None:
    response = api.get("/v1/runs/does-not-exist")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_streaming_url_is_served(api: httpx.Client) -> None:
    run = api.post("/v1/automation/run", json=run_body()).json()
    streaming_url = api.get(f"/v1/runs/{run['run_id']}").json()["streaming_url"]

    assert run["run_id"] in httpx.get(streaming_url).text
