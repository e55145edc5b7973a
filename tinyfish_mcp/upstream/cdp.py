"""Ending a browser session over its CDP WebSocket.

TinyFish publishes no endpoint to delete a browser session; a CDP browser ends when it
receives ``Browser.close``. ``close_browser(cdp_url)`` sends it and waits (bounded) for
the reply or for the browser to drop the connection. A browser that is already gone
(connection refused, or a 404/410 at the handshake) is reported as such, not as an error.
The WebSocket carries no API key: the session's URL is its own credential.
"""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import urlsplit

import anyio

from .errors import UpstreamConnectionError, UpstreamProtocolError, UpstreamTimeoutError

__all__ = ["CLOSE_WAIT", "CloseOutcome", "close_browser"]

CLOSE_WAIT = 10.0  # seconds for the handshake, Browser.close and the browser's reply together

CloseOutcome = Literal["closed", "already_ended"]
_GONE_STATUSES = frozenset({404, 410})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


async def close_browser(cdp_url: str, *, wait: float) -> CloseOutcome:
    """Send ``Browser.close`` on ``cdp_url``; "closed", or "already_ended" when nothing answers there."""
    from websockets.asyncio.client import connect  # loaded only when a session is closed
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

    host = (urlsplit(cdp_url).hostname or "").lower()
    try:
        with anyio.fail_after(wait):
            async with connect(
                cdp_url,
                open_timeout=wait,
                close_timeout=1,
                max_size=None,
                ping_interval=None,
                # Loopback (the emulator) never goes through a proxy from the environment.
                proxy=None if host in _LOOPBACK else True,
            ) as socket:
                await socket.send(json.dumps({"id": 1, "method": "Browser.close"}))
                try:
                    async for message in socket:
                        reply = json.loads(message)
                        if isinstance(reply, dict) and reply.get("id") == 1:
                            if "error" in reply:
                                detail = reply["error"].get("message", "refused")
                                raise UpstreamProtocolError(f"the browser refused Browser.close: {detail}")
                            break
                except ConnectionClosed:
                    pass  # the browser went away while closing: that is the point
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in _GONE_STATUSES:
            return "already_ended"
        raise UpstreamConnectionError(
            f"the session's CDP endpoint answered HTTP {status}", status=status
        ) from None
    except InvalidURI:
        raise UpstreamProtocolError(f"the session's cdp_url is not a WebSocket URL: {cdp_url}") from None
    except ConnectionRefusedError:
        return "already_ended"
    except TimeoutError:
        raise UpstreamTimeoutError(f"the browser did not confirm Browser.close within {wait:g} s") from None
    except (OSError, InvalidHandshake, ConnectionClosed) as exc:
        what = type(exc).__name__
        raise UpstreamConnectionError(f"could not reach the session's CDP endpoint ({what})") from None
    except ValueError:
        raise UpstreamProtocolError("the browser answered Browser.close with something not JSON") from None
    return "closed"
