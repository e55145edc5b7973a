"""A faithful emulator of the TinyFish APIs, for tests and local use.

``create_app(config)`` builds the Starlette app; ``serve_in_thread(config)`` runs it on a
loopback port; ``python -m tinyfish_mcp.emulator --port N`` serves it from a shell.
It imports nothing else of ``tinyfish_mcp``.
"""

from .app import create_app
from .config import EmulatorConfig
from .server import EmulatorHandle, serve_in_thread

__all__ = ["EmulatorConfig", "EmulatorHandle", "create_app", "serve_in_thread"]
