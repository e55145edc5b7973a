"""What every benchmark shares: subprocesses on loopback, a raw stdio JSON-RPC peer, statistics,
process metrics (RSS, CPU), markdown tables and the JSON result files.

Every wait here is bounded in time, so a broken server makes a benchmark fail with the tail
of that server's log instead of hanging.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "API_KEY",
    "LOG_DIR",
    "PROTOCOL_VERSION",
    "PYTHON",
    "RESULTS_DIR",
    "ROOT",
    "BenchError",
    "Service",
    "StdioPeer",
    "bare_http_server",
    "bare_stdio_argv",
    "check",
    "cpu_seconds",
    "create_run",
    "emulator",
    "free_port",
    "http_server",
    "machine_info",
    "machine_line",
    "make_parser",
    "mcp_headers",
    "md_table",
    "ours_stdio_argv",
    "own_cpu_seconds",
    "percentile",
    "print_table",
    "rpc_message",
    "rpc_post",
    "rss_mb",
    "server_env",
    "summarize",
    "targets_table",
    "tool_text",
    "write_results",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
API_KEY = "sk-tinyfish-emulator"
PROTOCOL_VERSION = "2025-06-18"
LOG_DIR = Path(tempfile.mkdtemp(prefix="tinyfish-bench-"))


class BenchError(RuntimeError):
    """A benchmark could not run (a process died, a wait ran out); the message says why."""


# --------------------------------------------------------------------------- statistics
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(seconds: Sequence[float], *, scale: float = 1000.0, digits: int = 3) -> dict[str, float]:
    """n, mean, min, p50, p90, p99, max of durations (seconds in, milliseconds out by default)."""
    if not seconds:
        return {"n": 0}
    values = [v * scale for v in seconds]
    return {
        "n": len(values),
        "mean": round(sum(values) / len(values), digits),
        "min": round(min(values), digits),
        "p50": round(percentile(values, 50), digits),
        "p90": round(percentile(values, 90), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values), digits),
    }


def check(name: str, value: float, op: str, limit: float, unit: str = "") -> dict[str, Any]:
    """One target: ``value op limit`` (op is ``<=``, ``<``, ``>=`` or ``==``)."""
    ops: dict[str, Callable[[float, float], bool]] = {
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b,
        "==": lambda a, b: a == b,
    }
    return {
        "target": f"{name} {op} {limit:g}{unit}",
        "value": round(value, 3) if isinstance(value, float) else value,
        "met": bool(ops[op](value, limit)),
    }


# --------------------------------------------------------------------------- machine and processes
def machine_info() -> dict[str, Any]:
    """What the figures were taken on: they only compare within one run, but say where."""
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_total_mb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_mb = round(int(line.split()[1]) / 1024, 0)

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "mem_total_mb": mem_total_mb,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "mcp": version("mcp"),
        "tinyfish_mcp": version("tinyfish-mcp"),
        "httpx": version("httpx"),
        "uvicorn": version("uvicorn"),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['platform']}, {info['cpu_count']} CPU ({info['cpu_model'] or '?'}), "
        f"{info['mem_total_mb']:.0f} MB RAM, Python {info['python']}, mcp {info['mcp']}, "
        f"loadavg {' '.join(f'{x:.2f}' for x in info['loadavg_at_start'] or [])}"
    )


def _status_kb(pid: int, field_name: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


def rss_mb(pid: int, *, peak: bool = False) -> float:
    """Resident set size of ``pid`` in MB (``VmRSS``), or its high-water mark (``VmHWM``)."""
    return round(_status_kb(pid, "VmHWM" if peak else "VmRSS") / 1024.0, 1)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (``/proc/<pid>/stat``)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def own_cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server under test: our key and the emulator as the upstream."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINYFISH_")}
    env.update(
        {
            "TINYFISH_API_KEY": API_KEY,
            "TINYFISH_BASE_URL": base_url,
            "TINYFISH_MCP_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(x) for x in (task / "children").read_text().split())
    return found


@dataclass
class Service:
    """A server subprocess with its log file; ``pid`` is the Python process to measure."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str
    pid: int = 0

    def log_tail(self) -> str:
        return _tail(self.log)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        if self.proc.poll() is not None:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue
        self.proc.kill()
        self.proc.wait(5)


@contextlib.contextmanager
def _service(
    name: str, argv: Sequence[str], env: dict[str, str], url: str, ready_path: str, *, timeout: float = 30.0
) -> Iterator[Service]:
    log = LOG_DIR / f"{name}-{int(time.time() * 1000)}.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
    service = Service(name=name, proc=proc, log=log, url=url, pid=proc.pid)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if not service.alive():
                raise BenchError(
                    f"{name} exited with {proc.returncode} before it was ready:\n{service.log_tail()}"
                )
            try:
                httpx.get(url + ready_path, timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{name} not ready after {timeout:.0f} s:\n{service.log_tail()}"
                    ) from None
                time.sleep(0.05)
        # Under a launcher (py-spy), measure the Python process it started, not the launcher.
        kids = _children(proc.pid)
        if kids and Path(argv[0]).name != Path(PYTHON).name:
            service.pid = kids[0]
        yield service
    finally:
        service.stop()


