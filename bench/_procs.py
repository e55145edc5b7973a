"""Processes on loopback for the benchmarks: the emulator and the servers, with RSS and CPU.

Every wait here is bounded in time, so a broken server makes a benchmark fail with the tail
of that server's log instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
API_KEY = "sk-tinyfish-emulator"
PROTOCOL_VERSION = "2025-06-18"
LOG_DIR = Path(tempfile.mkdtemp(prefix="tinyfish-bench-"))


class BenchError(RuntimeError):
    """A benchmark could not run (a process died, a wait ran out); the message says why."""


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
    # Servers write and read their bytecode caches, as an installed package has them (pip compiles
    # on install): with PYTHONDONTWRITEBYTECODE set, our modules would be compiled on every start.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TINYFISH_") and k != "PYTHONDONTWRITEBYTECODE"
    }
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


def tail_of(path: Path, limit: int = 3000) -> str:
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
        return tail_of(self.log)

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
def emulator(
    *, stamped: bool = False, time_scale: float = 1.0, heartbeat_interval: float | None = None
) -> Iterator[Service]:
    """The TinyFish emulator in its own process on a free loopback port.

    ``stamped`` runs it through ``bench._stamped_emulator`` (the same app, with send-time
    stamps of its SSE events for the progress benchmark).
    """
    port = free_port()
    module = "bench._stamped_emulator" if stamped else "tinyfish_mcp.emulator"
    argv = [PYTHON, "-m", module, "--host", "127.0.0.1", "--port", str(port), "--time-scale", str(time_scale)]
    if heartbeat_interval is not None:
        argv += ["--heartbeat-interval", str(heartbeat_interval)]
    # Servers write and read their bytecode caches, as an installed package has them (pip compiles
    # on install): with PYTHONDONTWRITEBYTECODE set, our modules would be compiled on every start.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TINYFISH_") and k != "PYTHONDONTWRITEBYTECODE"
    }
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
