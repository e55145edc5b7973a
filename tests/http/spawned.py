"""``tinyfish-mcp http`` as a real process, with everything it logs kept in a file.

For the tests that read the server's logs: uvicorn's access and error logs and our own
go to the process's stdout and stderr exactly as an operator would see them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from _servers import clean_env, free_port
from hosted import SECRET


@dataclass
class Spawned:
    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    def stop(self) -> str:
        """End the server (as Ctrl-C would) and return everything it logged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.log_path.read_text(errors="replace")


@contextmanager
def spawned_oauth_server(upstream_url: str, folder: Path, **settings: str) -> Iterator[Spawned]:
    """``spawned_server`` in oauth mode (the default) on ``upstream_url``, logging at DEBUG,
    its store a SQLite file in ``folder``; ``settings`` are further environment variables."""
    env = {
        "TINYFISH_MCP_SECRET": SECRET,
        "TINYFISH_MCP_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'oauth.db'}",
        "TINYFISH_BASE_URL": upstream_url,
        "TINYFISH_MCP_POLL_INITIAL": "0.05",
        **settings,
    }
    with spawned_server(folder, env, "--log-level", "DEBUG") as served:
        yield served


@contextmanager
def spawned_server(log_dir: Path, env: dict[str, str], *args: str) -> Iterator[Spawned]:
    """Run ``python -m tinyfish_mcp <args> http --port <free>`` until the block ends."""
    port = free_port()
    clean = clean_env()
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "tinyfish_mcp", *args, "http", "--host", "127.0.0.1", "--port", str(port)],
            env={**clean, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Spawned(url=f"http://127.0.0.1:{port}", log_path=log_path, process=process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("the server exited:\n" + log_path.read_text(errors="replace"))
            try:
                if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.1)
        yield served
    finally:
        served.stop()
