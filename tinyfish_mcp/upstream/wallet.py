"""The Wallet API (``GET /v1/wallet``): credit balance, auto-reload, rates, a pending top-up.

Models follow the official SDK's ``tinyfish.wallet.types``; money amounts are decimal
strings as sent (never floats, so nothing is rounded on the way through).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from .constants import TOP_UP_URL
from .models._base import _Response

if TYPE_CHECKING:
    from .core import RoutedCore

__all__ = [
    "TOP_UP_URL",
    "WalletAPI",
    "WalletAutoReload",
    "WalletMeter",
    "WalletPendingTopUp",
    "WalletRates",
    "WalletResponse",
]


AutoReloadState = Literal["unconfigured", "on", "off", "paused_payment_failed", "needs_payment_method"]


class WalletAutoReload(_Response):
    """Auto-reload: ``threshold`` and ``recharge_to`` are present unless ``unconfigured``."""

    state: str
    threshold: str | None = None
    recharge_to: str | None = None


class WalletMeter(_Response):
    label: str
    unit_amount: str
    currency: str
    per: str | None = None


class WalletRates(_Response):
    meters: list[WalletMeter] = Field(default_factory=list)
    as_of: str | None = None


class WalletPendingTopUp(_Response):
    amount: str
    started_at: str | None = None


class WalletResponse(_Response):
    """``None`` for auto_reload, pending_top_up or rates means that part could not be read."""

    available_balance: str
    currency: str
    as_of: str | None = None
    auto_reload: WalletAutoReload | None = None
    pending_top_up: WalletPendingTopUp | None = None
    rates: WalletRates | None = None


class WalletAPI:
    """``client.wallet``: read-only."""

    def __init__(self, core: RoutedCore) -> None:
        self._core = core

    async def get(self, key: str) -> WalletResponse:
        """GET /v1/wallet."""
        return await self._core.call(WalletResponse, "GET", "wallet", key=key)
