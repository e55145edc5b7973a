"""``python -m tinyfish_mcp.emulator --port N [--api-key KEY ...]``."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Sequence

import uvicorn

from .app import close_browsers, create_app
from .config import DEFAULT_API_KEY, EmulatorConfig

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tinyfish_mcp.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"a valid key (repeatable; default {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--no-credit-key",
        action="append",
        dest="no_credit_keys",
        default=[],
        metavar="KEY",
        help="a key that authenticates but has no credit (repeatable)",
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help="multiplier of the 10-minute run limit")
    parser.add_argument("--search-rate-limit", type=int, default=5, help="searches per minute per key")
    parser.add_argument("--step-delay", type=float, default=EmulatorConfig.step_delay)
    parser.add_argument("--heartbeat-interval", type=float, default=EmulatorConfig.heartbeat_interval)
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
        no_credit_keys=tuple(args.no_credit_keys),
        time_scale=args.time_scale,
        search_rate_limit=args.search_rate_limit,
        step_delay=args.step_delay,
        heartbeat_interval=args.heartbeat_interval,
    )
    print(f"TinyFish emulator on http://{args.host}:{args.port} (keys: {len(config.api_keys)})", flush=True)
    app = create_app(config)
    # It stands in for a remote service next to the server under test (benchmarks share the
    # cores): what it built at start is never walked again by a collection, and the garbage
    # of its requests is collected in batches, so its pauses do not show up as the server's.
    gc.freeze()
    gc.set_threshold(7_000, *gc.get_threshold()[1:])
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        close_browsers(app)


if __name__ == "__main__":
    main()
