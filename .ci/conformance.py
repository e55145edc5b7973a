"""Run the MCP conformance suite against our streamable-HTTP server.

Starts the emulator and `tinyfish-mcp http --auth none` on free loopback ports, runs
`@modelcontextprotocol/conformance` (Node >= 22, installed under .ci/node by .ci/run)
with our expected-failures baseline, and exits with the suite's exit code. The suite
fails on any unexpected failure and on any baseline entry that now passes.
"""

from __future__ import annotations

import os
import re
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
# What the suite prints: each scenario as it starts, then its baseline report, a section
# header ("Expected failures (in baseline):", "Stale baseline entries ...", "Unexpected
# failures ...") followed by one indented "~ name" / "✓ name" / "✗ name" line per scenario.
SCENARIO_START = re.compile(r"^=== Running scenario: (\S+) ===")
SECTIONS = {"Expected failures": "expected", "Stale baseline": "stale", "Unexpected failures": "unexpected"}
LISTED = re.compile(r"^\s+[~✓✗] (\S+)\s*$")


def baseline() -> list[str]:
    """The scenario names of conformance/expected-failures.yml (a flat YAML list under ``server:``)."""
    names = []
    for line in BASELINE.read_text().splitlines():
        item = re.match(r"^\s*-\s*([\w-]+)\s*$", line)
        if item:
            names.append(item.group(1))
    return names


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


def relay(command: list[str], env: dict[str, str]) -> tuple[int, dict[str, list[str]]]:
    """Run the suite, echoing its output but for its check-level "Total:" line (counted anew below).

    Returns the exit code and the scenario names: ``ran``, ``expected``, ``stale``, ``unexpected``.
    """
    found: dict[str, list[str]] = {"ran": [], "expected": [], "stale": [], "unexpected": []}
    section = None
    with subprocess.Popen(  # noqa: S603 - the suite installed under .ci/node
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("Total:"):
                sys.stdout.write(line)
            started = SCENARIO_START.match(line)
            if started:
                found["ran"].append(started.group(1))
                continue
            header = next((name for text, name in SECTIONS.items() if text in line), None)
            if header is not None:
                section = header
                continue
            listed = LISTED.match(line)
            if listed and section is not None:
                found[section].append(listed.group(1))
            elif line.strip():
                section = None
        code = proc.wait(timeout=600)
    sys.stdout.flush()
    return code, found


def run_suite(extra_env: dict[str, str], suite_args: list[str]) -> tuple[int, dict[str, list[str]]]:
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
        return relay(command, run_env)
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
    status, results = run_suite({"TINYFISH_MCP_STATELESS": "true"}, ["--expected-failures", str(BASELINE)])
    # ...and the stateful mode for the one scenario that needs an MCP session.
    stateful, _ = run_suite(
        {"TINYFISH_MCP_STATELESS": "false"}, ["--scenario", "server-sse-multiple-streams"]
    )
    failing = set(results["expected"]) | set(results["unexpected"])
    passed = [name for name in results["ran"] if name not in failing]
    listed = set(baseline())
    known = [name for name in results["expected"] if name in listed]
    print("\n== conformance summary (scenarios)")
    unexpected = results["unexpected"]
    counts = f"{len(passed)} passed, {len(known)} expected failures (listed), {len(unexpected)} unexpected"
    print(f"stateless: {counts}")
    for name in known:
        print(f"  expected failure: {name} (reason in {BASELINE.relative_to(ROOT)})")
    for name in unexpected:
        print(f"  UNEXPECTED failure: {name}")
    for name in results["stale"]:
        print(f"  now passing, remove it from the baseline: {name}")
    print(f"stateful: server-sse-multiple-streams {'passed' if stateful == 0 else 'FAILED'}")
    if not results["ran"]:
        print("conformance: the suite reported no scenario")
        return 1
    return status or stateful


if __name__ == "__main__":
    raise SystemExit(main())
