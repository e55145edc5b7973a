"""Profile sign-in asked as a URL elicitation: accept saves, decline closes, no answer leaves it open.

Through the SDK client's elicitation callback: on a handshake connection mid-call, on a
2026-07-28 connection as an ``InputRequiredResult`` (the client sends the call again with the
answer; the setup browser opened in the first round is the one saved or closed). A client that
declared no URL elicitation is not asked and gets today's text.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from _mcp import CheckedClient, answering

from tinyfish_mcp.server import build_server
from tinyfish_mcp.settings import Settings

START = {"profile_id": "prof_shop", "url": "shop.example.com/login"}


def _server(emulator: Any, **settings: Any) -> Any:
    values: dict[str, Any] = {
        "base_url": emulator.base_url,
        "api_key": emulator.api_key,
        "mcp_toolsets": ("profiles",),
        "mcp_session_id_store": "memory",
        **settings,
    }
    return build_server(Settings(**values))


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("action", ["accept", "decline", "silent"])
async def test_the_client_is_asked_to_sign_in(emulator: Any, mode: str, action: str) -> None:
    asked: list[types.ElicitRequestParams] = []
    server = _server(emulator, mcp_elicitation_timeout=0.5)
    async with CheckedClient(server, mode=mode, elicitation_callback=answering(action, asked)) as client:
        result = await client.call_tool("start_profile_setup_session", START)
        setup: dict[str, Any] = result.structured_content or {}
        assert not result.is_error, result.content

        # One URL elicitation: the setup browser's viewer, to sign in.
        assert len(asked) == 1 and isinstance(asked[0], types.ElicitRequestURLParams)
        assert asked[0].url == setup["viewer_url"] and "sign in" in asked[0].message
        open_now = httpx.get(f"{setup['base_url']}/pages", timeout=10).status_code == 200
        if action == "accept":
            assert setup["user_answer"] == "accept" and setup["saved"]["profile_id"] == "prof_shop"
            assert "profile_id='prof_shop'" in setup["next_step"] and not open_now
        elif action == "decline":
            assert setup["user_answer"] == "decline" and "saved" not in setup
            assert "closed and nothing was saved" in setup["next_step"]
            assert not open_now  # the setup browser was cancelled
        else:
            assert setup["user_answer"] == "unanswered" and "saved" not in setup
            assert "did not answer within 0.5 s" in setup["next_step"]
            assert "save_profile_setup_session(profile_id='prof_shop'" in setup["next_step"]
            assert open_now  # still open: the user may still sign in
    # One setup browser in all: the call sent again with the answer opened no other.
    starts = [r for r in emulator.requests() if r["path"].endswith("/setup-session")]
    assert [r["method"] for r in starts] == ["POST"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_without_url_elicitation_gets_the_text(emulator: Any, mode: str) -> None:
    async with CheckedClient(_server(emulator), mode=mode) as client:
        setup = (await client.call_tool("start_profile_setup_session", START)).structured_content or {}
    assert "user_answer" not in setup and "saved" not in setup  # None fields are left out
    assert setup["next_step"].startswith("Once the user has signed in, call save_profile_setup_session(")


async def test_a_slow_yes_still_saves(emulator: Any) -> None:
    # The user signs in for longer than the call's deadline: saving still has its time.
    async def late_yes(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        await anyio.sleep(1.5)
        return types.ElicitResult(action="accept")

    server = _server(emulator, mcp_read_deadline=1.0, mcp_elicitation_timeout=10)
    async with CheckedClient(server, mode="legacy", elicitation_callback=late_yes) as client:
        result = await client.call_tool("start_profile_setup_session", START)
    setup: dict[str, Any] = result.structured_content or {}
    assert not result.is_error, result.content
    assert setup["user_answer"] == "accept" and setup["saved"]["profile_id"] == "prof_shop"
