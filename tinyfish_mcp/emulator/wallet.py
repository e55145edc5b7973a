"""The Wallet API: ``GET /v1/wallet`` in the official SDK's shape.

A key with credit holds the sign-up credit; a key in ``no_credit_keys`` holds nothing,
which is why the paid endpoints refuse it. Auto-reload is configured but off, so
clients see the configured shape (threshold and recharge_to present).
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from .context import Call
from .wire import iso, now

__all__ = ["SIGN_UP_CREDIT", "get_wallet"]

SIGN_UP_CREDIT = "8.00"
METERS = (
    ("Agent run step", "0.015", "step"),
    ("Browser session", "0.10", "hour"),
    ("Monitor check", "0.005", "check"),
    ("Research run", "0.50", "run"),
)


async def get_wallet(call: Call) -> Response:
    moment = iso(now())
    balance = SIGN_UP_CREDIT if call.config.has_credit(call.key) else "0.00"
    return JSONResponse(
        {
            "available_balance": balance,
            "currency": "USD",
            "as_of": moment,
            "auto_reload": {"state": "off", "threshold": "5.00", "recharge_to": "25.00"},
            "pending_top_up": None,
            "rates": {
                "meters": [
                    {"label": label, "unit_amount": amount, "currency": "USD", "per": per}
                    for label, amount, per in METERS
                ],
                "as_of": moment,
            },
        }
    )
