"""The emulator, unmodified, behind an ASGI wrapper that stamps each SSE event as it is sent.

The emulator's own event ``timestamp`` has millisecond precision and is taken when the
event is recorded in the run's log, not when the stream writes it. For the progress
benchmark this wrapper records ``time.time()`` just before each ``/run-sse`` body chunk
is handed to uvicorn, for every PROGRESS event (its purpose and the emulator's own
stamp kept beside it), and serves them at ``GET /_bench/stamps?run_id=...``.

``python -m bench._stamped_emulator --port N [--time-scale F]``
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tinyfish_mcp.emulator import EmulatorConfig, create_app

Scope = dict[str, Any]
Message = dict[str, Any]


class SendStamps:
    """ASGI middleware: send-time stamps of PROGRESS events on every ``/run-sse`` stream."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stamps: dict[str, list[dict[str, Any]]] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/_bench/stamps":
            run_id = parse_qs(scope.get("query_string", b"").decode()).get("run_id", [""])[0]
            body = json.dumps(self.stamps.get(run_id, [])).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http" or not path.endswith("/run-sse"):
            await self.app(scope, receive, send)
            return

        pending = b""

        async def stamped_send(message: Message) -> None:
            nonlocal pending
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            stamp = time.time()
            await send(message)
            if not body:
                return
            # Parse after the send, so the stamp is not delayed by our own bookkeeping.
            pending += body
            while b"\n\n" in pending:
                block, pending = pending.split(b"\n\n", 1)
                for line in block.splitlines():
                    if not line.startswith(b"data:"):
                        continue
                    try:
                        event = json.loads(line[5:])
                    except ValueError:
                        continue
                    if event.get("type") == "PROGRESS":
                        self.stamps.setdefault(str(event.get("run_id")), []).append(
                            {
                                "sent": stamp,
                                "emitted": event.get("timestamp"),
                                "purpose": event.get("purpose"),
                            }
                        )

        await self.app(scope, receive, stamped_send)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._stamped_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()
    app = SendStamps(create_app(EmulatorConfig(time_scale=args.time_scale)))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
