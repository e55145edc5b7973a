"""TINYFISH_MCP_LOG_FORMAT=json: every stderr line of the server is a JSON object, credentials masked."""

from __future__ import annotations

import json
import logging
import signal
from typing import Any

import httpx
import pytest
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


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_line_of_the_real_server_is_json_uvicorn_s_included(emulator: Any, workers: str) -> None:
    env = {
        "TINYFISH_BASE_URL": emulator.base_url,
        "TINYFISH_API_KEY": emulator.api_key,
        "TINYFISH_MCP_LOG_FORMAT": "json",
    }
    with _server("--auth", "none", "--workers", workers, env=env) as (proc, url):
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        # One worker: uvicorn re-raises the SIGTERM it handled once shut down (its documented exit).
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        assert proc.stderr is not None
        lines = [line for line in proc.stderr.read().splitlines() if line.strip()]
    assert lines
    parsed = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "message"} <= set(each) for each in parsed)
    assert any("serving" in each["message"] for each in parsed)
    # uvicorn's own start and stop lines, in every worker.
    uvicorn_lines = [each["message"] for each in parsed if each["logger"].startswith("uvicorn")]
    for said in ("Started server process", "Application startup complete", "Finished server process"):
        assert any(said in line for line in uvicorn_lines), (said, uvicorn_lines)
