"""Configuration of the emulator: which keys it accepts and how fast time runs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_API_KEY", "RUN_TIME_LIMIT_SECONDS", "EmulatorConfig"]

DEFAULT_API_KEY = "sk-tinyfish-emulator"

# The documented hard limit of one agent run: 10 minutes of wall clock.
RUN_TIME_LIMIT_SECONDS = 600.0


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything a test may tune.

    ``time_scale`` multiplies the 10-minute run limit so a test can watch a run hit it
    in well under a second. ``step_delay`` is the default pause between scripted steps,
    ``heartbeat_interval`` how long an SSE stream stays quiet before it sends a HEARTBEAT,
    and ``navigation_delay`` how long a new browser session shows ``about:blank``.
    Keys in ``no_credit_keys`` authenticate but are refused the paid endpoints.
    ``real_browsers`` makes each browser session a headless Chromium when one is
    installed (its inactivity timeout is scaled by ``time_scale`` too).
    """

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    no_credit_keys: tuple[str, ...] = ()
    time_scale: float = 1.0
    search_rate_limit: int = 5
    step_delay: float = 0.05
    heartbeat_interval: float = 0.5
    navigation_delay: float = 0.2
    real_browsers: bool = True

    @property
    def run_time_limit(self) -> float:
        """The scaled run limit in seconds."""
        return RUN_TIME_LIMIT_SECONDS * self.time_scale

    def is_known_key(self, key: str) -> bool:
        return key in self.api_keys or key in self.no_credit_keys

    def has_credit(self, key: str) -> bool:
        return key not in self.no_credit_keys
