"""The Claude Desktop bundle's manifest (mcpb/manifest.json) agrees with the package and the server.

CI (.ci/run) validates it with the official ``mcpb`` tool, packs it, unpacks it and checks
the content; these tests pin what the tool cannot know.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _mcp import stdio_server

from tinyfish_mcp import __version__
from tinyfish_mcp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MANIFEST: dict[str, Any] = json.loads((ROOT / "mcpb" / "manifest.json").read_text())
SETTING_NAMES = {f"TINYFISH_{name.upper()}" for name in Settings.model_fields}


def test_manifest_version_and_entry_point() -> None:
    assert MANIFEST["version"] == __version__
    server = MANIFEST["server"]
    assert server["type"] == "uv" and (ROOT / server["entry_point"]).is_file()
    assert server["mcp_config"]["command"] == "uv"
    assert server["mcp_config"]["args"][-1] == "tinyfish-mcp"


def test_the_key_is_a_sensitive_user_setting() -> None:
    key = MANIFEST["user_config"]["api_key"]
    assert key["sensitive"] is True and key["required"] is True and "default" not in key
    env = MANIFEST["server"]["mcp_config"]["env"]
    assert env["TINYFISH_API_KEY"] == "${user_config.api_key}"
    assert set(env) <= SETTING_NAMES
    for value in env.values():
        assert value.removeprefix("${user_config.").removesuffix("}") in MANIFEST["user_config"]


async def test_manifest_tools_are_real_tools(emulator: Any) -> None:
    async with stdio_server(emulator) as client:
        served = {tool.name for tool in (await client.list_tools()).tools}
    listed = [tool["name"] for tool in MANIFEST["tools"]]
    assert len(listed) == len(set(listed)) and set(listed) <= served
    # The four names TinyFish's hosted server has are a contract.
    assert {"run_web_automation", "run_web_automation_async", "get_run", "list_runs"} <= set(listed)
