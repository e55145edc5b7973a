"""Runs management over raw HTTP: list, batch create/get/cancel, cancel, validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import run_body, wait_terminal

SLOW = "https://slow.example.com/?tf_scenario=slow&tf_step_delay=0.05"


def _create(api: httpx.Client, count: int, **extra: Any) -> list[str]:
    return [
        api.post("/v1/automation/run-async", json=run_body(**extra)).json()["run_id"] for _ in range(count)
    ]


def test_list_is_newest_first_with_cursor_pages(api: httpx.Client) -> None:
    ids = _create(api, 5)

    first = api.get("/v1/runs", params={"limit": 2}).json()
    assert [run["run_id"] for run in first["data"]] == ids[::-1][:2]
    assert first["pagination"]["total"] == 5
    assert first["pagination"]["has_more"] is True
    seen = [run["run_id"] for run in first["data"]]
    cursor = first["pagination"]["next_cursor"]
    while cursor:
        page = api.get("/v1/runs", params={"limit": 2, "cursor": cursor}).json()
        assert page["pagination"]["total"] == 5
        seen += [run["run_id"] for run in page["data"]]
        cursor = page["pagination"]["next_cursor"]
        assert page["pagination"]["has_more"] is bool(cursor)
    assert seen == ids[::-1]


def test_list_ascending_and_default_limit(api: httpx.Client) -> None:
    ids = _create(api, 3)

    page = api.get("/v1/runs", params={"sort_direction": "asc"}).json()

    assert [run["run_id"] for run in page["data"]] == ids
    assert page["pagination"] == {"total": 3, "next_cursor": None, "has_more": False}


def test_list_filters_by_status_goal_and_dates(api: httpx.Client) -> None:
    done = api.post("/v1/automation/run", json=run_body(goal="Read the LinkedIn profile")).json()["run_id"]
    slow = api.post("/v1/automation/run-async", json=run_body(SLOW, goal="Watch prices")).json()["run_id"]
    created = api.get(f"/v1/runs/{done}").json()["created_at"]

    by_status = api.get("/v1/runs", params={"status": "COMPLETED"}).json()["data"]
    assert [run["run_id"] for run in by_status] == [done]
    by_goal = api.get("/v1/runs", params={"goal": "linkedin"}).json()["data"]
    assert [run["run_id"] for run in by_goal] == [done]
    after = api.get("/v1/runs", params={"created_after": created}).json()["data"]
    assert [run["run_id"] for run in after] == [slow]
    before = api.get("/v1/runs", params={"created_before": "2000-01-01T00:00:00Z"}).json()
    assert before["data"] == [] and before["pagination"]["total"] == 0
    api.post(f"/v1/runs/{slow}/cancel")


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": 0}, ["limit"]),
        ({"limit": 101}, ["limit"]),
        ({"limit": "many"}, ["limit"]),
        ({"status": "DONE"}, ["status"]),
        ({"sort_direction": "up"}, ["sort_direction"]),
        ({"created_after": "yesterday"}, ["created_after"]),
        ({"cursor": "not-a-cursor"}, ["cursor"]),
    ],
)
def test_list_rejects_bad_parameters(api: httpx.Client, params: dict[str, Any], path: list[str]) -> None:
    response = api.get("/v1/runs", params=params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert [detail["path"] for detail in error["details"]] == [path]


def test_cancel_semantics_are_idempotent(api: httpx.Client, emulator: Any) -> None:
    [run_id] = _create(api, 1, url=SLOW)

    first = api.post(f"/v1/runs/{run_id}/cancel").json()
    assert first["status"] == "CANCELLED"
    assert first["message"] is None
    assert first["cancelled_at"]
    again = api.post(f"/v1/runs/{run_id}/cancel").json()
    assert again == {**first, "message": "Run already cancelled"}
    run = api.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "CANCELLED" and run["finished_at"]
    assert emulator.run(run_id)["cancel_requested"] is True


def test_cancel_of_a_finished_run_reports_it(api: httpx.Client, emulator: Any) -> None:
    [run_id] = _create(api, 1)
    wait_terminal(api, run_id)

    result = api.post(f"/v1/runs/{run_id}/cancel").json()

    assert result == {
        "run_id": run_id,
        "status": "COMPLETED",
        "cancelled_at": None,
        "message": "Run already finished",
    }
    assert emulator.run(run_id)["cancel_requested"] is False


def test_runs_from_sync_endpoint_cannot_be_cancelled(api: httpx.Client) -> None:
    run_id = api.post("/v1/automation/run", json=run_body()).json()["run_id"]

    response = api.post(f"/v1/runs/{run_id}/cancel")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"
    assert "/run-async" in response.json()["error"]["message"]


def test_run_batch_creates_all_runs(api: httpx.Client) -> None:
    body = {"runs": [run_body(goal=f"goal {i}") for i in range(3)]}

    response = api.post("/v1/automation/run-batch", json=body)

    assert response.status_code == 200
    created = response.json()
    assert created["error"] is None
    assert len(created["run_ids"]) == 3
    goals = [wait_terminal(api, run_id)["goal"] for run_id in created["run_ids"]]
    assert goals == ["goal 0", "goal 1", "goal 2"]


def test_run_batch_is_atomic(api: httpx.Client) -> None:
    body = {"runs": [run_body(), run_body(goal=""), run_body(url="not a url")]}

    response = api.post("/v1/automation/run-batch", json=body)

    assert response.status_code == 400
    paths = [detail["path"] for detail in response.json()["error"]["details"]]
    assert paths == [["runs", 1, "goal"], ["runs", 2, "url"]]
    assert api.get("/v1/runs").json()["pagination"]["total"] == 0


@pytest.mark.parametrize("count", [0, 101])
def test_run_batch_size_limits(api: httpx.Client, count: int) -> None:
    response = api.post("/v1/automation/run-batch", json={"runs": [run_body()] * count})

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["path"] == ["runs"]


def test_runs_batch_get_splits_found_and_not_found(api: httpx.Client, emulator: Any) -> None:
    mine = _create(api, 2)
    theirs = api.post(
        "/v1/automation/run-async", json=run_body(), headers={"X-API-Key": emulator.other_key}
    ).json()["run_id"]

    result = api.post("/v1/runs/batch", json={"run_ids": [*mine, theirs, "missing"]}).json()

    assert [run["run_id"] for run in result["data"]] == mine
    assert result["not_found"] == [theirs, "missing"]


def test_runs_batch_cancel(api: httpx.Client) -> None:
    slow = _create(api, 1, url=SLOW)[0]
    finished = api.post("/v1/automation/run-async", json=run_body()).json()["run_id"]
    wait_terminal(api, finished)

    result = api.post("/v1/runs/batch/cancel", json={"run_ids": [slow, finished, "nope"]}).json()

    by_id = {entry["run_id"]: entry for entry in result["data"]}
    assert by_id[slow]["status"] == "CANCELLED" and by_id[slow]["message"] is None
    assert by_id[finished]["message"] == "Run already finished"
    assert result["not_found"] == ["nope"]
    again = api.post("/v1/runs/batch/cancel", json={"run_ids": [slow]}).json()
    assert again["data"][0]["message"] == "Run already cancelled"


@pytest.mark.parametrize("path", ["/v1/runs/batch", "/v1/runs/batch/cancel"])
@pytest.mark.parametrize("ids", [[], ["x"] * 101, "abc", [1, 2]])
def test_batch_id_lists_are_validated(api: httpx.Client, path: str, ids: Any) -> None:
    response = api.post(path, json={"run_ids": ids})

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["path"] == ["run_ids"]


@pytest.mark.parametrize(
    ("override", "path", "code"),
    [
        ({"url": "example.com/no-scheme"}, ["url"], "invalid_string"),
        ({"url": None}, ["url"], "invalid_type"),
        ({"goal": "   "}, ["goal"], "too_small"),
        ({"goal": None}, ["goal"], "invalid_type"),
        ({"browser_profile": "turbo"}, ["browser_profile"], "invalid_value"),
        (
            {"proxy_config": {"enabled": True, "country_code": "usa"}},
            ["proxy_config", "country_code"],
            "invalid_string",
        ),
        ({"proxy_config": {"enabled": True, "type": "custom"}}, ["proxy_config", "url"], "custom"),
        ({"proxy_config": {"type": "socks"}}, ["proxy_config", "type"], "invalid_value"),
        ({"credential_item_ids": ["op://a/b"]}, ["credential_item_ids"], "custom"),
        ({"profile_id": "p1"}, ["profile_id"], "custom"),
        ({"webhook_url": "http://hooks.example.com/x"}, ["webhook_url"], "invalid_string"),
        ({"agent_config": {"max_steps": 0}}, ["agent_config", "max_steps"], "too_small"),
        ({"agent_config": {"max_steps": 501}}, ["agent_config", "max_steps"], "too_big"),
        ({"agent_config": {"mode": "wild"}}, ["agent_config", "mode"], "invalid_value"),
        ({"agent_config": {"cursor_style": "arrow"}}, ["agent_config", "cursor_style"], "invalid_value"),
        (
            {"agent_config": {"max_duration_seconds": 0}},
            ["agent_config", "max_duration_seconds"],
            "too_small",
        ),
        ({"profile_id": "  ", "use_profile": True}, ["profile_id"], "invalid_type"),
        ({"api_integration": 7}, ["api_integration"], "invalid_type"),
        ({"capture_config": {"screenshots": "yes"}}, ["capture_config", "screenshots"], "invalid_type"),
        ({"output_schema": "a string"}, ["output_schema"], "invalid_type"),
    ],
)
@pytest.mark.parametrize("endpoint", ["run", "run-async", "run-sse"])
def test_run_validation_errors(
    api: httpx.Client, endpoint: str, override: dict[str, Any], path: list[str], code: str
) -> None:
    response = api.post(f"/v1/automation/{endpoint}", json={**run_body(), **override})

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("INVALID_INPUT", "Validation failed")
    assert [(d["path"], d["code"]) for d in error["details"]] == [(path, code)]
    assert all(d["message"] for d in error["details"])


def test_valid_optional_fields_are_accepted(api: httpx.Client) -> None:
    body = run_body(
        browser_profile="stealth",
        proxy_config={
            "enabled": True,
            "type": "custom",
            "url": "http://proxy.example.com:8080",
            "username": "u",
        },
        use_vault=True,
        credential_item_ids=["op://Personal/shop-login"],
        use_profile=True,
        profile_id="prof-1",
        webhook_url="https://hooks.example.com/tf",
        agent_config={"mode": "strict", "max_steps": 50, "max_duration_seconds": 60},
        capture_config={"screenshots": True, "recording": True},
    )

    result = api.post("/v1/automation/run", json=body).json()

    assert result["status"] == "COMPLETED"
    assert api.get(f"/v1/runs/{result['run_id']}").json()["video_url"].endswith(".mp4")


def test_body_that_is_not_json_is_invalid_input(api: httpx.Client) -> None:
    response = api.post(
        "/v1/automation/run-async", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"
