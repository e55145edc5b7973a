"""Instances built from the official SDK's pydantic models, and structural comparisons.

``sdk_payload(model, full=True)`` is what the service would send if every optional
field the SDK models were present; ``full=False`` sends only the required ones. Values
are derived from each field's type and constraints, so a new SDK field is covered the
day the SDK ships it.
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

__all__ = ["lost", "request_problems", "sdk_payload", "undeclared"]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (through Optional, list, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low = high = None
    for item in metadata:
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Gt):
            low = item.gt + 1
        elif isinstance(item, Le):
            high = item.le
        elif isinstance(item, Lt):
            high = item.lt - 1
    return low, high  # type: ignore[return-value]


def _sample(annotation: Any, name: str, metadata: list[Any], full: bool) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _sample(args[0], name, [*metadata, *args[1:]], full)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return _sample(options[0], name, metadata, full)
    if origin is Literal:
        return args[0]
    if origin in (list, tuple, set, frozenset):
        count = max([m.min_length for m in metadata if isinstance(m, MinLen)] or [1])
        return [_sample(args[0] if args else str, name, [], full) for _ in range(count)]
    if origin is dict or annotation in (dict, Any, object):
        return {"key": "value"}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return sdk_payload(annotation, full=full)
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            low, high = _bounds(metadata)
            return int(low if low is not None else (min(3, high) if high is not None else 3))
        if issubclass(annotation, float):
            return 1.5
        if issubclass(annotation, dt.datetime):
            return "2026-01-02T03:04:05Z"
        if issubclass(annotation, dt.date):
            return "2026-01-02"
        if issubclass(annotation, str):
            limit = min([m.max_length for m in metadata if isinstance(m, MaxLen)] or [200])
            text = f"https://example.com/{name}" if "url" in name else f"{name}-value"
            return text[:limit]
    raise TypeError(f"no sample for {annotation!r} ({name})")


def sdk_payload(model: type[BaseModel], *, full: bool, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """A wire payload of ``model``: every field (``full``) or only the required ones.

    ``fixed`` sets some top-level values (an event's ``type``). The payload is validated by
    the SDK model itself and dumped as JSON by alias: what the SDK accepts from the service.
    """
    data: dict[str, Any] = dict(fixed or {})
    for name, field in model.model_fields.items():
        if (field.alias or name) in data:
            continue
        if field.is_required() or full:
            data[field.alias or name] = _sample(field.annotation, name, list(field.metadata), full)
    instance = model.model_validate(data)
    dumped: dict[str, Any] = instance.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


def lost(sent: Any, kept: Any, path: str = "") -> list[str]:
    """Paths of ``sent`` (a JSON value) that ``kept`` does not carry with the same value."""
    if isinstance(sent, dict):
        if not isinstance(kept, dict):
            return [path or "(root)"]
        problems: list[str] = []
        for key, value in sent.items():
            where = f"{path}.{key}" if path else key
            if key not in kept:
                problems.append(where)
            else:
                problems += lost(value, kept[key], where)
        return problems
    if isinstance(sent, list):
        if not isinstance(kept, list) or len(kept) != len(sent):
            return [path]
        return [p for i, item in enumerate(sent) for p in lost(item, kept[i], f"{path}[{i}]")]
    return [] if sent == kept else [f"{path} ({sent!r} became {kept!r})"]


def _field(model: type[BaseModel], key: str) -> tuple[str, FieldInfo] | None:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return name, field
    return None


def undeclared(sdk: type[BaseModel], ours: type[BaseModel], path: str = "") -> list[str]:
    """SDK fields (recursively) that our model only keeps as untyped extras."""
    problems: list[str] = []
    for name, field in sdk.model_fields.items():
        where = f"{path}.{name}" if path else name
        match = _field(ours, field.alias or name) or _field(ours, name)
        if match is None:
            problems.append(where)
            continue
        inner_sdk, inner_ours = _model_of(field.annotation), _model_of(match[1].annotation)
        if inner_sdk is not None and inner_ours is not None:
            problems += undeclared(inner_sdk, inner_ours, where)
    return problems


def _signature_types(function: Callable[..., Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(function)
    names = [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    return {name: hints.get(name, Any) for name in names}


def request_problems(
    body: dict[str, Any],
    sdk: type[BaseModel] | Callable[..., Any],
    *,
    nested: dict[str, type[BaseModel]] | None = None,
    beyond: frozenset[str] = frozenset(),
    path: str = "",
) -> list[str]:
    """Why ``body`` is not a body the SDK could send (empty when it is).

    ``sdk`` is a request model or the SDK method whose keyword arguments become the body;
    ``nested`` names SDK models for object-valued keys; ``beyond`` lists dotted paths the
    API accepts although the SDK does not send them.
    """
    if isinstance(sdk, type) and issubclass(sdk, BaseModel):
        known = {(f.alias or n): f.annotation for n, f in sdk.model_fields.items()}
        known.update({n: f.annotation for n, f in sdk.model_fields.items()})
    else:
        known = _signature_types(sdk)
    problems: list[str] = []
    for key, value in body.items():
        where = f"{path}.{key}" if path else key
        if where in beyond:
            continue
        if key not in known:
            problems.append(f"{where}: the SDK does not send this field")
            continue
        inner = (nested or {}).get(where) or _model_of(known[key])
        if isinstance(value, dict) and inner is not None:
            problems += request_problems(value, inner, nested=nested, beyond=beyond, path=where)
            try:
                inner.model_validate(value)
            except Exception as exc:
                problems.append(f"{where}: {exc}")
            continue
        if inner is not None and isinstance(value, list) and value and isinstance(value[0], dict):
            for index, item in enumerate(value):
                problems += request_problems(item, inner, nested=nested, beyond=beyond, path=where)
                del index
            continue
        try:
            TypeAdapter(known[key]).validate_python(value)
        except Exception as exc:
            problems.append(f"{where}: {value!r} does not fit the SDK's {known[key]!r}: {exc}")
    return problems
