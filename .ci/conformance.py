"""Run the MCP conformance suite against our streamable-HTTP server.

Starts the emulator and `tinyfish-mcp http --auth none` on free loopback ports, runs
`@modelcontextprotocol/conformance` (Node >= 22, installed under .ci/node by .ci/run)
with our expected-failures baseline, and exits with the suite's exit code. The suite
fails on any unexpected failure and on any baseline entry that now passes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / ".ci" / "node"
BASELINE = ROOT / "conformance" / "expected-failures.yml"
KEY = "sk-tinyfish-emulator"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"conformance: {url} did not come up in time")


def run_suite(extra_env: dict[str, str], suite_args: list[str]) -> int:
    """Start the emulator and our HTTP server with ``extra_env``; run the suite with ``suite_args``."""
    emulator_port, server_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        TINYFISH_API_KEY=KEY,
        TINYFISH_BASE_URL=f"http://127.0.0.1:{emulator_port}",
        TINYFISH_MCP_AUTH="none",
        TINYFISH_MCP_LOG_LEVEL="WARNING",
    )
    env.update(extra_env)
    procs = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tinyfish_mcp.emulator", "--port", str(emulator_port)], env=env
        ),
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "tinyfish_mcp", "http", "--auth", "none", "--port", str(server_port)],
            env=env,
        ),
    ]
    try:
        deadline = time.monotonic() + 30
        wait_for(f"http://127.0.0.1:{emulator_port}/_emulator/requests", deadline)
        wait_for(f"http://127.0.0.1:{server_port}/healthz", deadline)
        node_bin = NODE_DIR / "node_modules" / ".bin"
        suite = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
        run_env = dict(env, PATH=f"{node_bin}{os.pathsep}{env.get('PATH', '')}")
        command = [
            str(node_bin / "node"),
            str(suite),
            "server",
            "--url",
            f"http://127.0.0.1:{server_port}/mcp",
            *suite_args,
        ]
        return subprocess.run(command, env=run_env, check=False, timeout=600).returncode  # noqa: S603
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    # The default deployment (stateless) against the whole active suite and our baseline...
    status = run_suite({"TINYFISH_MCP_STATELESS": "true"}, ["--expected-failures", str(BASELINE)])
    # ...and the stateful mode for the one scenario that needs an MCP session.
    stateful = run_suite({"TINYFISH_MCP_STATELESS": "false"}, ["--scenario", "server-sse-multiple-streams"])
    return status or stateful


if __name__ == "__main__":
    raise SystemExit(main())
