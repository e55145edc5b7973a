"""Authentication, credit, the request log, the control API and every fault kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from .conftest import run_body

# (method, path, body) of every API endpoint that needs a key.
ENDPOINTS = [
    ("POST", "/v1/automation/run", run_body()),
    ("POST", "/v1/automation/run-async", run_body()),
    ("POST", "/v1/automation/run-sse", run_body()),
    ("POST", "/v1/automation/run-batch", {"runs": [run_body()]}),
    ("GET", "/v1/runs", None),
    ("GET", "/v1/runs/some-id", None),
    ("POST", "/v1/runs/some-id/cancel", None),
    ("POST", "/v1/runs/batch", {"run_ids": ["a"]}),
    ("POST", "/v1/runs/batch/cancel", {"run_ids": ["a"]}),
    ("POST", "/v1/fetch", {"urls": ["https://example.com/"]}),
    ("GET", "/v1/search?query=python", None),
    ("GET", "/v1/search/usage", None),
    ("POST", "/v1/browser", {}),
    ("GET", "/v1/browser/usage", None),
    ("GET", "/v1/vault/connections", None),
    ("GET", "/v1/vault/items", None),
]
BILLED = {
    "/v1/automation/run": 403,
    "/v1/automation/run-async": 403,
    "/v1/automation/run-sse": 403,
    "/v1/automation/run-batch": 403,
    "/v1/fetch": 403,
    "/v1/search?query=python": 402,
    "/v1/browser": 402,
}


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_missing_key_is_401(emulator: Any, method: str, path: str, body: Any) -> None:
    response = emulator.http.request(method, emulator.base_url + path, json=body)

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "MISSING_API_KEY", "message": "X-API-Key header is required"}
    }


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_unknown_key_is_401(api: httpx.Client, method: str, path: str, body: Any) -> None:
    response = api.request(method, path, json=body, headers={"X-API-Key": "sk-tinyfish-wrong"})

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "INVALID_API_KEY", "message": "The provided API key is invalid"}
    }


@pytest.mark.parametrize(("method", "path", "body"), [e for e in ENDPOINTS if e[1] in BILLED])
def test_no_credit_key_gets_the_documented_credit_error(
    api: httpx.Client, emulator: Any, method: str, path: str, body: Any
) -> None:
    response = api.request(method, path, json=body, headers={"X-API-Key": emulator.no_credit_key})

    status = BILLED[path]
    assert response.status_code == status
    code = "INSUFFICIENT_CREDITS" if status == 402 else "FORBIDDEN"
    assert response.json() == {
        "error": {"code": code, "message": "Insufficient credits or no active subscription"}
    }


def test_no_credit_key_can_still_read(api: httpx.Client, emulator: Any) -> None:
    response = api.get("/v1/runs", headers={"X-API-Key": emulator.no_credit_key})

    assert response.status_code == 200


def test_unknown_route_is_documented_not_found(api: httpx.Client) -> None:
    response = api.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_request_log_keeps_only_the_key_suffix(api: httpx.Client, emulator: Any) -> None:
    api.post("/v1/automation/run-async", json=run_body())
    api.get("/v1/runs", params={"limit": 5})
    emulator.http.get(emulator.base_url + "/v1/runs")

    log = emulator.requests()

    own = log[0].pop("own_request_id")
    assert own.startswith("emu-")  # the emulator's own id, as it answered it
    assert log[0] == {
        "method": "POST",
        "path": "/v1/automation/run-async",
        "query": {},
        "key_suffix": emulator.api_key[-4:],
        "body": run_body(),
        "request_id": None,  # the caller sent no X-Request-Id
    }
    assert log[1]["query"] == {"limit": "5"}
    assert log[2]["key_suffix"] is None
    assert emulator.api_key not in json.dumps(log)


def test_reset_forgets_everything(api: httpx.Client, emulator: Any) -> None:
    run_id = api.post("/v1/automation/run-async", json=run_body()).json()["run_id"]
    emulator.fault("/v1/runs", status=500)

    emulator.reset()

    assert emulator.requests() == []
    assert api.get("/v1/runs").status_code == 200  # the fault is gone
    assert api.get(f"/v1/runs/{run_id}").status_code == 404
    assert emulator.http.get(f"{emulator.base_url}/_emulator/runs/{run_id}").status_code == 404


def test_control_run_view(api: httpx.Client, emulator: Any) -> None:
    run_id = api.post("/v1/automation/run-async", json=run_body()).json()["run_id"]

    view = emulator.run(run_id)

    assert view["run_id"] == run_id
    assert view["cancel_requested"] is False
    assert view["owner_key_suffix"] == emulator.api_key[-4:]
    assert view["origin"] == "async"


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_status_fault_answers_n_times_then_recovers(api: httpx.Client, emulator: Any, status: int) -> None:
    emulator.fault("/v1/runs", method="GET", status=status, count=2)

    first, second, third = (api.get("/v1/runs") for _ in range(3))

    assert first.status_code == second.status_code == status
    expected = "RATE_LIMIT_EXCEEDED" if status == 429 else "INTERNAL_ERROR"
    assert first.json()["error"]["code"] == expected
    assert "retry-after" not in first.headers
    assert third.status_code == 200
    assert len(emulator.requests()) == 3


def test_fault_matches_method_and_wildcards(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/runs/*", method="GET", status=503)

    assert api.post("/v1/runs/abc/cancel").status_code == 404  # POST does not match
    assert api.get("/v1/runs/abc").status_code == 503
    assert api.get("/v1/runs/abc").status_code == 404


def test_fault_on_run_creation_creates_no_run(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-async", status=500)

    assert api.post("/v1/automation/run-async", json=run_body()).status_code == 500
    assert api.get("/v1/runs").json()["pagination"]["total"] == 0


@pytest.mark.parametrize(
    ("fault", "failure"),
    [
        ({"status": 502}, None),
        ({"hang": True}, httpx.ReadTimeout),
        ({"drop": True}, httpx.RemoteProtocolError),
    ],
    ids=["status", "hang", "drop"],
)
def test_fault_after_processing_creates_the_run_then_fails(
    api: httpx.Client, emulator: Any, fault: dict[str, Any], failure: type[Exception] | None
) -> None:
    emulator.fault("/v1/automation/run-async", after=True, **fault)

    if failure is None:
        assert api.post("/v1/automation/run-async", json=run_body()).status_code == 502
    else:
        with pytest.raises(failure):
            api.post("/v1/automation/run-async", json=run_body(), timeout=0.3)
    assert api.get("/v1/runs").json()["pagination"]["total"] == 1


def test_drop_before_processing_creates_nothing(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-async", drop=True)

    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/v1/automation/run-async", json=run_body())
    assert api.get("/v1/runs").json()["pagination"]["total"] == 0


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
def test_status_fault_sends_retry_after(api: httpx.Client, emulator: Any, as_date: bool) -> None:
    emulator.fault("/v1/runs", status=429, retry_after=30, retry_after_date=as_date)

    response = api.get("/v1/runs")

    assert response.status_code == 429
    value = response.headers["retry-after"]
    if as_date:
        when = parsedate_to_datetime(value)
        assert 25 <= (when - datetime.now(UTC)).total_seconds() <= 31
    else:
        assert value == "30"


def test_sse_drop_before_the_first_event_leaves_a_run(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-sse", drop_after=0)

    with api.stream("POST", "/v1/automation/run-sse", json=run_body()) as response:
        assert response.status_code == 200
        assert _data_lines(response) == []
    assert api.get("/v1/runs").json()["pagination"]["total"] == 1


def test_delay_fault_adds_latency(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/runs", delay=1.0)

    with pytest.raises(httpx.ReadTimeout):
        api.get("/v1/runs", timeout=0.2)
    assert api.get("/v1/runs", timeout=2).status_code == 200


def test_delayed_request_still_answers(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/runs", delay=0.05)

    assert api.get("/v1/runs").status_code == 200


def test_hang_fault_never_answers(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/search", hang=True)

    with pytest.raises(httpx.ReadTimeout):
        api.get("/v1/search", params={"query": "python"}, timeout=0.3)
    assert api.get("/v1/search", params={"query": "python"}).status_code == 200


def _data_lines(response: httpx.Response) -> list[str]:
    return [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]


def test_drop_after_closes_the_stream_early_but_the_run_goes_on(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-sse", drop_after=3)

    with api.stream("POST", "/v1/automation/run-sse", json=run_body()) as response:
        lines = _data_lines(response)

    events = [json.loads(line) for line in lines]
    assert len(events) == 3
    assert all(event["type"] != "COMPLETE" for event in events)
    run_id = events[0]["run_id"]
    with api.stream("POST", "/v1/automation/run-sse", json=run_body()) as response:
        assert json.loads(_data_lines(response)[-1])["type"] == "COMPLETE"  # one use only
    assert api.post("/v1/runs/batch", json={"run_ids": [run_id]}).json()["not_found"] == []


def test_malformed_after_sends_a_non_json_line(api: httpx.Client, emulator: Any) -> None:
    emulator.fault("/v1/automation/run-sse", malformed_after=2)

    with api.stream("POST", "/v1/automation/run-sse", json=run_body()) as response:
        lines = _data_lines(response)

    assert [json.loads(line)["type"] for line in lines[:2]] == ["STARTED", "STREAMING_URL"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[2])
    assert json.loads(lines[-1])["type"] == "COMPLETE"


@pytest.mark.parametrize(
    "body",
    [
        {"method": "GET"},
        {"path": "v1/runs"},
        {"path": "/v1/runs", "count": 0},
        {"path": "/v1/runs", "status": 200},
        {"path": "/v1/runs", "delay": -1},
        {"path": "/v1/runs", "hang": "yes"},
        {"path": "/v1/runs", "drop_after": 1.5},
        {"path": "/v1/runs", "after": "yes"},
        {"path": "/v1/runs", "retry_after": -5},
    ],
)
def test_invalid_faults_are_refused(emulator: Any, body: dict[str, Any]) -> None:
    response = emulator.http.post(f"{emulator.base_url}/_emulator/faults", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_INPUT"


def test_pending_faults_can_be_listed_and_cleared(emulator: Any) -> None:
    emulator.fault("/v1/fetch", status=500, count=3)
    url = f"{emulator.base_url}/_emulator/faults"

    assert emulator.http.get(url).json()[0]["count"] == 3
    emulator.http.delete(url)
    assert emulator.http.get(url).json() == []


def test_reset_ends_streams_of_forgotten_runs(api: httpx.Client, emulator: Any) -> None:
    body = run_body("https://s.example.com/?tf_scenario=slow&tf_step_delay=0.05")
    with api.stream("POST", "/v1/automation/run-sse", json=body) as response:
        events = []
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(json.loads(line[len("data: ") :]))
            if events[-1]["type"] == "STREAMING_URL":
                emulator.reset()

    assert events[-1]["type"] == "COMPLETE"
    assert events[-1]["status"] == "CANCELLED"
