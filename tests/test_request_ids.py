"""Request ids over stdio, and how log lines carry them (text and JSON)."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

from _mcp import result_json, stdio_server

from tinyfish_mcp.logformat import JsonFormatter, log_handler
from tinyfish_mcp.tracing import RequestIdFilter, sane_request_id, traced

GENERATED = re.compile(r"[0-9a-f]{16}")


async def test_each_stdio_tool_call_sends_its_own_generated_id_upstream(emulator: Any) -> None:
    async with stdio_server(emulator) as client:
        for _ in range(2):
            result_json(await client.call_tool("list_runs", {"limit": 1}))
    sent = [r["request_id"] for r in emulator.requests() if r["path"] == "/v1/runs"]
    assert len(sent) == 2 and all(GENERATED.fullmatch(each or "") for each in sent)
    assert sent[0] != sent[1]


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("tinyfish_mcp.test", logging.INFO, __file__, 1, message, None, None)


def test_lines_carry_the_id_of_the_request_they_belong_to() -> None:
    stream = io.StringIO()
    text = log_handler("text")
    text.setStream(stream)  # type: ignore[attr-defined]
    with traced("req-abc-1"):
        text.handle(_record("inside"))
    text.handle(_record("outside"))
    inside, outside = stream.getvalue().splitlines()
    assert inside.endswith("tinyfish_mcp.test: inside [req=req-abc-1]")
    assert outside.endswith("tinyfish_mcp.test: outside")

    record = _record("json inside")
    with traced("req-abc-2"):
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-abc-2" and line["message"] == "json inside"
    plain = _record("json outside")
    RequestIdFilter().filter(plain)
    assert "request_id" not in json.loads(JsonFormatter().format(plain))


def test_only_sane_tokens_are_taken_as_request_ids() -> None:
    assert sane_request_id(" 0f2c-4a:b.c_d ") == "0f2c-4a:b.c_d"
    for bad in ("", "a b", "x" * 129, "id\r\nX-Injected: 1", "ü-umlaut", "-leading-dash", None):
        assert sane_request_id(bad) is None, bad


async def test_a_server_error_names_the_services_own_request_id(emulator: Any) -> None:
    from _mcp import memory_server, result_text

    emulator.fault("/v1/runs", method="GET", status=500, count=10)
    async with memory_server(emulator) as client:
        failed = await client.call_tool("list_runs", {"limit": 1})
    assert failed.is_error
    theirs = {r["own_request_id"] for r in emulator.requests() if r["path"] == "/v1/runs"}
    text = result_text(failed)
    assert any(f"request id {each} " in text for each in theirs), text
