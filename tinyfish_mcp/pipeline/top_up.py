"""A billed call refused for credits asks the user to top up, where the connection can carry it.

An extension around every tool whose :class:`~.catalog.Nature` is ``billed``. When the call
ends in TinyFish's refusal for credits (402 ``INSUFFICIENT_CREDITS``, or the 403 that says so)
and the client declared URL-mode elicitation, the user is offered the top-up page:

* on a handshake connection (stdio, stateful HTTP) as ``elicitation/create`` mid-call, waiting
  at most ``mcp_elicitation_timeout`` seconds;
* on a 2026-07-28 connection as an ``InputRequiredResult``: the client asks the user and sends
  the call again with the answer and our ``requestState`` (sealed by the SDK's boundary with a
  key derived from the deployment secret, so any replica opens it: ``request_state_security``).

If the user says they topped up, the call runs again **once**, and only when its upstream
writes were all refused (``upstream/writes.py``): a refusal before anything was created means
running it again cannot double anything billed. On a decline, no answer in time, or a call that
may have created something, the call returns its error with what to do next.
"""

from __future__ import annotations

import json
import time
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension
from mcp.server.request_state import AESGCMRequestStateCodec, RequestStateSecurity

from ..runtime.human_steps import FIRST_STATELESS, Answer, ask_on_session, declares_url
from ..settings import Settings
from ..upstream.constants import TOP_UP_URL
from ..upstream.writes import watching
from .catalog import Catalog
from .task_ids import deployment_keys

__all__ = ["TopUps", "request_state_security"]

QUESTION = "top_up"  # our key in the InputRequiredResult's inputRequests
_STATE_LABEL = b"tinyfish-mcp/request-state/v1"
_STATE_GRACE = 300.0  # the sealed state outlives the question, so a late answer reads in our words
MESSAGE = (
    "Your TinyFish account is out of credits. Open the billing page to add credits, "
    "then accept to run the call again (nothing was charged for the refused call)."
)


class _DeploymentCodec:
    """The SDK's AES-GCM codec, keyed on first use (a server never asked writes no key file)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._codec: AESGCMRequestStateCodec | None = None

    def _ready(self) -> AESGCMRequestStateCodec:
        if self._codec is None:
            self._codec = AESGCMRequestStateCodec(deployment_keys(self._settings, _STATE_LABEL))
        return self._codec

    def seal(self, payload: bytes) -> str:
        return self._ready().seal(payload)

    def unseal(self, token: str) -> bytes:
        return self._ready().unseal(token)


def request_state_security(settings: Settings) -> RequestStateSecurity:
    """Sealing for ``requestState``: a key from the deployment secret (HKDF, its own label), or
    on stdio from the random key in the state directory, so any replica can open it."""
    return RequestStateSecurity(
        codec=_DeploymentCodec(settings), ttl=settings.mcp_elicitation_timeout + _STATE_GRACE
    )


def _error_text(result: HandlerResult) -> str | None:
    if not isinstance(result, types.CallToolResult) or not result.is_error:
        return None
    return " ".join(block.text for block in result.content if isinstance(block, types.TextContent))


def _failed(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def _next_step(answer: Answer, retried: bool, made_nothing: bool, seconds: float) -> str:
    if answer == "accept" and not made_nothing:
        return (
            "The user says they topped up, but this call may already have created something upstream, "
            "so it was not repeated: check list_runs (or the product's list) before calling again."
        )
    if answer == "accept" and retried:
        return (
            "The user said they topped up and the call was sent once more, but it was refused again: "
            f"ask them to check the balance (get_wallet) and {TOP_UP_URL}; do not loop."
        )
    if answer in ("decline", "cancel"):
        return f"The user declined to top up now: do not retry; tell them it needs credits ({TOP_UP_URL})."
    return (
        f"The user did not answer within {seconds:g} s: once they have added credits at {TOP_UP_URL}, "
        "call the tool again."
    )


class TopUps(Extension):
    """``tools/call`` of billed tools: a refusal for credits becomes the top-up question."""

    identifier = "ai.tinyfish/top-up"

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self._catalog = catalog
        self._settings = settings

    async def intercept_tool_call(
        self, params: types.CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if self._catalog.get_tool(params.name) is None or not self._catalog.nature(params.name).billed:
            return await call_next(ctx)
        modern = ctx.protocol_version >= FIRST_STATELESS
        if modern and params.request_state is not None:
            return await self._resume(params, ctx, call_next)
        with watching() as log:
            result = await call_next(ctx)
        text = _error_text(result)
        if text is None or not log.credit_refused or not declares_url(ctx.session.client_capabilities):
            return result
        if modern:
            state = {"q": QUESTION, "asked": time.time(), "clean": log.made_nothing, "error": text}
            return types.InputRequiredResult(
                input_requests={QUESTION: self._question()}, request_state=json.dumps(state)
            )
        answer = await ask_on_session(ctx.session, ctx.request_id, self._settings, MESSAGE, TOP_UP_URL)
        return await self._answered(answer, log.made_nothing, text, ctx, call_next)

    def _question(self) -> types.ElicitRequest:
        return types.ElicitRequest(
            params=types.ElicitRequestURLParams(
                message=MESSAGE, url=TOP_UP_URL, elicitation_id=f"top-up-{time.time_ns():x}"
            )
        )

    async def _resume(
        self, params: types.CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """The second round on a 2026-07-28 connection: the state is ours (the boundary opened it)."""
        try:
            state = json.loads(params.request_state or "")
            asked, clean, text = float(state["asked"]), bool(state["clean"]), str(state["error"])
        except (ValueError, KeyError, TypeError):
            return _failed("The requestState of this call is not one this server made: call the tool again.")
        response = (params.input_responses or {}).get(QUESTION)
        answer: Answer = response.action if isinstance(response, types.ElicitResult) else "unanswered"
        if time.time() - asked > self._settings.mcp_elicitation_timeout:
            answer = "unanswered"
        return await self._answered(answer, clean, text, ctx, call_next)

    async def _answered(
        self, answer: Answer, clean: bool, text: str, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        seconds = self._settings.mcp_elicitation_timeout
        if answer != "accept" or not clean:
            return _failed(f"{text} {_next_step(answer, False, clean, seconds)}")
        with watching() as again:
            result = await call_next(ctx)  # once: a second refusal is not asked again
        retried_text = _error_text(result)
        if retried_text is not None and again.credit_refused:
            return _failed(f"{retried_text} {_next_step(answer, True, clean, seconds)}")
        return result