@contextlib.contextmanager
def emulator(*, stamped: bool = False, time_scale: float = 1.0) -> Iterator[Service]:
    """The TinyFish emulator in its own process on a free loopback port.

    ``stamped`` runs it through ``bench._stamped_emulator`` (the same app, with send-time
    stamps of its SSE events for the progress benchmark).
    """
    port = free_port()
    module = "bench._stamped_emulator" if stamped else "tinyfish_mcp.emulator"
    argv = [PYTHON, "-m", module, "--host", "127.0.0.1", "--port", str(port), "--time-scale", str(time_scale)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINYFISH_")}
    with _service(
        "emulator", argv, env, f"http://127.0.0.1:{port}", "/_emulator/runs/ready-probe"
    ) as service:
        yield service


@contextlib.contextmanager
def http_server(
    base_url: str,
    *,
    auth: str = "none",
    extra_env: dict[str, str] | None = None,
    launcher: Sequence[str] = (),
) -> Iterator[Service]:
    """``python -m tinyfish_mcp http`` on a free loopback port, the emulator as its upstream."""
    port = free_port()
    argv = [
        *launcher,
        PYTHON,
        "-m",
        "tinyfish_mcp",
        "http",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--auth",
        auth,
    ]
    env = server_env(base_url, **(extra_env or {}))
    with _service(
        f"server-{auth}", argv, env, f"http://127.0.0.1:{port}", "/healthz", timeout=60.0
    ) as service:
        yield service


@contextlib.contextmanager
def bare_http_server(base_url: str) -> Iterator[Service]:
    """The bare ``MCPServer`` (``bench._bare_server``) over stateless streamable HTTP: the SDK's floor."""
    port = free_port()
    argv = [PYTHON, "-m", "bench._bare_server", "http", str(port)]
    with _service(
        "server-bare", argv, server_env(base_url), f"http://127.0.0.1:{port}", "/ready-probe"
    ) as service:
        yield service


def create_run(base_url: str, url: str, *, goal: str = "Benchmark run", wait: bool = True) -> str:
    """Start a run directly on the emulator (``run-async``); optionally wait until it is terminal."""
    headers = {"X-API-Key": API_KEY}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10.0) as client:
        reply = client.post("/v1/automation/run-async", json={"url": url, "goal": goal})
        reply.raise_for_status()
        run_id = str(reply.json()["run_id"])
        deadline = time.monotonic() + 30.0
        while wait:
            status = client.get(f"/v1/runs/{run_id}").json().get("status")
            if status in ("COMPLETED", "FAILED", "CANCELLED"):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"run {run_id} still {status} after 30 s")
            time.sleep(0.05)
    return run_id


