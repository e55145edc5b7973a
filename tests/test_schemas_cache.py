"""The precomputed tool schemas (pipeline/schemas.json): the same tools as the SDK builds.

The cache exists for the stdio cold start (``pipeline/precomputed.py``); that the committed
file is what the installed SDK generates now is tests/test_schemas.py's check (it runs on
every landing). These prove that a server built from it has exactly the tools the SDK
would build (schemas, result models, argument models and their errors), that every tool
of a cached configuration comes from it, and that a tool whose signature it does not
know is generated.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from importlib.metadata import version
from typing import Annotated, Any, Generic, TypeVar

import pytest
from mcp.server.mcpserver.tools.base import Tool
from mcp_types import CallToolResult
from pydantic import BaseModel, Field, ValidationError

from tinyfish_mcp.pipeline.catalog import Catalog
from tinyfish_mcp.pipeline.precomputed import (
    CACHE_FILE,
    LazyArguments,
    describe_annotation,
    engine_versions,
    recording,
)
from tinyfish_mcp.schemas_cache import CONFIGURATIONS, configuration, generate
from tinyfish_mcp.server import TinyFishServer, build_server


def test_every_tool_of_the_cached_configurations_is_cached() -> None:
    # Freshness is tests/test_schemas.py's (run on every landing); here, what it holds.
    fresh = generate()
    assert fresh["versions"] == {name: version(name) for name in ("mcp", "pydantic", "pydantic-core")}
    for name in CONFIGURATIONS:
        assert set(_tools(build_server(configuration(name)))) <= set(fresh["tools"]), name


def test_the_versions_are_read_as_the_package_metadata_says() -> None:
    assert engine_versions() == {name: version(name) for name in ("mcp", "pydantic", "pydantic-core")}


def _tools(server: TinyFishServer) -> dict[str, Tool]:
    return {tool.name: tool for tool in server.catalog.tools}


def _errors(tool: Tool, arguments: dict[str, Any]) -> Any:
    try:
        return tool.fn_metadata.validate_arguments(arguments)
    except ValidationError as exc:
        return exc.errors(include_url=False)


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_a_server_from_the_cache_has_the_tools_the_sdk_builds(name: str) -> None:
    cached = _tools(build_server(configuration(name)))
    with recording():
        generated = _tools(build_server(configuration(name)))
    assert set(cached) == set(generated)
    for tool_name, tool in cached.items():
        sdk = generated[tool_name]
        # Every tool of a cached configuration comes from the cache: no schema generated at start-up.
        assert isinstance(tool.fn_metadata, LazyArguments), tool_name
        assert not isinstance(sdk.fn_metadata, LazyArguments), tool_name
        assert "arg_model" not in tool.fn_metadata.__dict__, f"{tool_name}: argument model built at start-up"
        fields = ("title", "description", "parameters", "is_async", "context_kwarg", "annotations", "meta")
        for field in fields:
            assert getattr(tool, field) == getattr(sdk, field), (tool_name, field)
        assert tool.output_schema == sdk.output_schema, tool_name
        assert tool.fn_metadata.output_model is sdk.fn_metadata.output_model, tool_name
        assert tool.fn_metadata.wrap_output == sdk.fn_metadata.wrap_output == False  # noqa: E712
        # The argument model, built on first use, is the SDK's: same fields, schema and errors.
        lazy, real = tool.fn_metadata.arg_model, sdk.fn_metadata.arg_model
        assert lazy.model_json_schema(by_alias=True) == real.model_json_schema(by_alias=True), tool_name
        assert tool.fn_metadata.arg_model is lazy  # built once
        for arguments in ({}, {"url": 5, "goal": ["x"], "run_id": {}, "limit": "many"}):
            assert _errors(tool, arguments) == _errors(sdk, arguments), (tool_name, arguments)


class _Page(BaseModel):
    text: str


def test_a_tool_the_cache_does_not_know_is_generated_by_the_sdk() -> None:
    """Same name as a cached tool, another signature: the SDK builds it, the cache is not used."""
    assert "get_run" in json.loads(CACHE_FILE.read_text(encoding="utf-8"))["tools"]
    catalog = Catalog()

    async def get_run(
        run_id: Annotated[str, Field(description="another tool's argument", max_length=9)],
    ) -> Annotated[CallToolResult, _Page]:
        raise NotImplementedError

    catalog.tool()(get_run)
    tool = catalog.get_tool("get_run")
    assert tool is not None and not isinstance(tool.fn_metadata, LazyArguments)
    expected = Tool.from_function(get_run)
    assert tool.parameters == expected.parameters
    assert tool.output_schema == expected.output_schema


def test_a_parametrized_generic_is_described_by_its_origin_not_by_who_parametrized_it_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pydantic names ``Model[X]`` after the module that wrote it first; the fingerprint must not.

    Otherwise a tool taking ``ctx: Context[Any, Any]`` misses the cache whenever another module
    (a test, a plugin) happened to parametrize ``Context`` before the toolset did.
    """
    T = TypeVar("T")

    class Box(BaseModel, Generic[T]):
        item: T | None = None

    elsewhere = types.ModuleType("somewhere_else")
    monkeypatch.setitem(sys.modules, "somewhere_else", elsewhere)
    namespace: dict[str, Any] = {"__name__": "somewhere_else", "Box": Box}
    exec("Parametrized = Box[int]", namespace)  # noqa: S102 (parametrized from another module's globals)
    assert namespace["Parametrized"].__module__ == "somewhere_else"  # what pydantic does

    def tool(box: Any) -> str:
        return ""

    # Set, not written: this module's annotations are strings (``from __future__ import annotations``).
    tool.__annotations__ = {"box": Box[int], "return": str}
    described = describe_annotation(inspect.signature(tool).parameters["box"].annotation)
    assert described == f"{Box.__module__}.{Box.__qualname__}[builtins.int]"
