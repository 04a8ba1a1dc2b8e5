"""Typed configuration helpers shared by model, training and prediction configs.

Configs are ``@dataclass(frozen=True, kw_only=True)``; :func:`from_mapping` builds one from a dict
(YAML / JSON / command line) and rejects unknown keys with a message listing the allowed ones.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def from_mapping(cls: type[T], data: dict[str, Any] | None, *, where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys raise ``ValueError`` naming them."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    return cls(**data)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-dict form of a config dataclass (JSON/YAML ready)."""
    return dataclasses.asdict(config)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; an empty file gives ``{}``; a non-mapping raises ``ValueError``."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def check_choice(name: str, value: Any, allowed: tuple[Any, ...] | list[Any]) -> None:
    """Raise ``ValueError`` naming ``name``, the bad ``value`` and the allowed values."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(allowed)}")


def check_positive(name: str, value: float, *, strict: bool = True) -> None:
    """Raise ``ValueError`` if ``value`` is not (strictly) positive."""
    if (value <= 0) if strict else (value < 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value!r}")
