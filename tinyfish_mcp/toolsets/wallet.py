"""The 'wallet' toolset: ``get_wallet``, the account's credit balance (read only).

What a model should read before it starts a large batch, and what to point the user
to when a run is refused for credits (every such error also names the balance, see
``errors.balance_note``). Amounts stay the decimal strings the service sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from mcp_types import CallToolResult

from ..pipeline.catalog import Catalog
from ..runtime.annotations import READ_ONLY
from ..runtime.context import ToolDeps
from ..runtime.errors import upstream_call
from ..runtime.schema import OutputModel, as_tool_result
from ..upstream.constants import TOP_UP_URL

if TYPE_CHECKING:
    from ..upstream.wallet import WalletResponse

__all__ = ["AutoReloadInfo", "RateInfo", "WalletInfo", "WalletTools", "register", "wallet_info"]

MAX_RATES = 30

DESCRIPTION = (
    "The account's TinyFish credit balance, auto-reload state and per-product rates. Read it "
    "before starting many runs, and when a call fails for credits (top up at top_up_url). Free."
)


class AutoReloadInfo(OutputModel):
    state: str
    threshold: str | None = None
    recharge_to: str | None = None


class RateInfo(OutputModel):
    label: str
    amount: str
    per: str | None = None


class WalletInfo(OutputModel):
    balance: str
    currency: str
    as_of: str | None = None
    auto_reload: AutoReloadInfo | None = None
    pending_top_up: str | None = None
    rates: list[RateInfo] | None = None
    top_up_url: str
    note: str | None = None


def wallet_info(wallet: WalletResponse) -> WalletInfo:
    notes = []
    if wallet.available_balance.strip().startswith("-"):
        notes.append("The wallet is overdrawn: paid calls will be refused until it is topped up.")
    if wallet.auto_reload is None:
        notes.append("The auto-reload state could not be read.")
    rates = None
    if wallet.rates is not None:
        rates = [
            RateInfo(label=m.label, amount=f"{m.unit_amount} {m.currency}", per=m.per)
            for m in wallet.rates.meters[:MAX_RATES]
        ]
    pending = wallet.pending_top_up
    return WalletInfo(
        balance=wallet.available_balance,
        currency=wallet.currency,
        as_of=wallet.as_of,
        auto_reload=AutoReloadInfo(
            state=wallet.auto_reload.state,
            threshold=wallet.auto_reload.threshold,
            recharge_to=wallet.auto_reload.recharge_to,
        )
        if wallet.auto_reload is not None
        else None,
        pending_top_up=f"{pending.amount} {wallet.currency} since {pending.started_at}" if pending else None,
        rates=rates,
        top_up_url=TOP_UP_URL,
        note=" ".join(notes) or None,
    )


class WalletTools:
    """The wallet toolset's tool, bound to what it needs; ``register`` names it."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps

    async def get_wallet(self) -> Annotated[CallToolResult, WalletInfo]:
        """The wallet (see DESCRIPTION)."""
        key = await self.deps.resolve_key()
        wallet = await upstream_call("reading the wallet", self.deps.client.wallet.get(key))
        return as_tool_result(wallet_info(wallet))


def register(mcp: Catalog, deps: ToolDeps) -> None:
    """Register ``get_wallet`` on ``mcp``."""
    tools = WalletTools(deps)
    mcp.tool(description=DESCRIPTION, annotations=READ_ONLY)(tools.get_wallet)
