"""server.json for the MCP Registry: valid against the registry's schema, and consistent with the package."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tinyfish_mcp import __version__
from tinyfish_mcp.clients import REGISTRY_NAME, REPOSITORY_URL
from tinyfish_mcp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "server.schema.json").read_text())
SETTING_NAMES = {f"TINYFISH_{name.upper()}" for name in Settings.model_fields}


def _server() -> dict[str, Any]:
    result: dict[str, Any] = json.loads((ROOT / "server.json").read_text())
    return result


def _errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_server_json_is_valid_against_the_registry_schema() -> None:
    assert _errors(_server()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.update(description="x" * 101),
        lambda d: d.update(name="no-slash"),
        lambda d: d["packages"][0].pop("transport"),
        lambda d: d["packages"][0].update(version="latest"),
        lambda d: d["remotes"][0].update(url="ftp://example.com/mcp"),
    ],
    ids=["long-description", "bad-name", "no-transport", "latest", "bad-remote-url"],
)
def test_the_schema_check_catches_a_broken_server_json(breakage: Any) -> None:
    broken = copy.deepcopy(_server())
    breakage(broken)
    assert _errors(broken)


def test_server_json_matches_the_package() -> None:
    server = _server()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (package,) = server["packages"]
    assert server["version"] == package["version"] == __version__
    assert package["identifier"] == project["name"]
    assert package["registryType"] == "pypi" and package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}
    assert server["name"] == REGISTRY_NAME and server["repository"]["url"] == REPOSITORY_URL
    variables = {v["name"]: v for v in package["environmentVariables"]}
    assert set(variables) <= SETTING_NAMES
    assert variables["TINYFISH_API_KEY"]["isSecret"] is True and variables["TINYFISH_API_KEY"]["isRequired"]
    (remote,) = server["remotes"]
    assert remote["type"] == "streamable-http" and remote["url"].endswith("/mcp")
    assert set(re.findall(r"\{(\w+)\}", remote["url"])) == set(remote["variables"])


def test_readme_carries_the_mcp_name_the_registry_verifies() -> None:
    # The registry checks PyPI ownership by finding this line in the package's description.
    readme = (ROOT / "README.md").read_text()
    assert f"mcp-name: {REGISTRY_NAME}" in readme
