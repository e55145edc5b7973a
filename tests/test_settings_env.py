"""Settings read from the environment: prefix, case, aliases, and constructor values winning."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from tinyfish_mcp.settings import Settings, environment_values


def test_environment_is_read_with_the_prefix_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYFISH_MCP_CALL_WINDOW", "12.5")
    monkeypatch.setenv("tinyfish_mcp_toolsets", "fetch, search")
    monkeypatch.setenv("TINYFISH_API_KEY", "sk-tinyfish-abc")
    monkeypatch.setenv("TINYFISH_MCP_CANCEL_ON_DISCONNECT", "false")
    settings = Settings()
    assert settings.mcp_call_window == 12.5
    assert settings.mcp_toolsets == ("fetch", "search")
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-tinyfish-abc"
    assert settings.mcp_cancel_on_disconnect is False
    assert "sk-tinyfish-abc" not in repr(settings)


def test_constructor_values_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYFISH_MCP_CALL_WINDOW", "12.5")
    assert Settings(mcp_call_window=30).mcp_call_window == 30


def test_invalid_environment_values_fail_validation_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYFISH_MCP_CALL_WINDOW", "9999")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert caught.value.errors()[0]["loc"] == ("mcp_call_window",)


def test_a_string_alias_names_the_variable() -> None:
    class Aliased(Settings):
        vendor_key: str | None = Field(default=None, validation_alias="VENDOR_API_KEY")

    found = environment_values(Aliased, {"VENDOR_API_KEY": "v", "TINYFISH_VENDOR_KEY": "ignored"})
    assert found == {"vendor_key": "v"}
