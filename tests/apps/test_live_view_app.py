"""The live-view app as a client sees it: bound to the live-browser tools, served as an MCP App."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from _mcp import memory_server
from mcp.server.apps import APP_MIME_TYPE

from tinyfish_mcp.pipeline.tasks import RELATED_TASK, WORK
from tinyfish_mcp.runtime.live_view import LIVE_VIEW_URI

BOUND = {"run_web_automation", "wait_for_run", "create_browser_session", "start_profile_setup_session"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_live_browser_tools_advertise_the_app(emulator: Any, mode: str) -> None:
    async with memory_server(
        emulator, mode=mode, mcp_toolsets=("agent", "runs", "browser", "profiles")
    ) as client:
        tools = (await client.list_tools()).tools
    bound = {
        tool.name for tool in tools if (tool.meta or {}).get("ui", {}).get("resourceUri") == LIVE_VIEW_URI
    }
    assert bound == BOUND
    # The tools the app calls while a run goes on stay ordinary tools, visible to the model.
    assert {"get_run", "get_steps"} <= {tool.name for tool in tools}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_app_is_served_with_the_mcp_app_mime_type_and_its_frame_domains(
    emulator: Any, mode: str
) -> None:
    async with memory_server(emulator, mode=mode) as client:
        listed = [r for r in (await client.list_resources()).resources if r.uri == LIVE_VIEW_URI]
        read = await client.read_resource(LIVE_VIEW_URI)
    assert [r.mime_type for r in listed] == [APP_MIME_TYPE]
    content: Any = read.contents[0]
    assert content.mime_type == APP_MIME_TYPE
    csp = content.meta["ui"]["csp"]
    # TinyFish's live-view hosts, and the emulator's own origin (the sandbox's live views).
    assert csp["frameDomains"] == ["https://*.unikraft.app", "https://*.tinyfish.io", emulator.base_url]
    assert emulator.base_url in csp["connectDomains"]
    frames = re.search(r"const FRAME_DOMAINS = (\[.*?\]);", content.text)
    assert frames is not None and json.loads(frames.group(1)) == csp["frameDomains"]
    assert "ui/initialize" in content.text and "<script" in content.text
    # The page reads a task handle under the key the Tasks extension writes (pipeline/tasks.py).
    assert f'const WORK_KEY = "{WORK}";' in content.text
    assert f'const RELATED_TASK_KEY = "{RELATED_TASK}";' in content.text


async def test_the_frame_domains_are_a_setting(emulator: Any) -> None:
    async with memory_server(
        emulator,
        mcp_app_frame_domains=("https://live.example.com",),
        mcp_app_connect_domains=("wss://live.example.com",),
    ) as client:
        read = await client.read_resource(LIVE_VIEW_URI)
    content: Any = read.contents[0]
    assert content.meta["ui"]["csp"] == {
        "frameDomains": ["https://live.example.com"],
        "connectDomains": ["wss://live.example.com"],
    }
    assert 'const FRAME_DOMAINS = ["https://live.example.com"];' in content.text
