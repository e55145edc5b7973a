"""Helpers of the real-browser tests: is Chromium here, and is a browser process gone."""

from __future__ import annotations

import os

import pytest

from tinyfish_mcp.emulator.chromium import find_chromium

__all__ = ["process_exists", "require_chromium"]


def require_chromium() -> str:
    """Chromium's path; without one the test is skipped, or fails under CI=true (CI installs it)."""
    path = find_chromium()
    if path is None:
        message = "Chromium is not installed (Debian: apt-get install chromium-headless-shell)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def process_exists(pid: int) -> bool:
    """True while ``pid`` runs (an exited process not yet reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
