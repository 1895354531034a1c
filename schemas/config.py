"""Building configuration dataclasses from YAML-shaped dicts, with errors that name the key.

Every stage's config is a dataclass with defaults; a YAML file sets any subset. Unknown keys and
wrongly typed values fail at load time, not mid-run.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the offending key."""


def build_config(cls: type, data: Any, where: str, error: type[ConfigError] = ConfigError) -> Any:
    """Dataclass ``cls`` from a dict, recursing into dataclass fields; raises ``error``."""
    if not isinstance(data, dict):
        raise error(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"{where}: unknown option(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = build_config(hint, value, f"{where}.{key}", error)
        else:
            kwargs[key] = _check_value(hint, value, f"{where}.{key}", error)
    return cls(**kwargs)


def _check_value(hint: Any, value: Any, where: str, error: type[ConfigError]) -> Any:
    """Type-check one scalar or list option."""
    args = typing.get_args(hint)
    if value is None:
        if type(None) in args:
            return None
        raise error(f"{where}: may not be null")
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise error(f"{where}: expected a list of strings, got {value!r}")
        return origin(value)
    expected = tuple(a for a in args if a is not type(None)) or (hint,)
    if float in expected and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    # bool is an int subclass: accept it only where the field is a bool.
    if isinstance(value, bool) != (bool in expected) or not isinstance(value, expected):
        raise error(f"{where}: expected {' or '.join(t.__name__ for t in expected)}, got {value!r}")
    return value
