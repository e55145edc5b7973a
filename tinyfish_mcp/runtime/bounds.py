"""Keeping tool results bounded, so one page or one run cannot flood the model's context."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["RECORD_CHARS", "bounded_record", "clip", "records_within"]

RECORD_CHARS = 1000  # one usage record is a small object; this only guards against a runaway one


def clip(text: str, max_chars: int, offset: int = 0) -> tuple[str, int | None]:
    """Return ``text[offset:offset + max_chars]`` and the offset to continue from.

    The second value is ``None`` when nothing is left after the returned slice.
    """
    offset = max(0, offset)
    end = offset + max(0, max_chars)
    chunk = text[offset:end]
    return chunk, (end if end < len(text) else None)


def bounded_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record itself, or its flat fields with a note when it is too large to show."""
    if len(json.dumps(record, default=str)) <= RECORD_CHARS:
        return record
    small = {k: v for k, v in record.items() if not isinstance(v, dict | list)}
    return {**small, "omitted": "nested fields left out to bound the result"}


def records_within(raw: list[dict[str, Any]], *, limit: int, budget: int) -> list[dict[str, Any]]:
    """The first ``limit`` records, each bounded, as many as fit in ``budget`` characters (at least one)."""
    records: list[dict[str, Any]] = []
    used = 0
    for item in raw[:limit]:
        record = bounded_record(item)
        used += len(json.dumps(record, default=str))
        if records and used > budget:
            break
        records.append(record)
    return records
