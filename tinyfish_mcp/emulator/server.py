"""``serve_in_thread``: the emulator on a real loopback port, in a daemon thread.

The server has its own event loop in its own thread, so synchronous tests, async
tests and subprocesses (the stdio server under test) can all reach it over HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from .app import close_browsers, create_app
from .config import EmulatorConfig

__all__ = ["EmulatorHandle", "serve_in_thread"]


@dataclass(frozen=True)
class EmulatorHandle:
    base_url: str
    host: str
    port: int
    app: Starlette
    config: EmulatorConfig


@contextmanager
def serve_in_thread(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[EmulatorHandle]:
    """Run the emulator until the ``with`` block ends; ``port=0`` picks a free port."""
    config = config or EmulatorConfig()
    app = create_app(config)
    # Binding here (not in uvicorn) tells us the port before the server starts. The
    # explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets whose proto
    # says TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="tinyfish-emulator"
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the TinyFish emulator did not start")
        time.sleep(0.01)
    try:
        yield EmulatorHandle(f"http://{host}:{bound_port}", host, bound_port, app, config)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
        close_browsers(app)
