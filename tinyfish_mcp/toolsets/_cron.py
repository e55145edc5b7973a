"""Reading a five-field cron schedule just enough to say what it costs: checks per day."""

from __future__ import annotations

__all__ = ["checks_per_day"]

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _expand(field: str, low: int, high: int) -> set[int] | None:
    """The values a cron field matches (``*``, ``a``, ``a-b``, ``*/n``, ``a-b/n``, lists)."""
    values: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = low, high
            elif "-" in base:
                first, last = base.split("-", 1)
                start, end = int(first), int(last)
            else:
                start = int(base)
                end = high if step_text else start
        except ValueError:
            return None
        if step < 1 or not low <= start <= end <= high:
            return None
        values.update(range(start, end + 1, step))
    return values


def checks_per_day(schedule_cron: str) -> float | None:
    """Runs per day on average (days matched by day/month/weekday averaged over a month).

    None when the schedule is not a five-field numeric cron we can read (names such as
    ``MON`` or ``@daily`` are left to the service to judge).
    """
    fields = schedule_cron.split()
    if fields and fields[0].startswith("CRON_TZ="):
        fields = fields[1:]
    if len(fields) != 5:
        return None
    sets = [_expand(field, low, high) for field, (low, high) in zip(fields, _BOUNDS, strict=True)]
    if any(s is None for s in sets):
        return None
    minutes, hours, days, months, weekdays = (s or set() for s in sets)
    per_day = len(minutes) * len(hours)
    day_share = 1.0
    dom_all, dow_all = fields[2] == "*", fields[4] == "*"
    if not dom_all and dow_all:
        day_share = min(1.0, len(days) / 30.44)
    elif dom_all and not dow_all:
        day_share = len({d % 7 for d in weekdays}) / 7
    elif not dom_all and not dow_all:  # cron matches either one
        day_share = min(1.0, len(days) / 30.44 + len({d % 7 for d in weekdays}) / 7)
    day_share *= len(months) / 12
    return round(per_day * day_share, 2)
