"""``python -m tinyfish_mcp``: the same as the ``tinyfish-mcp`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
