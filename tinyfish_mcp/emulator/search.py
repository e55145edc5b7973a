"""GET /v1/search: deterministic ranked results from a small built-in corpus.

Entries are web pages, news (dated minutes to years ago, with a publisher) or research
papers (authors, venue, year, citations, PDF); ``domain_type`` picks one kind, and the
domain, date-window, recency and publication-year filters narrow it (``search_filters``
checks them as the SDK does). Ranking counts query terms in the title (3), URL (2) and
snippet (1), with a small boost for results in the resolved language; ties keep corpus
order. ``location`` and ``language`` resolve each other as documented; neither means
``us``/``en``. Search is rate limited per key (``search_rate_limit`` per minute, no Retry-After header).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, Response

from .context import Call
from .locales import COUNTRIES, LANGUAGES
from .search_filters import Filters, read_filters
from .wire import ApiError, Issue, invalid_input, iso, issue, now

__all__ = ["resolve_locale", "search"]

PAGE_SIZE = 10
WINDOW_SECONDS = 60.0
COUNTRY_LANGUAGE = {
    "us": "en", "gb": "en", "ca": "en", "au": "en", "ie": "en", "nz": "en", "in": "en",
    "fr": "fr", "be": "fr", "de": "de", "at": "de", "ch": "de", "jp": "ja", "br": "pt", "pt": "pt",
    "es": "es", "mx": "es", "ar": "es", "it": "it", "nl": "nl", "se": "sv", "pl": "pl",
    "ru": "ru", "cn": "zh", "tw": "zh", "kr": "ko",
}  # fmt: skip
LANGUAGE_COUNTRY = {
    "en": "us", "fr": "fr", "de": "de", "ja": "jp", "pt": "br", "es": "mx", "it": "it",
    "nl": "nl", "sv": "se", "pl": "pl", "ru": "ru", "zh": "cn", "ko": "kr", "hi": "in",
}  # fmt: skip
COUNTRY_NAMES = {
    "united states": "us", "usa": "us", "united kingdom": "gb", "uk": "gb", "great britain": "gb",
    "canada": "ca", "australia": "au", "ireland": "ie", "new zealand": "nz", "india": "in",
    "france": "fr", "belgium": "be", "germany": "de", "austria": "at", "switzerland": "ch",
    "japan": "jp", "brazil": "br", "portugal": "pt", "spain": "es", "mexico": "mx",
    "argentina": "ar", "italy": "it", "netherlands": "nl", "sweden": "se", "poland": "pl",
    "russia": "ru", "china": "cn", "taiwan": "tw", "south korea": "kr", "korea": "kr",
}  # fmt: skip


@cache
def _corpus() -> list[dict[str, Any]]:
    raw = resources.files(__package__).joinpath("data/search_corpus.json").read_text("utf-8")
    entries: list[dict[str, Any]] = json.loads(raw)
    return entries


def resolve_locale(location: str | None, language: str | None) -> tuple[str, str, list[Issue]]:
    """(location, language) as lowercase codes, each filled from the other when missing."""
    issues: list[Issue] = []
    country = None
    if location is not None:
        key = location.strip().lower()
        country = COUNTRY_NAMES.get(key, key if key in COUNTRIES else None)
        if country is None:
            issues.append(issue("invalid_value", ["location"], f"Unknown location {location!r}"))
    lang = None
    if language is not None:
        lang = language.strip().lower().split("-")[0]
        if lang not in LANGUAGES:
            issues.append(issue("invalid_value", ["language"], f"Unsupported language {language!r}"))
            lang = None
    if country is None and lang is None:
        return "us", "en", issues
    if country is None:
        return LANGUAGE_COUNTRY.get(str(lang), "us"), str(lang), issues
    return country, lang or COUNTRY_LANGUAGE.get(country, "en"), issues


def rank(
    call: Call, query: str, language: str, filters: Filters | None = None, moment: datetime | None = None
) -> list[dict[str, Any]]:
    """Ranked entries of the corpus and of those a test added (``/_emulator/search-corpus``)."""
    chosen = _selected(filters or Filters(), moment or now(), call.store.search_extra)
    return _rank(query, language, chosen)


def _rank(query: str, language: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1 or not t.isascii()]
    scored: list[tuple[float, int, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        title, url, snippet = entry["title"].lower(), entry["url"].lower(), entry["snippet"].lower()
        score = sum(3 * (t in title) + 2 * (t in url) + (t in snippet) for t in terms)
        if score > 0:
            scored.append((score + (0.5 if entry["lang"] == language else 0.0), index, entry))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [entry for _, _, entry in scored]


def _check_rate(call: Call) -> None:
    clock = time.monotonic()
    recent = [t for t in call.store.search_calls.get(call.key, []) if clock - t < WINDOW_SECONDS]
    if len(recent) >= call.config.search_rate_limit:
        call.store.search_calls[call.key] = recent
        raise ApiError(429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded. Try again in 60 seconds.")
    call.store.search_calls[call.key] = [*recent, clock]


def _published(entry: dict[str, Any], moment: datetime) -> datetime | None:
    """When an entry was published: news entries are ``age_minutes`` old, others dated by day."""
    if "age_minutes" in entry:
        return moment - timedelta(minutes=int(entry["age_minutes"]))
    if entry.get("date"):
        return datetime.fromisoformat(str(entry["date"])).replace(tzinfo=UTC)
    return None


def _on(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _selected(filters: Filters, moment: datetime, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chosen: list[dict[str, Any]] = []
    for entry in [*extra, *_corpus()]:
        if entry.get("kind", "web") != filters.domain_type:
            continue
        host = (urlsplit(entry["url"]).hostname or "").removeprefix("www.")
        if filters.include and not _on(host, filters.include):
            continue
        if _on(host, filters.exclude):
            continue
        published = _published(entry, moment)
        if filters.temporal:
            if published is None:
                continue
            if filters.recency is not None and published < moment - timedelta(minutes=filters.recency):
                continue
            day = published.date().isoformat()
            if (filters.after and day < filters.after) or (filters.before and day > filters.before):
                continue
        year = entry.get("year")
        if filters.year_min is not None and (year is None or year < filters.year_min):
            continue
        if filters.year_max is not None and (year is None or year > filters.year_max):
            continue
        chosen.append(entry)
    return chosen


def _result(entry: dict[str, Any], position: int, moment: datetime, thumbnails: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "position": position,
        "title": entry["title"],
        "url": entry["url"],
        "snippet": entry["snippet"],
        "site_name": urlsplit(entry["url"]).hostname or "",
    }
    if "age_minutes" in entry:
        published = _published(entry, moment)
        result["date"] = iso(published) if published else None
    elif entry.get("date"):
        result["date"] = entry["date"]
    for name in ("publisher", "authors", "venue", "year", "cited_by_count", "pdf_url"):
        if entry.get(name) is not None:
            result[name] = entry[name]
    if thumbnails and entry.get("thumbnail"):
        result["thumbnail"] = entry["thumbnail"]
    return result


async def search(call: Call) -> Response:
    _check_rate(call)
    params = call.request.query_params
    issues: list[Issue] = []
    query = params.get("query", "")
    if not query.strip():
        issues.append(issue("too_small", ["query"], "Required: query must be a non-empty string"))
    location, language, locale_issues = resolve_locale(params.get("location"), params.get("language"))
    issues += locale_issues
    filters = read_filters(params, issues)
    if issues:
        raise invalid_input(issues)
    moment = now()
    ranked = rank(call, query, language, filters, moment)
    page = filters.page
    results = [
        _result(entry, page * PAGE_SIZE + offset + 1, moment, filters.thumbnails)
        for offset, entry in enumerate(ranked[page * PAGE_SIZE : (page + 1) * PAGE_SIZE])
    ]
    call.store.search_usage.append(
        {
            "_owner": call.key,
            "id": str(uuid.uuid4()),
            "query": query,
            "location": location,
            "language": language,
            "page": page,
            "status": "success",
            "result_count": len(results),
            "created_at": iso(moment),
        }
    )
    return JSONResponse(
        {
            "query": query,
            "results": results,
            "total_results": len(ranked),
            "page": page,
            "location": location,
            "language": language,
        }
    )
