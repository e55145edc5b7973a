"""get_wallet, and the balance named by credit errors of billed tools, against the emulator."""

from __future__ import annotations

from typing import Any

from _inmemory import connect, error_text, structured
from _mcp import stdio_server


async def test_wallet_shows_balance_auto_reload_and_rates(emulator: Any) -> None:
    async with stdio_server(emulator, toolsets="wallet") as client:
        result = await client.call_tool("get_wallet", {})
    data = structured(result)
    assert (data["balance"], data["currency"]) == ("8.00", "USD")
    assert data["auto_reload"] == {"state": "off", "threshold": "5.00", "recharge_to": "25.00"}
    assert {"label": "Monitor check", "amount": "0.005 USD", "per": "check"} in data["rates"]
    assert data["top_up_url"] == "https://agent.tinyfish.ai/billing"
    assert "note" not in data and "pending_top_up" not in data
    assert [r["path"] for r in emulator.requests()] == ["/v1/wallet"]


async def test_credit_refusal_of_a_run_names_the_balance_and_where_to_top_up(emulator: Any) -> None:
    async with connect(emulator, api_key=emulator.no_credit_key) as client:
        run = await client.call_tool("run_web_automation_async", {"url": "example.com", "goal": "g"})
        session = await client.call_tool("create_browser_session", {"url": "example.com"})
    for message in (error_text(run), error_text(session)):
        assert "Wallet balance: 0.00 USD (auto-reload off)." in message
        assert "top up at https://agent.tinyfish.ai/billing (get_wallet shows the balance)" in message
        assert emulator.no_credit_key not in message
    # The wallet was read for each refusal, with the caller's key.
    wallet_reads = [r for r in emulator.requests() if r["path"] == "/v1/wallet"]
    assert [r["key_suffix"] for r in wallet_reads] == [emulator.no_credit_key[-4:]] * 2


async def test_credit_error_without_a_readable_wallet_still_says_where_to_top_up(emulator: Any) -> None:
    emulator.fault("/v1/wallet", method="GET", status=500, count=10)
    async with connect(emulator, api_key=emulator.no_credit_key) as client:
        message = error_text(
            await client.call_tool("run_web_automation_async", {"url": "example.com", "goal": "g"})
        )
    assert "Wallet balance" not in message
    assert "top up at https://agent.tinyfish.ai/billing (get_wallet shows the balance)." in message
