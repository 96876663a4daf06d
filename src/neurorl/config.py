"""Typed experiment configs: nested dataclasses, ``--set key=value`` overrides, YAML files.

A config is a dataclass whose fields are scalars (int, float, bool, str, Literal), tuples of
scalars or of dataclasses (YAML lists), or nested dataclasses (sections). Keys are dotted
paths (``es.population``). Every run writes its fully resolved config to ``config.yaml``;
reading it back goes through the same type checks.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from neurorl.errors import ConfigError


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def require(
    config: Any, section: str, names: Iterable[str], ok: Callable[[Any], bool], expected: str
) -> None:
    """For a dataclass's ``__post_init__``: raise ValueError ``"section.name must be
    <expected>, got <value>"`` for the first field of ``names`` whose value fails ``ok``."""
    for name in names:
        value = getattr(config, name)
        if not ok(value):
            raise ValueError(f"{section}.{name} must be {expected}, got {value}")


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{dotted.key: value}`` for every scalar field of a config dataclass."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        key = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, key + "."))
        else:
            out[key] = value
    return out


def _type_name(kind: Any) -> str:
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(kind))
    if get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(kind))
    return "none" if kind is type(None) else getattr(kind, "__name__", str(kind))


def _coerce(key: str, raw: Any, kind: Any) -> Any:
    """Convert ``raw`` (a string from the command line, or a YAML value) to ``kind``."""
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        for option in get_args(kind):
            try:
                return _coerce(key, raw, option)
            except ConfigError:
                continue
    elif origin is Literal:
        options = get_args(kind)
        if raw in options:
            return raw
    elif kind is type(None):
        if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null")):
            return None
    elif kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.lower() in ("true", "1", "yes")
    elif kind is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            try:
                return int(raw)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str):
            try:
                return float(raw)
            except ValueError:
                pass
    elif kind is str and isinstance(raw, str):
        return raw
    elif origin is tuple:
        return _coerce_tuple(key, _parse_yaml(key, raw) if isinstance(raw, str) else raw, kind)
    elif dataclasses.is_dataclass(kind):
        if isinstance(raw, kind):
            return raw
        if isinstance(raw, dict):
            return _build(key, kind, raw)
    raise ConfigError(f"config key '{key}' expects {_type_name(kind)}, got {raw!r}")


def _parse_yaml(key: str, raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"config key '{key}' expects a YAML list, got {raw!r}") from None


def _coerce_tuple(key: str, raw: Any, kind: Any) -> tuple:
    """A YAML list (or a tuple) as ``tuple[X, ...]`` or ``tuple[X, Y, ...]``."""
    args = get_args(kind)
    if isinstance(raw, list | tuple):
        kinds = [args[0]] * len(raw) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(kinds) == len(raw):
            pairs = enumerate(zip(raw, kinds, strict=True))
            return tuple(_coerce(f"{key}[{i}]", x, k) for i, (x, k) in pairs)
    raise ConfigError(f"config key '{key}' expects a list ({_type_name(kind)}), got {raw!r}")


def _build(key: str, cls: type, data: dict) -> Any:
    """A dataclass (e.g. an element of a tuple field) from a mapping of its fields."""
    hints = _field_types(cls)
    unknown = set(data) - set(hints)
    if unknown:
        raise ConfigError(f"config key '{key}' has no field {sorted(unknown)[0]!r}")
    values = {name: _coerce(f"{key}.{name}", value, hints[name]) for name, value in data.items()}
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"invalid config {key}: {error}") from None


def _suggest(key: str, known: list[str]) -> str:
    """The closest known key: same section first, then a shared prefix, then similarity."""
    section, _, leaf = key.rpartition(".")

    def score(candidate: str) -> tuple[bool, int, float]:
        other_section, _, other_leaf = candidate.rpartition(".")
        prefix = next(
            (i for i, (a, b) in enumerate(zip(leaf, other_leaf, strict=False)) if a != b),
            min(len(leaf), len(other_leaf)),
        )
        ratio = difflib.SequenceMatcher(None, key, candidate).ratio()
        return other_section == section, min(prefix, 3), ratio

    best = max(known, key=score)
    return f" (did you mean '{best}'?)" if score(best)[1] >= 2 or score(best)[2] >= 0.6 else ""


def apply_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """A copy of ``config`` with dotted-key overrides applied and type-checked."""
    known = list(flatten(config))
    for key in overrides:
        if key not in known:
            raise ConfigError(f"unknown config key '{key}'{_suggest(key, known)}")

    def rebuild(node: Any, prefix: str) -> Any:
        changes = {}
        hints = _field_types(type(node))
        for field in dataclasses.fields(node):
            key = f"{prefix}{field.name}"
            value = getattr(node, field.name)
            if dataclasses.is_dataclass(value):
                changes[field.name] = rebuild(value, key + ".")
            elif key in overrides:
                changes[field.name] = _coerce(key, overrides[key], hints[field.name])
        try:
            return dataclasses.replace(node, **changes)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"invalid config: {error}") from None

    return rebuild(config, "")


def parse_set_options(pairs: list[str]) -> dict[str, str]:
    """``["a.b=1", ...] -> {"a.b": "1"}``; a pair without '=' is an error."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively, for YAML."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def to_yaml(config: Any) -> str:
    return yaml.safe_dump(_plain(dataclasses.asdict(config)), sort_keys=False)


def from_mapping(data: Any, default: Any, source: str) -> Any:
    """A config from nested ``{section: {key: value}}`` data over the experiment's default."""
    if not isinstance(data, dict):
        raise ConfigError(f"config {source} is not a mapping of keys to values")
    return apply_overrides(default, _flat_mapping(data))


def missing_keys(data: dict, default: Any) -> list[str]:
    """The keys of ``default`` that nested ``data`` does not set."""
    given = _flat_mapping(data)
    return [key for key in flatten(default) if key not in given]


def _flat_mapping(node: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(_flat_mapping(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ConfigError(f"cannot read config {path}: {reason}") from None
