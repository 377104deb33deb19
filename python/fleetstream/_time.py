"""Durations and times given by users: "500ms"/"5s"/"1m"/"2h", timedelta, or int milliseconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Union

from fleetstream import _core
from fleetstream.exceptions import ConfigError

Duration = Union[str, int, timedelta]


def duration_ms(value: Duration, name: str) -> int:
    """Milliseconds in ``value``; ``name`` is the option, for the error message."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{name}: duration must not be negative, got {value} ms")
        return value
    if isinstance(value, timedelta):
        ms = value / timedelta(milliseconds=1)
        if ms < 0 or ms != int(ms):
            raise ConfigError(f"{name}: expected a non-negative whole number of milliseconds, got {value!r}")
        return int(ms)
    if isinstance(value, str):
        try:
            return _core.parse_duration(value)
        except ValueError as error:
            raise ConfigError(f"{name}: {error}") from None
    raise ConfigError(f"{name}: expected a duration such as \"5s\", a timedelta or int milliseconds, got {value!r}")
