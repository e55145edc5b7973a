"""Steps only a person can take (sign in, top up), asked as URL elicitations where they can be.

On a handshake connection (stdio, stateful HTTP) whose client declared URL-mode elicitation,
:func:`ask_to_open` asks the client to open a page for the user and waits for the answer, at
most ``mcp_elicitation_timeout`` seconds. Elsewhere (a 2026-07-28 connection, a client without
URL elicitation) it asks nothing and the tool's result says in text what the user should do.
The 2026-07-28 multi-round ``InputRequiredResult`` is not used yet: see docs/live-view.md.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import Context

from ..settings import Settings

__all__ = ["Answer", "ask_to_open", "can_ask"]

Answer = Literal["accept", "decline", "cancel", "unanswered", "not_asked"]
FIRST_STATELESS = "2026-07-28"  # from this version on, no server-to-client requests mid-call


def can_ask(ctx: Context[Any, Any]) -> bool:
    """Whether this call's connection can carry a URL elicitation now."""
    version = ctx.protocol_version
    if version is None or version >= FIRST_STATELESS:
        return False
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and elicitation.url is not None


async def ask_to_open(ctx: Context[Any, Any], settings: Settings, message: str, url: str) -> Answer:
    """Ask the user to open ``url``: their answer, ``unanswered`` after the deadline, or ``not_asked``."""
    if not can_ask(ctx):
        return "not_asked"
    with anyio.move_on_after(settings.mcp_elicitation_timeout):
        result = await ctx.elicit_url(message, url, uuid.uuid4().hex)
        return result.action
    return "unanswered"
