"""``python -m tinyfish_mcp`` and the ``tinyfish-mcp`` command (``main``)."""

from __future__ import annotations

import gc

# The cyclic collector is off from the first import: the start builds ~140,000 long-lived
# objects and collecting while they are made cost ~9 ms before the server code even ran.
# ``cli.main`` turns it back on at once for every command but stdio, whose serving turns it
# on once the start-up heap is settled (``cli._serve_stdio``, ``gctune.settle_heap``).
gc.disable()

from .cli import main  # noqa: E402  (after the collector is off)

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
