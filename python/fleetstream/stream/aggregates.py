"""Aggregate specifications for windows: ``count()``, ``sum(c)``, ``min(c)``, ``max(c)``, ``mean(c)``,
``quantile(c, q)``, ``count_distinct(c)``, ``first(c)``, ``last(c)``. (This module deliberately shadows the builtins ``sum``, ``min`` and ``max``.)"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from fleetstream.exceptions import ConfigError


@dataclass(frozen=True)
class Agg:
    """One aggregate: its kind, the column it reads (None for a row count) and, for quantiles, q."""

    kind: str
    column: str | None = None
    q: float | None = None


def _column(kind: str, column: object) -> str:
    if not isinstance(column, str) or not column:
        raise ConfigError(f"{kind}() needs a column name, got {column!r}")
    return column


def count(column: str | None = None) -> Agg:
    """Rows in the window, or non-null values of ``column``.

    >>> import fleetstream as fs
    >>> fs.count()
    Agg(kind='count', column=None, q=None)
    """
    return Agg("count", None if column is None else _column("count", column))


def sum(column: str) -> Agg:  # noqa: A001 - part of the public API, like polars' pl.sum
    """Sum of non-null values (int64 for integer columns, float64 otherwise)."""
    return Agg("sum", _column("sum", column))


def min(column: str) -> Agg:  # noqa: A001
    """Smallest non-null value."""
    return Agg("min", _column("min", column))


def max(column: str) -> Agg:  # noqa: A001
    """Largest non-null value."""
    return Agg("max", _column("max", column))


def mean(column: str) -> Agg:
    """Arithmetic mean of non-null values (float64)."""
    return Agg("mean", _column("mean", column))


def quantile(column: str, q: float) -> Agg:
    """Exact ``q``-quantile of non-null values, interpolated linearly as numpy does by default.

    >>> import fleetstream as fs
    >>> fs.quantile("latency_ms", 0.99)
    Agg(kind='quantile', column='latency_ms', q=0.99)
    """
    if isinstance(q, builtins.bool) or not isinstance(q, (builtins.int, builtins.float)) or not 0.0 <= q <= 1.0:
        raise ConfigError(f"quantile q must be a number between 0 and 1, got {q!r}")
    return Agg("quantile", _column("quantile", column), builtins.float(q))


def count_distinct(column: str) -> Agg:
    """Number of distinct non-null values of a column of any type."""
    return Agg("count_distinct", _column("count_distinct", column))


def first(column: str) -> Agg:
    """Value of the earliest event (by event time, ties by arrival), null included."""
    return Agg("first", _column("first", column))


def last(column: str) -> Agg:
    """Value of the latest event (by event time, ties by arrival), null included."""
    return Agg("last", _column("last", column))
