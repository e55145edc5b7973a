"""Steps only a person can take (sign in, top up), asked as URL elicitations where they can be.

On a handshake connection (stdio, stateful HTTP) whose client declared URL-mode elicitation,
:func:`ask_to_open` asks the client to open a page for the user and waits for the answer, at
most ``mcp_elicitation_timeout`` seconds. On a 2026-07-28 connection there is no
server-to-client request mid-call: the question rides the multi-round ``InputRequiredResult``
instead (:func:`question_in_rounds`): the client asks the user and sends the call again with
the answer and the ``requestState`` we gave, which the SDK's boundary seals and opens with a
key from the deployment secret (``pipeline/top_up.py``), so any replica reads it. Elsewhere
nothing is asked and the tool's result says in text what the user should do. See docs/live-view.md.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp.server.mcpserver import Context

from ..settings import Settings
from ..upstream.deadline import current_deadline

__all__ = [
    "FIRST_STATELESS",
    "Answer",
    "ask_on_session",
    "ask_to_open",
    "can_ask",
    "declares_url",
    "handshake_can_ask",
    "question_in_rounds",
    "resumed_answer",
    "rounds_can_ask",
]

Answer = Literal["accept", "decline", "cancel", "unanswered", "not_asked"]
FIRST_STATELESS = "2026-07-28"  # from this version on, no server-to-client requests mid-call


@contextmanager
def _not_counted() -> Iterator[None]:
    """The time the user takes to answer is not drawn from the call's upstream deadline: what
    the call does next (save the profile, send the create again) gets the time it had left."""
    deadline = current_deadline()
    started = anyio.current_time()
    try:
        yield
    finally:
        if deadline is not None:
            deadline.end += anyio.current_time() - started


def declares_url(capabilities: types.ClientCapabilities | None) -> bool:
    """Whether the client declared URL-mode elicitation."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and elicitation.url is not None


def handshake_can_ask(version: str | None, capabilities: types.ClientCapabilities | None) -> bool:
    """A handshake connection (before 2026-07-28) whose client takes URL elicitations."""
    return version is not None and version < FIRST_STATELESS and declares_url(capabilities)


def can_ask(ctx: Context[Any, Any]) -> bool:
    """Whether this call's connection can carry a URL elicitation now."""
    return handshake_can_ask(ctx.protocol_version, ctx.client_capabilities)


async def ask_to_open(ctx: Context[Any, Any], settings: Settings, message: str, url: str) -> Answer:
    """Ask the user to open ``url``: their answer, ``unanswered`` after the deadline, or ``not_asked``."""
    if not can_ask(ctx):
        return "not_asked"
    with _not_counted(), anyio.move_on_after(settings.mcp_elicitation_timeout):
        result = await ctx.elicit_url(message, url, uuid.uuid4().hex)
        return result.action
    return "unanswered"


async def ask_on_session(
    session: Any, request_id: types.RequestId | None, settings: Settings, message: str, url: str
) -> Answer:
    """:func:`ask_to_open` for code that holds the server session (a ``tools/call`` interceptor)."""
    with _not_counted(), anyio.move_on_after(settings.mcp_elicitation_timeout):
        result: types.ElicitResult = await session.elicit_url(
            message, url, uuid.uuid4().hex, related_request_id=request_id
        )
        return result.action
    return "unanswered"


QUESTION = "url"  # our key in an InputRequiredResult's inputRequests


def rounds_can_ask(ctx: Context[Any, Any]) -> bool:
    """A 2026-07-28 connection whose client takes URL elicitations (asked in rounds)."""
    version = ctx.protocol_version
    return version is not None and version >= FIRST_STATELESS and declares_url(ctx.client_capabilities)


def question_in_rounds(message: str, url: str, state: dict[str, Any]) -> types.InputRequiredResult:
    """Ask to open ``url`` by returning ``input_required``; ``state`` comes back with the answer."""
    question = types.ElicitRequest(
        params=types.ElicitRequestURLParams(message=message, url=url, elicitation_id=uuid.uuid4().hex)
    )
    sealed = json.dumps({"asked": time.time(), "state": state})
    return types.InputRequiredResult(input_requests={QUESTION: question}, request_state=sealed)


def resumed_answer(ctx: Context[Any, Any], settings: Settings) -> tuple[Answer, dict[str, Any]] | None:
    """On the call sent again after :func:`question_in_rounds`: the answer (``unanswered`` past
    the deadline) and the state; None on a first round. The boundary has checked the seal."""
    if ctx.request_state is None:
        return None
    try:
        opened = json.loads(ctx.request_state)
        asked, state = float(opened["asked"]), opened["state"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(state, dict):
        return None
    response = (ctx.input_responses or {}).get(QUESTION)
    answer: Answer = response.action if isinstance(response, types.ElicitResult) else "unanswered"
    if time.time() - asked > settings.mcp_elicitation_timeout:
        answer = "unanswered"
    return answer, state