# --------------------------------------------------------------------------- raw stdio JSON-RPC
@dataclass
class StdioPeer:
    """A client that speaks newline-delimited JSON-RPC over a subprocess's pipes, by hand.

    No SDK client and no reader thread: writes go straight to the pipe and reads wait in
    ``select``, so the client side adds as little as possible to what is measured. Each
    line read is stamped with ``time.time()`` the moment its bytes arrive.
    """

    argv: Sequence[str]
    env: dict[str, str]
    name: str = "stdio"
    proc: subprocess.Popen[bytes] = field(init=False)
    log: Path = field(init=False)
    _buffer: bytes = field(default=b"", init=False)
    _lines: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque, init=False)
    _next_id: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.log = LOG_DIR / f"{self.name}-{time.time_ns()}.log"
        with self.log.open("wb") as log_file:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=self.env,
                cwd=ROOT,
                bufsize=0,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()

    def __enter__(self) -> StdioPeer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def log_tail(self) -> str:
        return _tail(self.log)

    def send(self, message: dict[str, Any]) -> None:
        data = memoryview(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        while data:
            try:
                written = os.write(self._in, data)
            except BrokenPipeError:
                raise BenchError(f"{self.name} closed its stdin:\n{self.log_tail()}") from None
            data = data[written:]

    def read(self, timeout: float) -> tuple[float, dict[str, Any]]:
        """The next message and the ``time.time()`` at which its bytes arrived."""
        deadline = time.monotonic() + timeout
        while not self._lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"{self.name}: no message within {timeout:.0f} s:\n{self.log_tail()}")
            ready, _, _ = select.select([self._out], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._out, 1 << 20)
            stamp = time.time()
            if not chunk:
                raise BenchError(f"{self.name} closed stdout (exit {self.proc.poll()}):\n{self.log_tail()}")
            self._buffer += chunk
            *complete, self._buffer = self._buffer.split(b"\n")
            self._lines.extend((stamp, line) for line in complete if line.strip())
        stamp, line = self._lines.popleft()
        return stamp, json.loads(line)

    def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        on_message: Callable[[float, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Send a request and return its response; other messages go to ``on_message``."""
        self._next_id += 1
        request_id = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        deadline = time.monotonic() + timeout
        while True:
            stamp, reply = self.read(max(deadline - time.monotonic(), 0.001))
            if reply.get("id") == request_id and ("result" in reply or "error" in reply):
                return reply
            if on_message is not None:
                on_message(stamp, reply)

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def handshake(self, *, timeout: float = 30.0) -> dict[str, Any]:
        """``initialize`` then ``notifications/initialized``; returns the initialize result."""
        reply = self.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "tinyfish-bench", "version": "1"},
            },
            timeout=timeout,
        )
        if "error" in reply:
            raise BenchError(f"{self.name}: initialize failed: {reply['error']}")
        self.notify("notifications/initialized")
        return dict(reply["result"])

    def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        progress_token: str | int | None = None,
        timeout: float = 60.0,
        on_message: Callable[[float, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if progress_token is not None:
            params["_meta"] = {"progressToken": progress_token}
        reply = self.request("tools/call", params, timeout=timeout, on_message=on_message)
        if "error" in reply:
            raise BenchError(f"{self.name}: tools/call {name} failed: {reply['error']}")
        return dict(reply["result"])

    def close(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout)
        with contextlib.suppress(OSError):
            assert self.proc.stdout is not None
            self.proc.stdout.close()


def ours_stdio_argv(*python_flags: str) -> list[str]:
    return [PYTHON, *python_flags, "-m", "tinyfish_mcp"]


def bare_stdio_argv(*python_flags: str) -> list[str]:
    return [PYTHON, *python_flags, "-m", "bench._bare_server"]


def tool_text(result: dict[str, Any]) -> str:
    """The text of a tool result's content blocks, joined."""
    return "\n".join(
        str(block.get("text", "")) for block in result.get("content", []) if isinstance(block, dict)
    )


# --------------------------------------------------------------------------- MCP over streamable HTTP
def mcp_headers(token: str | None = None) -> dict[str, str]:
    """Headers of a stateless streamable-HTTP request (no session, no initialize needed)."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def rpc_message(request_id: int | str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def _sse_messages(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload:
                yield json.loads(payload)


async def rpc_post(
    client: httpx.AsyncClient,
    url: str,
    message: dict[str, Any],
    headers: dict[str, str],
    *,
    on_notification: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """POST one JSON-RPC request to ``/mcp`` and return its response (JSON or SSE body).

    Without ``on_notification`` the whole body is read at once (cheapest for the load
    generator); with it, the SSE stream is read line by line and every notification is
    handed over as it arrives.
    """
    if on_notification is None:
        reply = await client.post(url, json=message, headers=headers)
        if reply.status_code != 200:
            raise BenchError(f"HTTP {reply.status_code}: {reply.text[:200]}")
        if reply.headers.get("content-type", "").startswith("application/json"):
            return dict(reply.json())
        for item in _sse_messages(reply.text):
            if item.get("id") == message["id"]:
                return item
        raise BenchError(f"no response in the SSE body: {reply.text[:200]}")
    async with client.stream("POST", url, json=message, headers=headers) as reply:
        if reply.status_code != 200:
            body = await reply.aread()
            raise BenchError(f"HTTP {reply.status_code}: {body[:200]!r}")
        if reply.headers.get("content-type", "").startswith("application/json"):
            return dict(json.loads(await reply.aread()))
        async for line in reply.aiter_lines():
            if not line.startswith("data:") or not line[5:].strip():
                continue
            item = json.loads(line[5:])
            if item.get("id") == message["id"] and ("result" in item or "error" in item):
                return dict(item)
            if "method" in item:
                on_notification(item)
    raise BenchError("the SSE stream ended without a response")


# --------------------------------------------------------------------------- output
def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    text = f"\n### {title}\n\n{md_table(headers, rows)}\n"
    print(text, flush=True)
    return text


def targets_table(name: str, targets: Sequence[dict[str, Any]]) -> str:
    rows = [(t["target"], t["value"], "met" if t["met"] else "**MISSED**") for t in targets]
    return print_table(f"{name}: targets", ["target", "value", "result"], rows)


def write_results(name: str, payload: dict[str, Any], *, quick: bool = False) -> Path:
    """``bench/results/<name>.json`` (``<name>.quick.json`` for smoke runs, so they never
    overwrite the figures of a full run)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}{'.quick' if quick else ''}.json"
    rest = {k: v for k, v in payload.items() if k not in ("machine", "tables")}
    document = {"benchmark": name, "machine": payload.get("machine") or machine_info(), **rest}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"results written to {path.relative_to(ROOT)}", flush=True)
    return path


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    return parser
