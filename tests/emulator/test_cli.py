"""``python -m tinyfish_mcp.emulator``: a real process serving the configured keys."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
from _servers import free_port, stop_process


def test_cli_serves_configured_keys() -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "tinyfish_mcp.emulator", "--port", str(port),
        "--api-key", "sk-cli-one", "--api-key", "sk-cli-two", "--no-credit-key", "sk-cli-broke",
        "--time-scale", "0.001",
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:  # noqa: S603 (fixed argv)
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()
            assert f"http://127.0.0.1:{port}" in banner
            assert "sk-cli" not in banner  # keys are never printed
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            with httpx.Client(base_url=base, timeout=5) as client:
                while True:
                    try:
                        client.get("/_emulator/requests")
                        break
                    except httpx.ConnectError:
                        assert time.monotonic() < deadline, "emulator process did not start"
                        time.sleep(0.05)
                assert client.get("/v1/runs", headers={"X-API-Key": "sk-cli-two"}).status_code == 200
                default = client.get("/v1/runs", headers={"X-API-Key": "sk-tinyfish-emulator"})
                assert default.json()["error"]["code"] == "INVALID_API_KEY"
                run = client.post(
                    "/v1/automation/run",
                    json={"url": "https://e.example.com/?tf_scenario=overlimit", "goal": "g"},
                    headers={"X-API-Key": "sk-cli-one"},
                ).json()
                assert run["error"]["code"] == "TIMEOUT"  # the time scale reached the process
                broke = client.post(
                    "/v1/automation/run-async", json={"url": "https://e.example.com/", "goal": "g"},
                    headers={"X-API-Key": "sk-cli-broke"},
                )  # fmt: skip
                assert broke.status_code == 403
        finally:
            stop_process(proc)
