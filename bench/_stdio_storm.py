"""Many concurrent tool calls over one stdio pipe, with a raw client that stays cheap.

The server is a subprocess; this side writes JSON-RPC lines on its stdin and reads its
stdout line by line on one asyncio loop. No SDK client: a request is one pre-encoded
line, and a progress notification costs one ``json.loads`` and a counter increment, so
ten thousand concurrent calls do not make the client the bottleneck.

Event-loop lag is probed over the same pipe: a ``ping`` every 100 ms, its round trip
timed. It waits behind whatever the server is writing at that moment, so it measures
what a client sharing that pipe would feel (stdin reader, dispatcher, stdout writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from ._common import LOG_DIR, PROTOCOL_VERSION, ROOT, BenchError, cpu_seconds, rss_mb
from ._procs import tail_of

# Stop waiting when no progress at all has arrived this long after the launch.
STALL_SECONDS = 60.0
# Requests written to the pipe per write (then drained).
WRITE_BATCH = 500


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class _Peer:
    """The server's pipes, read by one task that sorts every line into the counters."""

    def __init__(self, proc: asyncio.subprocess.Process, calls: int, launched: list[float]) -> None:
        self.proc = proc
        self.replies: list[dict[str, Any] | None] = [None] * calls
        self.progress = [0] * calls
        self.first_progress: list[float | None] = [None] * calls
        self.answered = 0
        self.all_answered = asyncio.Event()
        self.calls = calls
        self.launched = launched  # [time the first call was written]
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.unmatched = 0
        self.malformed = 0

    async def read_forever(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            try:
                message = json.loads(line)
            except ValueError:
                self.malformed += 1
                continue
            self._sort(message)

    def _sort(self, message: dict[str, Any]) -> None:
        if message.get("method") == "notifications/progress":
            token = str((message.get("params") or {}).get("progressToken", ""))
            if token.startswith("s") and token[1:].isdigit() and int(token[1:]) < self.calls:
                index = int(token[1:])
                self.progress[index] += 1
                if self.first_progress[index] is None:
                    self.first_progress[index] = time.perf_counter() - self.launched[0]
            else:
                self.unmatched += 1
            return
        ident = message.get("id")
        if isinstance(ident, str):
            waiter = self._waiting.pop(ident, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            return
        if isinstance(ident, int) and 0 <= ident < self.calls and ("result" in message or "error" in message):
            if self.replies[ident] is None:
                self.answered += 1
            self.replies[ident] = message
            if self.answered == self.calls:
                self.all_answered.set()
            return
        if "method" not in message:
            self.unmatched += 1

    async def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def request(self, ident: str, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = waiter
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        await self.write(_line(message))
        return await waiter


async def _probe(
    peer: _Peer, stop: asyncio.Event, samples: list[float], name: str, sent: list[float] | None = None
) -> None:
    """A ``ping`` every 100 ms on the shared pipe; its round trip stands in for loop lag.

    ``sent`` gets each answered ping's send time, in seconds since the launch.
    """
    sequence = 0
    while not stop.is_set():
        sequence += 1
        started = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.request(f"{name}-{sequence}", "ping"), 300.0)
            samples.append(time.perf_counter() - started)
            if sent is not None:
                sent.append(started - peer.launched[0])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, 0.1 - (time.perf_counter() - started)))


