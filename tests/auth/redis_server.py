"""A throwaway ``redis-server`` for the shared rate-limit tests (Debian's package; ``.ci/run`` installs it).

``wanted()`` says whether the Redis cases are generated: when the program is installed,
and always under ``CI=true``, where a missing server then fails the tests instead of
leaving them out. ``running_redis()`` starts the server on 127.0.0.1 on a free port, with
no persistence, in a temporary directory, and stops it on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from _servers import free_port, stop_process

__all__ = ["find_redis_server", "running_redis", "wanted"]

_START_TIMEOUT = 20.0
_START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


def find_redis_server() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


def wanted() -> bool:
    return find_redis_server() is not None or os.environ.get("CI", "").lower() == "true"


def _start(program: str, directory: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    port = free_port()
    log = directory / f"redis-{port}.log"
    process = subprocess.Popen(  # noqa: S603 - a fixed program, arguments of our own
        [
            program,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--logfile",
            str(log),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + _START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return None
            try:
                client.ping()
                return process, url
            except redis.ConnectionError:
                time.sleep(0.05)
    finally:
        client.close()
    process.kill()
    process.wait()
    return None


@contextmanager
def running_redis() -> Iterator[str]:
    """Start a redis-server; yield its URL."""
    program = find_redis_server()
    if program is None:
        raise RuntimeError(
            "redis-server is not installed (CI=true requires it): apt-get install redis-server"
        )
    with tempfile.TemporaryDirectory(prefix="tfmcp-redis-") as directory:
        for _ in range(_START_ATTEMPTS):
            started = _start(program, Path(directory))
            if started is not None:
                break
        else:
            logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in Path(directory).glob("*.log"))
            raise RuntimeError(f"redis-server did not start:\n{logs}")
        process, url = started
        try:
            yield url
        finally:
            stop_process(process)
