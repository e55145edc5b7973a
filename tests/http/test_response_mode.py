"""Plain JSON for calls that stream nothing, an SSE stream for calls that can, over real sockets."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from _mcp import INITIALIZE
from hosted import MCP_HEADERS, Served, serve_app

from tinyfish_mcp.http.routing import wants_stream


def _call(name: str, arguments: dict[str, Any], *, progress: bool = False) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if progress:
        params["_meta"] = {"progressToken": "p-1"}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}


def _kind(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";", 1)[0]


def _message(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC response in either framing (the last SSE data line is the result)."""
    if _kind(response) == "application/json":
        body: dict[str, Any] = response.json()
        return body
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    last: dict[str, Any] = json.loads(data[-1])
    return last


def test_reads_are_plain_json_and_run_tools_stream(open_server: Served, emulator: Any) -> None:
    with httpx.Client(headers=MCP_HEADERS, timeout=30) as http:
        init = http.post(open_server.mcp_url, json=INITIALIZE)
        assert init.status_code == 200
        assert _kind(init) == "application/json"
        assert _message(init)["result"]["serverInfo"]["name"] == "tinyfish"

        listed = http.post(open_server.mcp_url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert _kind(listed) == "application/json"
        names = {tool["name"] for tool in _message(listed)["result"]["tools"]}
        assert "run_web_automation" in names

        started = http.post(
            open_server.mcp_url,
            json=_call("run_web_automation", {"url": "https://example.com", "goal": "Read the title"}),
        )
        assert _kind(started) == "text/event-stream"
        run = json.loads(_message(started)["result"]["content"][0]["text"])
        assert run["status"] == "COMPLETED"

        read = http.post(open_server.mcp_url, json=_call("list_runs", {"limit": 1}))
        assert _kind(read) == "application/json"
        assert not _message(read)["result"].get("isError")

        with_progress = http.post(open_server.mcp_url, json=_call("list_runs", {"limit": 1}, progress=True))
        assert _kind(with_progress) == "text/event-stream"
        assert not _message(with_progress)["result"].get("isError")


def test_unparseable_bodies_still_get_a_json_rpc_error(open_server: Served) -> None:
    response = httpx.post(open_server.mcp_url, content=b"{not json", headers=MCP_HEADERS)
    assert response.status_code in (200, 400)
    assert _message(response)["error"]["code"] == -32700


def test_stateful_servers_keep_one_response_mode(emulator: Any) -> None:
    """A stateful session belongs to one session manager, so it is not routed."""
    with serve_app(
        mcp_auth="none", base_url=emulator.base_url, api_key=emulator.api_key, mcp_stateless=False
    ) as served:
        init = httpx.post(served.mcp_url, json=INITIALIZE, headers=MCP_HEADERS)
        assert _kind(init) == "text/event-stream"


@pytest.mark.parametrize(
    ("body", "streamed"),
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}', False),
        (json.dumps(_call("get_run", {"id": "r"})).encode(), False),
        (json.dumps(_call("get_run", {"id": "r"}, progress=True)).encode(), True),
        (json.dumps(_call("run_web_automation", {})).encode(), True),
        (b'{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{}}', True),
        (b"[1, 2]", True),
        (b"\xff", True),
        (b"[" * 5000 + b"]" * 5000, True),
    ],
)
def test_wants_stream(body: bytes, streamed: bool) -> None:
    assert wants_stream(body, {"run_web_automation"}) is streamed