async def stdio_storm(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    calls: int,
    arguments: Callable[[int], dict[str, Any]],
    max_seconds: float,
    idle_probe: float,
    warm_up: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``calls`` concurrent ``run_web_automation`` calls, progress token ``s<index>``, id ``index``.

    ``warm_up`` are the arguments of one call made first, alone, so the idle RSS is taken
    after the server has imported and built what a call needs (the upstream client is lazy).
    """
    log = LOG_DIR / f"stdio-storm-{time.time_ns()}.log"
    with log.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            env=env,
            cwd=ROOT,
            limit=16 * 1024 * 1024,
        )
    launched = [time.perf_counter()]
    peer = _Peer(proc, calls, launched)
    reader = asyncio.create_task(peer.read_forever())
    try:
        init = await asyncio.wait_for(
            peer.request(
                "init",
                "initialize",
                {
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "tinyfish-bench-streams", "version": "1"},
                },
            ),
            60.0,
        )
        if "error" in init:
            raise BenchError(f"initialize failed: {init['error']}")
        await peer.write(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        if warm_up is not None:
            params = {"name": "run_web_automation", "arguments": warm_up}
            warm = await asyncio.wait_for(peer.request("warm-up", "tools/call", params), 60.0)
            if "error" in warm or warm["result"].get("isError"):
                raise BenchError(f"the warm-up call failed: {str(warm)[:500]}")
        got = await _drive(
            peer,
            calls=calls,
            arguments=arguments,
            max_seconds=max_seconds,
            idle_probe=idle_probe,
            launched=launched,
        )
        got["server_pid"] = proc.pid
        got["rss_peak"] = rss_mb(proc.pid, peak=True)
        got["rss_after"] = rss_mb(proc.pid)
        got["unmatched_messages"] = peer.unmatched
        got["malformed_lines"] = peer.malformed
        return got
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise BenchError(f"the server closed its pipe ({exc!r}):\n{tail_of(log)}") from None
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 20.0)
        except TimeoutError:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _drive(
    peer: _Peer,
    *,
    calls: int,
    arguments: Callable[[int], dict[str, Any]],
    max_seconds: float,
    idle_probe: float,
    launched: list[float],
) -> dict[str, Any]:
    pid = peer.proc.pid
    idle: list[float] = []
    loaded: list[float] = []
    loaded_sent: list[float] = []
    rss: list[float] = []
    stop_idle = asyncio.Event()
    idle_task = asyncio.create_task(_probe(peer, stop_idle, idle, "idle"))
    await asyncio.sleep(idle_probe)
    stop_idle.set()
    await idle_task
    rss_idle = rss_mb(pid)

    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            rss.append(rss_mb(pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    lines = [
        _line(
            {
                "jsonrpc": "2.0",
                "id": index,
                "method": "tools/call",
                "params": {
                    "name": "run_web_automation",
                    "arguments": arguments(index),
                    "_meta": {"progressToken": f"s{index}"},
                },
            }
        )
        for index in range(calls)
    ]
    cpu_before = cpu_seconds(pid)
    started = launched[0] = time.perf_counter()
    helpers = [
        asyncio.create_task(_probe(peer, stop, loaded, "ping", loaded_sent)),
        asyncio.create_task(sample()),
    ]
    for first in range(0, calls, WRITE_BATCH):
        await peer.write(b"".join(lines[first : first + WRITE_BATCH]))
    written = time.perf_counter() - started
    del lines
    stalled = False
    while not peer.all_answered.is_set() and time.perf_counter() - started < max_seconds:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.all_answered.wait(), 1.0)
        if peer.proc.returncode is not None:
            break
        # Give up early when not one run has even started: the server is stuck.
        if not any(peer.progress) and time.perf_counter() - started > STALL_SECONDS:
            stalled = True
            break
    wall = time.perf_counter() - started
    cpu_used = cpu_seconds(pid) - cpu_before
    stop.set()
    await asyncio.gather(*helpers)
    return {
        "replies": peer.replies,
        "progress": peer.progress,
        "first_progress": [t for t in peer.first_progress if t is not None],
        "failures": [] if peer.proc.returncode is None else [f"server exited with {peer.proc.returncode}"],
        "unfinished": calls - peer.answered,
        "stalled": stalled,
        "wall_seconds": round(wall, 2),
        "write_seconds": round(written, 2),
        "idle_probe": idle,
        "loaded_probe": loaded,
        "loaded_probe_sent": loaded_sent,
        "rss": rss,
        "rss_idle": rss_idle,
        "server_cpu_seconds": round(cpu_used, 2),
    }
