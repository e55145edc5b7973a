"""The Search API's filters, read from the query string and checked as the SDK checks them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from .wire import Issue, issue

__all__ = ["Filters", "read_filters"]

RECENCY_MAX = 5_256_000
MAX_PAGE = 10
PURPOSE_MAX = 2000
DOMAIN_TYPES = ("web", "news", "research_paper")


@dataclass(frozen=True)
class Filters:
    domain_type: str = "web"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None
    recency: int | None = None
    year_min: int | None = None
    year_max: int | None = None
    thumbnails: bool = False
    page: int = 0

    @property
    def temporal(self) -> bool:
        return self.recency is not None or self.after is not None or self.before is not None


def _int(params: QueryParams, name: str, low: int, high: int, issues: list[Issue]) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"-?\d+", raw.strip()):
        issues.append(issue("invalid_type", [name], f"{name} must be an integer"))
        return None
    value = int(raw)
    if not low <= value <= high:
        issues.append(
            issue(
                "too_big" if value > high else "too_small", [name], f"{name} must be between {low} and {high}"
            )
        )
        return None
    return value


def _day(params: QueryParams, name: str, issues: list[Issue]) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError(raw)
        dt.date.fromisoformat(raw)
    except ValueError:
        issues.append(issue("invalid_string", [name], f"{name} must be YYYY-MM-DD"))
        return None
    return raw


def _year(params: QueryParams, name: str, issues: list[Issue]) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"\d{4}", raw):
        issues.append(issue("invalid_string", [name], f"{name} must be a 4-digit year (0000-9999)"))
        return None
    return int(raw)


def _domains(params: QueryParams, name: str) -> tuple[str, ...]:
    raw = params.get(name) or ""
    return tuple(d.strip().lower().removeprefix("www.") for d in raw.split(",") if d.strip())


def read_filters(params: QueryParams, issues: list[Issue]) -> Filters:
    """The filters of one search; problems are appended to ``issues``."""
    purpose = params.get("purpose")
    if purpose is not None and (not purpose.strip() or len(purpose) > PURPOSE_MAX):
        issues.append(
            issue("invalid_value", ["purpose"], f"purpose must be a non-empty string of <={PURPOSE_MAX}")
        )
    domain_type = params.get("domain_type") or "web"
    if domain_type not in DOMAIN_TYPES:
        issues.append(
            issue("invalid_value", ["domain_type"], "domain_type must be one of: web, news, research_paper")
        )
        domain_type = "web"
    page = _int(params, "page", 0, MAX_PAGE, issues)
    recency = _int(params, "recency_minutes", 1, RECENCY_MAX, issues)
    after, before = _day(params, "after_date", issues), _day(params, "before_date", issues)
    if recency is not None and (after or before):
        issues.append(
            issue(
                "custom",
                ["recency_minutes"],
                "recency_minutes cannot be combined with after_date or before_date",
            )
        )
    if after and before and after > before:
        issues.append(issue("custom", ["after_date"], "after_date must be on or before before_date"))
    if domain_type == "research_paper" and (recency is not None or after or before):
        issues.append(
            issue(
                "custom",
                ["domain_type"],
                "date filters are not supported for research_paper: use pub_year_min/pub_year_max",
            )
        )
    year_min, year_max = _year(params, "pub_year_min", issues), _year(params, "pub_year_max", issues)
    if (year_min is not None or year_max is not None) and domain_type != "research_paper":
        issues.append(
            issue(
                "custom",
                ["pub_year_min"],
                "pub_year_min/pub_year_max are only supported for domain_type=research_paper",
            )
        )
    if year_min is not None and year_max is not None and year_min > year_max:
        issues.append(
            issue("custom", ["pub_year_min"], "pub_year_min must be less than or equal to pub_year_max")
        )
    thumbnail = params.get("include_thumbnail")
    if thumbnail is not None and thumbnail not in ("true", "false"):
        issues.append(
            issue("invalid_value", ["include_thumbnail"], 'include_thumbnail must be "true" or "false"')
        )
    return Filters(
        domain_type=domain_type,
        include=_domains(params, "include_domains"),
        exclude=_domains(params, "exclude_domains"),
        after=after,
        before=before,
        recency=recency,
        year_min=year_min,
        year_max=year_max,
        thumbnails=thumbnail == "true",
        page=page or 0,
    )
