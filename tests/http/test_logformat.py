"""TINYFISH_MCP_LOG_FORMAT=json: every stderr line of the server is a JSON object, credentials masked."""

from __future__ import annotations

import json
import logging
import signal
from typing import Any

import httpx
from test_workers import _server

from tinyfish_mcp.http.redaction import install_log_redaction
from tinyfish_mcp.logformat import JsonFormatter


def test_json_lines_keep_the_redaction() -> None:
    install_log_redaction()
    record = logging.getLogRecordFactory()(
        "x", logging.WARNING, __file__, 1, "key %s at %s", ("sk-tinyfish-abcdef123", "/cb?code=s3cret"), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "x"
    assert "sk-tinyfish-abcdef123" not in line["message"] and "s3cret" not in line["message"]


def test_a_server_with_workers_logs_json_lines(emulator: Any) -> None:
    env = {
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_API_KEY": emulator.api_key,
        "TINYFISH_MCP_LOG_FORMAT": "json",
    }
    with _server("--auth", "none", "--workers", "2", env=env) as (proc, url):
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert proc.stderr is not None
        lines = [line for line in proc.stderr.read().splitlines() if line.strip()]
    assert lines
    parsed = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "message"} <= set(each) for each in parsed)
    assert any("serving" in each["message"] for each in parsed)
