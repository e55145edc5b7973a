"""The top-up question's sealed ``requestState`` opens on any replica, for its own user only.

Two hosted replicas (``create_app``, uvicorn, loopback) share a database and the deployment
secret, as behind a load balancer. A 2026-07-28 call refused for credits on the first replica
answers ``input_required``; the call sent again with the user's yes lands on the second, which
opens the state and sends the refused create once more. Another user's token cannot use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from hosted import Replica, Served, oauth_replicas, sign_in
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from oauth_helpers import RESOURCE

from tinyfish_mcp.upstream.wallet import TOP_UP_URL

RUN = {"url": "https://shop.example.com", "goal": "Find the price"}
CREATE = "/v1/automation/run-async"


@pytest.fixture
def replicas(emulator: Any, tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    with oauth_replicas(emulator.base_url, f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}") as pair:
        yield pair


async def _never_asked(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    raise AssertionError("the test answers the question itself")


@asynccontextmanager
async def _client(served: Served, access_token: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {access_token}"}
    async with (
        httpx2.AsyncClient(transport=Replica(served), headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(RESOURCE, http_client=http), elicitation_callback=_never_asked
        ) as client,
    ):
        yield client


async def test_the_answer_lands_on_the_other_replica(emulator: Any, replicas: tuple[Served, Served]) -> None:
    first, second = replicas
    token = await sign_in(first, emulator.api_key)
    other = await sign_in(first, emulator.other_key)
    emulator.fault(CREATE, method="POST", status=402)
    async with _client(first, token) as client:
        asked = await client.session.call_tool("run_web_automation_async", RUN, allow_input_required=True)
    assert isinstance(asked, types.InputRequiredResult) and asked.request_state
    question = next(iter((asked.input_requests or {}).values()))
    assert isinstance(question.params, types.ElicitRequestURLParams) and question.params.url == TOP_UP_URL
    names = asked.input_requests or {}
    yes: types.InputResponses = {name: types.ElicitResult(action="accept") for name in names}

    # Another user cannot answer with this state (it is bound to who was asked).
    async with _client(second, other) as client:
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await client.session.call_tool(
                "run_web_automation_async", RUN, input_responses=yes, request_state=asked.request_state
            )

    async with _client(second, token) as client:
        done = await client.session.call_tool(
            "run_web_automation_async", RUN, input_responses=yes, request_state=asked.request_state
        )
    assert isinstance(done, types.CallToolResult) and not done.is_error, done.content
    creates = [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == CREATE]
    assert len(creates) == 2  # the refused one (nothing made) and the one run
    assert (done.structured_content or {})["run_id"]
