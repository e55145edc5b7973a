"""A billed call refused for credits offers the top-up page as a URL elicitation.

Through the SDK client's elicitation callback, on a handshake connection (``elicitation/create``
mid-call) and on a 2026-07-28 one (``InputRequiredResult``, the client sends the call again with
the answer and our sealed ``requestState``). Accept runs the call once more (the refusal created
nothing); decline and no answer in time return the error with what to do next. The emulator's
request log proves nothing billed is sent twice beyond that one repeat of a refused create.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from _mcp import CheckedClient, answering
from mcp.server.request_state import InvalidRequestState

from tinyfish_mcp.pipeline.top_up import request_state_security
from tinyfish_mcp.server import build_server
from tinyfish_mcp.settings import Settings
from tinyfish_mcp.upstream.wallet import TOP_UP_URL
from tinyfish_mcp.upstream.writes import note_attempt, watching

RUN = {"url": "https://shop.example.com", "goal": "Find the price"}
CREATE = "/v1/automation/run-async"


def _server(emulator: Any, **settings: Any) -> Any:
    values: dict[str, Any] = {
        "base_url": emulator.base_url,
        "api_key": emulator.api_key,
        "mcp_toolsets": ("agent", "runs"),
        "mcp_session_id_store": "memory",
        "mcp_elicitation_timeout": 0.5,
        **settings,
    }
    return build_server(Settings(**values))


def _creates(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == CREATE]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("action", ["accept", "decline", "silent"])
async def test_a_credit_refusal_asks_to_top_up(emulator: Any, mode: str, action: str) -> None:
    emulator.fault(CREATE, method="POST", status=402)  # the first create is refused for credits
    asked: list[types.ElicitRequestParams] = []
    server = _server(emulator)
    async with CheckedClient(server, mode=mode, elicitation_callback=answering(action, asked)) as client:
        result = await client.call_tool("run_web_automation_async", RUN)
        runs = (await client.call_tool("list_runs", {})).structured_content or {}

    # One URL elicitation: the billing page.
    assert len(asked) == 1 and isinstance(asked[0], types.ElicitRequestURLParams)
    assert asked[0].url == TOP_UP_URL and "out of credits" in asked[0].message
    creates = _creates(emulator)
    if action == "accept":
        # Sent once more, because the refusal created nothing: one run exists.
        assert not result.is_error, result.content
        run_id = (result.structured_content or {})["run_id"]
        assert len(creates) == 2
        assert [r["run_id"] for r in runs["runs"]] == [run_id]
    else:
        assert result.is_error and len(creates) == 1 and runs["runs"] == []
        text = result.content[0].text  # type: ignore[union-attr]
        assert "credits" in text and TOP_UP_URL in text  # today's error, with the page
        if action == "decline":
            assert "declined to top up now: do not retry" in text
        else:
            assert "did not answer within 0.5 s" in text and "call the tool again" in text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_refused_again_after_accepting_is_not_asked_twice(emulator: Any, mode: str) -> None:
    emulator.fault(CREATE, method="POST", status=402, count=2)
    asked: list[types.ElicitRequestParams] = []
    server = _server(emulator)
    async with CheckedClient(server, mode=mode, elicitation_callback=answering("accept", asked)) as client:
        result = await client.call_tool("run_web_automation_async", RUN)
    assert result.is_error and len(asked) == 1 and len(_creates(emulator)) == 2
    assert "refused again" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_without_url_elicitation_gets_the_text(emulator: Any, mode: str) -> None:
    emulator.fault(CREATE, method="POST", status=402)
    async with CheckedClient(_server(emulator), mode=mode) as client:
        result = await client.call_tool("run_web_automation_async", RUN)
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and TOP_UP_URL in text and "top up now" not in text
    assert len(_creates(emulator)) == 1


def test_only_refused_writes_prove_nothing_was_made() -> None:
    with watching() as log:
        note_attempt("GET", 200)  # reads do not count
        note_attempt("POST", 402)
    assert log.made_nothing
    for outcome in (200, 500, 408, TimeoutError("lost")):  # made, or may have been made
        with watching() as log:
            note_attempt("POST", 402)
            note_attempt("POST", outcome)
        assert not log.made_nothing, outcome
    with watching() as log:
        pass
    assert not log.made_nothing  # no write at all proves nothing either


def test_request_state_opens_on_another_replica(tmp_path: Any) -> None:
    def codec(secret: str) -> Any:
        return request_state_security(Settings(mcp_secret=secret, mcp_state_dir=str(tmp_path))).codec

    token = codec("s" * 32).seal(b"state")
    assert codec("s" * 32).unseal(token) == b"state"  # a second replica, same deployment secret
    with pytest.raises(InvalidRequestState):
        codec("t" * 32).unseal(token)


async def test_the_time_the_user_takes_is_not_the_calls_deadline(emulator: Any) -> None:
    # The user answers after the call's whole create deadline: the repeat still has its time.
    emulator.fault(CREATE, method="POST", status=402)
    asked: list[types.ElicitRequestParams] = []

    async def late_yes(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params)
        await anyio.sleep(1.5)
        return types.ElicitResult(action="accept")

    server = _server(emulator, mcp_create_deadline=1.0, mcp_elicitation_timeout=10)
    async with CheckedClient(server, mode="legacy", elicitation_callback=late_yes) as client:
        result = await client.call_tool("run_web_automation_async", RUN)
    assert not result.is_error, result.content
    assert len(asked) == 1 and len(_creates(emulator)) == 2
