"""Where a server process spends its CPU: py-spy samples, summarised by package.

py-spy attaches to the running server (``--nonblocking``, so the process is never paused)
and writes collapsed stacks; ``summarize_stacks`` turns them into self and inclusive
shares per package (``tinyfish_mcp``, ``mcp``, ``starlette``, ``uvicorn``, ``httpx``,
``pydantic``, ``stdlib:asyncio`` ...) and the hottest functions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ._common import PYTHON

__all__ = ["finish_sampling", "py_spy", "start_sampling", "summarize_stacks"]

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    """The py-spy executable (``pip install py-spy`` into the venv), or None."""
    beside = Path(PYTHON).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_sampling(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` for ``seconds`` into ``output``; None when py-spy is not installed."""
    exe = py_spy()
    if exe is None:
        return None
    argv = [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "200"]
    argv += ["--nonblocking", "--format", "raw", "--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_sampling(
    proc: subprocess.Popen[bytes] | None, output: Path, timeout: float = 30.0
) -> dict[str, Any]:
    """Wait for py-spy to write its stacks and summarise them (``{}`` when there are none)."""
    if proc is None:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    if not output.exists():
        return {"error": f"py-spy wrote no samples (exit {proc.returncode}; attaching needs ptrace rights)"}
    return summarize_stacks(output)


def _package(filename: str) -> str:
    """The package of a py-spy frame's file: py-spy names files from their import root
    (``mcp/server/...``, ``asyncio/runners.py``, ``threading.py``, ``<frozen runpy>``)."""
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    if path.startswith("<"):
        return "frozen"
    match = re.search(r"/lib/python3\.\d+/(.+)", path)
    if match:
        path = match.group(1)
    first = path.lstrip("/").split("/", 1)[0].removesuffix(".py")
    return f"stdlib:{first}" if first in sys.stdlib_module_names else first


def summarize_stacks(path: Path, top: int = 12) -> dict[str, Any]:
    """Sample shares per package: self (leaf frame), owner (innermost non-stdlib frame, so the
    event loop's work is charged to the library that asked for it) and inclusive; and the
    hottest functions (self)."""
    self_by_package: Counter[str] = Counter()
    incl_by_package: Counter[str] = Counter()
    self_by_function: Counter[str] = Counter()
    owner_by_package: Counter[str] = Counter()
    total = 0
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if _FRAME.match(f)]
        if not frames:
            continue
        total += count
        parsed = [_FRAME.match(f) for f in frames]
        packages = [_package(m.group("file")) for m in parsed if m]
        leaf = parsed[-1]
        assert leaf is not None
        self_by_package[packages[-1]] += count
        # The owner is the innermost library frame: who asked for the stdlib/runtime work.
        owner = next(
            (p for p in reversed(packages) if not p.startswith("stdlib:") and p != "frozen"), "runtime"
        )
        owner_by_package[owner] += count
        self_by_function[f"{leaf.group('func')} ({_package(leaf.group('file'))})"] += count
        for package in set(packages):
            incl_by_package[package] += count

    def share(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100.0 * v / total, 1) for k, v in counter.most_common(top)} if total else {}

    return {
        "samples": total,
        "self_pct_by_package": share(self_by_package),
        "owner_pct_by_package": share(owner_by_package),
        "inclusive_pct_by_package": share(incl_by_package),
        "self_pct_by_function": share(self_by_function),
    }
