"""Keeping tool results bounded, so one page or one run cannot flood the model's context."""

from __future__ import annotations

__all__ = ["clip"]


def clip(text: str, max_chars: int, offset: int = 0) -> tuple[str, int | None]:
    """Return ``text[offset:offset + max_chars]`` and the offset to continue from.

    The second value is ``None`` when nothing is left after the returned slice.
    """
    offset = max(0, offset)
    end = offset + max(0, max_chars)
    chunk = text[offset:end]
    return chunk, (end if end < len(text) else None)
