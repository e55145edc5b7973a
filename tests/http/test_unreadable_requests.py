"""A request the server cannot read still gets a JSON-RPC answer, over HTTP and stdio, never silence."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from typing import Any

import httpx
from _mcp import INITIALIZE
from hosted import MCP_HEADERS, Served

DEPTH = 250  # deeper than the SDK's JSON parser goes (200 levels)


def _deep_call(ident: int) -> str:
    nested = "[" * DEPTH + "]" * DEPTH
    params = '{"name":"get_run","arguments":{"run_id":' + nested + "}}"
    return f'{{"jsonrpc":"2.0","id":{ident},"method":"tools/call","params":{params}}}'


def test_unreadable_requests_over_http_get_a_json_rpc_error(open_server: Served) -> None:
    with httpx.Client(timeout=10) as http:
        init = http.post(open_server.mcp_url, json=INITIALIZE, headers=MCP_HEADERS)
        assert init.status_code == 200
        headers = dict(MCP_HEADERS)
        if "mcp-session-id" in init.headers:
            headers["Mcp-Session-Id"] = init.headers["mcp-session-id"]
        for body in (_deep_call(7), "not json", '{"jsonrpc": "2.0", "id": 8}'):
            response = http.post(open_server.mcp_url, content=body, headers=headers)
            assert response.status_code in (200, 400), response.text
            text = response.text
            payload = json.loads(text[text.index("{") :].splitlines()[0]) if text else {}
            assert "error" in payload or "result" in payload, text
            assert "Traceback" not in text and len(text) < 2_000


def _stdio(emulator: Any) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TINYFISH_API_KEY=emulator.api_key, TINYFISH_BASE_URL=emulator.base_url)
    return subprocess.Popen(
        [sys.executable, "-m", "tinyfish_mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _exchange(proc: subprocess.Popen[bytes], line: str) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line.encode() + b"\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    assert ready, f"no answer to {line[:60]!r}"
    answer: dict[str, Any] = json.loads(proc.stdout.readline())
    return answer


def test_unreadable_lines_over_stdio_get_a_json_rpc_error(emulator: Any) -> None:
    with _stdio(emulator) as proc:
        assert _exchange(proc, json.dumps(INITIALIZE))["id"] == 1
        deep = _exchange(proc, _deep_call(2))
        assert deep["id"] == 2 and deep["error"]["code"] == -32600
        garbage = _exchange(proc, "not json")
        assert garbage["id"] is None and garbage["error"]["code"] == -32700
        envelope = _exchange(proc, '{"jsonrpc": "2.0", "id": 3, "methd": "ping"}')
        assert envelope["id"] == 3 and envelope["error"]["code"] == -32600
        # And the server goes on serving.
        ping = _exchange(proc, '{"jsonrpc": "2.0", "id": 4, "method": "ping"}')
        assert ping == {"jsonrpc": "2.0", "id": 4, "result": {}}
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()
        proc.wait(timeout=10)
        log = proc.stderr.read().decode()
    assert "Traceback" not in log, log


def _nested(ident: Any, depth: int, *, id_last: bool = False) -> str:
    deep = "[" * depth + "]" * depth
    params = '{"name":"get_run","arguments":{"id":' + deep + "}}"
    head = '{"jsonrpc":"2.0",'
    if id_last:
        return head + f'"method":"tools/call","params":{params},"id":{json.dumps(ident)}}}'
    return head + f'"id":{json.dumps(ident)},"method":"tools/call","params":{params}}}'


PING = '{"jsonrpc":"2.0","id":%s,"method":"ping"}'
# (the message, the id the answer must carry, the JSON-RPC error code)
MALFORMED: list[tuple[str, Any, int]] = [
    (_nested(11, 1_000), 11, -32600),
    (_nested(12, 5_000), 12, -32600),
    (_nested("deep-id", 6_000, id_last=True), "deep-id", -32600),
    ("not json", None, -32700),
    ("[" + PING % 1 + "," + PING % 2 + "]", None, -32600),
    (PING % "1.5", None, -32600),
    (PING % "1e400", None, -32600),
    (PING % "{}", None, -32600),
    (PING % "true", None, -32600),
    (PING % "null", None, -32600),
    (PING % json.dumps("x" * 300), None, -32600),
    (json.dumps({"jsonrpc": "2.0", "id": 13, "method": "m\u0000" * 100_000}), 13, -32601),
    ('{"jsonrpc": "2.0", "id": 14}', 14, -32600),
]


def _check(answer: dict[str, Any], text: str, ident: Any, code: int) -> None:
    assert answer["id"] == ident and answer["error"]["code"] == code, text[:300]
    assert len(text) < 1_000, text[:300]
    assert "validation error" not in text and "Traceback" not in text


def test_malformed_messages_over_http_get_bounded_answers_with_their_id(open_server: Served) -> None:
    with httpx.Client(timeout=30) as http:
        for body, ident, code in MALFORMED:
            response = http.post(open_server.mcp_url, content=body, headers=MCP_HEADERS)
            assert response.status_code == 400, (body[:60], response.status_code, response.text[:200])
            _check(response.json(), response.text, ident, code)
        # A stateless server has no server-initiated stream to offer.
        stream = http.get(open_server.mcp_url, headers={"Accept": "text/event-stream"})
        assert stream.status_code == 405 and stream.headers["allow"] == "POST"
        # And it goes on serving.
        ping = http.post(open_server.mcp_url, content=PING % 15, headers=MCP_HEADERS)
        assert ping.status_code == 200 and '"id":15' in ping.text.replace(" ", "")


def test_malformed_messages_over_stdio_get_bounded_answers_with_their_id(emulator: Any) -> None:
    with _stdio(emulator) as proc:
        assert _exchange(proc, json.dumps(INITIALIZE))["id"] == 1
        for line, ident, code in MALFORMED:
            answer = _exchange(proc, line)
            _check(answer, json.dumps(answer), ident, code)
        assert _exchange(proc, PING % 16) == {"jsonrpc": "2.0", "id": 16, "result": {}}
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
