"""Servers that tests start: a free loopback port, a clean stop, a small site on a thread."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Answer", "clean_env", "free_port", "loopback_site", "stop_process"]

# What a loopback site answers a GET with: content type, body, further headers.
Answer = tuple[str, bytes, Mapping[str, str]]


def clean_env(*also_drop: str, **settings: str) -> dict[str, str]:
    """This process's environment without the project's settings (and ``also_drop`` prefixes),
    plus ``settings``: what a server started by a test sees, whatever the developer's shell has."""
    dropped = ("TINYFISH_", *also_drop)
    return {**{k: v for k, v in os.environ.items() if not k.startswith(dropped)}, **settings}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to it soon: another may take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds; reaped either way."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def loopback_site(answer: Callable[[str, Mapping[str, str]], Answer]) -> Iterator[str]:
    """A site on 127.0.0.1 that answers every GET with ``answer(path, headers)``; yields its origin."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body, headers = answer(self.path, dict(self.headers))
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
