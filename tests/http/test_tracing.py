"""Request ids and the access log, on a real ``tinyfish-mcp http`` process writing JSON lines.

A request's ``X-Request-Id`` reaches the emulator on every upstream request it causes,
every log line of it carries the id, the emulator's own id is logged beside it, and each
HTTP request makes exactly one access-log line: no query string, the user's short hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from _mcp import INITIALIZE
from hosted import MCP_HEADERS
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from spawned import Spawned, spawned_oauth_server

from tinyfish_mcp.tracing import user_hash

GENERATED = re.compile(r"[0-9a-f]{16}")
SECRET_QUERY = "code=hush-hush-4242&access_token=tok-should-never-show-9876"


@pytest.fixture
def server(emulator: Any, tmp_path: Path) -> Iterator[Spawned]:
    with spawned_oauth_server(emulator.base_url, tmp_path, TINYFISH_MCP_LOG_FORMAT="json") as served:
        yield served


def _lines(logs: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.splitlines() if line.startswith("{")]


def _access(lines: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    access = [line for line in lines if line["logger"] == "tinyfish_mcp.access"]
    return [line for line in access if line.get("request_id") == request_id]


async def test_a_request_id_travels_upstream_and_onto_every_line_of_its_call(
    server: Spawned, emulator: Any
) -> None:
    ours = "trace-test-7f3a"
    headers = {"X-API-Key": emulator.api_key, "X-Request-Id": ours}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(server.mcp_url, http_client=http)) as client,
    ):
        listed = await client.call_tool("list_runs", {"limit": 1})
        missing = await client.call_tool("get_run", {"id": "run-that-is-not-there"})
    assert not listed.is_error and missing.is_error

    upstream = [r for r in emulator.requests() if r["path"].startswith("/v1/runs")]
    assert upstream and all(r["request_id"] == ours for r in upstream)
    theirs = {r["own_request_id"] for r in upstream}
    assert all(each.startswith("emu-") for each in theirs) and ours not in theirs

    lines = _lines(server.stop())
    mine = [line for line in lines if line.get("request_id") == ours]
    # The upstream lines name the service's own id beside ours: the success (debug) and the 404.
    logged_theirs = {line["upstream_request_id"] for line in mine if "upstream_request_id" in line}
    assert logged_theirs and logged_theirs <= theirs
    failure = [line for line in mine if "failed" in line["message"] and line["level"] == "INFO"]
    assert failure and failure[0]["upstream_request_id"] in failure[0]["message"]
    # Access lines of the tool calls name the user by the key's short hash, never the key.
    access = _access(lines, ours)
    assert access and all(line["path"] == "/mcp" for line in access)
    assert {line.get("user") for line in access} >= {user_hash(emulator.api_key)}
    assert emulator.api_key not in json.dumps(lines)


def test_one_access_line_per_request_without_its_query_and_ids_answered(server: Spawned) -> None:
    sent: dict[str, int] = {}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        requests = [("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/mcp"), ("GET", "/nowhere")]
        for n, (method, path) in enumerate(requests):
            request_id = f"access-{n}"
            kwargs: dict[str, Any] = {"json": INITIALIZE, "headers": MCP_HEADERS} if method == "POST" else {}
            kwargs.setdefault("headers", {})["X-Request-Id"] = request_id
            response = http.request(method, f"{path}?{SECRET_QUERY}", **kwargs)
            assert response.headers["x-request-id"] == request_id
            sent[request_id] = response.status_code

        # No id, or one that is not a sane token: the server makes its own, and answers it.
        plain = http.get("/healthz")
        assert GENERATED.fullmatch(plain.headers["x-request-id"])
        for bad in ("has spaces in it", "x" * 500, "sk-tinyfish-" + "k" * 20):
            answered = http.get("/healthz", headers={"X-Request-Id": bad}).headers["x-request-id"]
            assert GENERATED.fullmatch(answered), bad

    logs = server.stop()
    for secret in ("hush-hush-4242", "tok-should-never-show-9876", "k" * 20):
        assert secret not in logs
    lines = _lines(logs)
    for request_id, status in sent.items():
        (line,) = _access(lines, request_id)  # exactly one line per request
        assert line["status"] == status and line["duration_ms"] >= 0 and "?" not in line["message"]
        assert line["message"].startswith(f"{line['method']} {line['path']} {status} ")
    assert {line["status"] for line in lines if line["logger"] == "tinyfish_mcp.access"} >= {200, 401, 404}
    (generated,) = _access(lines, plain.headers["x-request-id"])
    assert generated["path"] == "/healthz"
    # uvicorn's own access log is off: no request line is written twice.
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
