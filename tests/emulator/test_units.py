"""Pure pieces of the emulator: scenario parsing, schema filling, locale, extraction."""

from __future__ import annotations

from typing import Any

import pytest

from tinyfish_mcp.emulator import EmulatorConfig
from tinyfish_mcp.emulator.extract import parse_html
from tinyfish_mcp.emulator.scenarios import fill_schema, parse_scenario
from tinyfish_mcp.emulator.search import resolve_locale

CONFIG = EmulatorConfig(step_delay=0.07)


def test_scenario_defaults() -> None:
    scenario, issues = parse_scenario("https://shop.example.com/", CONFIG)

    assert issues == []
    assert (scenario.kind, scenario.steps, scenario.step_delay) == ("success", 3, 0.07)


def test_slow_scenario_defaults() -> None:
    scenario, _ = parse_scenario("https://shop.example.com/?tf_scenario=slow", CONFIG)

    assert (scenario.steps, scenario.step_delay) == (40, 0.5)


@pytest.mark.parametrize(
    "url",
    [
        "https://x.example.com/?tf_scenario=unknown",
        "https://x.example.com/?tf_scenario=failed&tf_error=OOPS",
        "https://x.example.com/?tf_steps=-1",
        "https://x.example.com/?tf_step_delay=soon",
    ],
)
def test_scenario_typos_are_issues(url: str) -> None:
    _, issues = parse_scenario(url, CONFIG)

    assert len(issues) == 1 and issues[0]["path"] == ["url"]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "Example result"),
        ({"type": "string", "format": "date"}, "2026-01-15"),
        ({"type": "integer", "minimum": 5, "maximum": 3}, 3),
        ({"type": "boolean"}, True),
        ({"const": "fixed"}, "fixed"),
        ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, 1),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 3}, [1, 1, 1]),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 1}, [1]),
        ({"properties": {"a": {"type": "number"}}}, {"a": 9.99}),
    ],
)
def test_fill_schema(schema: dict[str, Any], expected: Any) -> None:
    assert fill_schema(schema, schema, "result", 0) == expected


def test_resolve_locale_prefers_given_values() -> None:
    assert resolve_locale("CA", "fr")[:2] == ("ca", "fr")
    assert resolve_locale(None, "pt-BR")[:2] == ("br", "pt")


def test_extraction_tolerates_unclosed_tags() -> None:
    page = parse_html("<html><body><p>one<p>two<ul><li>a<li>b</ul></body></html>", "https://e.example.com/")

    assert page.markdown() == "one\n\ntwo\n\n- a\n- b\n"
    assert page.title is None and page.language is None
