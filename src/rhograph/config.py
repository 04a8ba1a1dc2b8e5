"""Typed configuration helpers shared by model, training and prediction configs.

Configs are ``@dataclass(frozen=True, kw_only=True)``; :func:`from_mapping` builds one from a dict
(YAML / JSON / command line) and rejects unknown keys with a message listing the allowed ones.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml

from rhograph.errors import ConfigError

T = TypeVar("T")

_TYPE_NAMES = {bool: "true/false", int: "an integer", float: "a number", str: "a string", dict: "a mapping"}


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    base = typing.get_origin(annotation) or annotation
    return _TYPE_NAMES.get(base, getattr(base, "__name__", str(base)))


def _matches(value: Any, annotation: Any) -> bool:
    """``value`` is of the annotated type (``bool`` is not an ``int``; an ``int`` is a ``float``)."""
    if annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    base = typing.get_origin(annotation) or annotation
    return isinstance(base, type) and isinstance(value, base)


def check_types(cls: type, data: Mapping[str, Any], *, where: str = "config") -> None:
    """Check the values of ``data`` against the field annotations of dataclass ``cls``.

    Numbers must also be finite. Keys that are not fields of ``cls`` are ignored (see :func:`from_mapping`).

    Raises:
        ValueError: ``"{where}: lr='fast' is not a number"``, naming the field, the value and the expected type.
    """
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        annotation = hints.get(name)
        if annotation is None:
            continue
        if not _matches(value, annotation):
            raise ConfigError(f"{where}: {name}={value!r} is {type(value).__name__}, expected {_type_name(annotation)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: {name}={value!r} must be a finite number")


def from_mapping(cls: type[T], data: dict[str, Any] | None, *, where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and values of the wrong type (see
    :func:`check_types`) raise ``ValueError`` naming them and ``where``."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    check_types(cls, data, where=where)
    return cls(**data)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-dict form of a config dataclass (JSON/YAML ready)."""
    return dataclasses.asdict(config)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; an empty file gives ``{}``; a non-mapping or a syntax error raises ``ValueError``
    naming the file (and the line and column of a syntax error)."""
    with open(path, encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{path}{at}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def check_choice(name: str, value: Any, allowed: tuple[Any, ...] | list[Any]) -> None:
    """Raise ``ValueError`` naming ``name``, the bad ``value`` and the allowed values."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {list(allowed)}")


def check_positive(name: str, value: float, *, strict: bool = True) -> None:
    """Raise ``ValueError`` if ``value`` is not a (strictly) positive finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or (not value > 0 if strict else not value >= 0):
        raise ConfigError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value!r}")
