"""What the Python wrappers of the event-time operators share: a native operator, Arrow in, side
outputs, snapshots and pickling."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

import pyarrow as pa

from fleetstream._arrow import as_arrow, concat
from fleetstream.exceptions import ConfigError
from fleetstream.stream.aggregates import Agg

#: Longest key (in its encoded form) accepted; longer keys are rejected rows.
DEFAULT_MAX_KEY_BYTES = 64 * 1024

Self = TypeVar("Self", bound="EventTimeOperator")


def key_columns(key: str | Sequence[str] | None) -> list[str]:
    if key is None:
        return []
    if isinstance(key, str):
        return [key]
    keys = list(key)
    if not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(f"key must be None, a column name or a list of column names, got {key!r}")
    if len(set(keys)) != len(keys):
        raise ConfigError(f"key lists a column twice: {keys!r}")
    return keys


def agg_specs(aggs: Mapping[str, Agg]) -> list[tuple[str, str, str | None, float | None]]:
    if not isinstance(aggs, Mapping):
        raise ConfigError(f"aggs must map output names to aggregates (e.g. {{'errors': fs.count()}}), got {aggs!r}")
    specs = []
    for name, agg in aggs.items():
        if not isinstance(agg, Agg):
            raise ConfigError(f"aggs[{name!r}] must be an aggregate such as fs.count() or fs.sum('col'), got {agg!r}")
        specs.append((name, agg.kind, agg.column, agg.q))
    return specs


class EventTimeOperator:
    """Base of :class:`WindowAggregator` and :class:`Sessionizer`."""

    _native: Any
    _native_class: Any

    @classmethod
    def _wrap(cls: type[Self], native: Any) -> Self:
        self = cls.__new__(cls)
        self._native = native
        return self

    def push(self, data: Any) -> pa.Table:
        """Process ``data`` (rows in arrival order) and return what it closed."""
        closed: pa.Table = self._native.push(as_arrow(data, f"{type(self).__name__}.push() input"))
        return closed

    def flush(self) -> pa.Table:
        """End of input: close and return everything still open. Later events are late."""
        closed: pa.Table = self._native.flush()
        return closed

    def advance_watermark(self, watermark: int) -> pa.Table:
        """Move the watermark (epoch ms) to at least ``watermark`` without an event, and return
        what that closed: for an outside clock, such as Spark's watermark or an idle source.
        Events at or behind it are then late, as after an event at ``watermark`` + the delay.

        >>> import fleetstream as fs
        >>> s = fs.Sessionizer(gap=1_000, key=None, watermark=10**9)
        >>> s.push({"ts": [0, 500]}).num_rows, s.next_close()
        (0, 1500)
        >>> s.advance_watermark(1_500).select(["duration_ms", "page_views"]).to_pylist()
        [{'duration_ms': 500, 'page_views': 2}]
        """
        closed: pa.Table = self._native.advance_watermark(watermark)
        return closed

    def next_close(self) -> int | None:
        """The watermark (epoch ms) at which the next open window or session closes; None when
        nothing is open."""
        due: int | None = self._native.next_close()
        return due

    def take_late(self) -> pa.Table:
        """Rows that arrived too late, with the reason; clears them."""
        return concat(self._native.take_late())

    def take_rejects(self) -> pa.Table:
        """Rows that could not be used (null or out-of-range time, oversized key), with ``row``
        (position within its push) and ``reason``; clears them."""
        return concat(self._native.take_rejects())

    def snapshot(self) -> bytes:
        """The complete state: configuration, open state, watermark and untaken side outputs."""
        state: bytes = self._native.snapshot()
        return state

    @classmethod
    def restore(cls: type[Self], state: bytes) -> Self:
        """An operator that continues exactly where the one that took ``state`` was."""
        return cls._wrap(cls._native_class.restore(state))

    @property
    def watermark(self) -> int | None:
        """Current watermark in epoch milliseconds (None before the first event)."""
        watermark: int | None = self._native.watermark
        return watermark

    @property
    def output_schema(self) -> pa.Schema:
        """Schema of the tables :meth:`push` and :meth:`flush` return."""
        schema: pa.Schema = self._native.output_schema().schema
        return schema

    def stats(self) -> dict[str, int]:
        """Counters; ``rows_in`` always equals accepted rows plus ``rows_rejected``."""
        stats: dict[str, int] = self._native.stats()
        return stats

    def config(self) -> dict[str, Any]:
        """The configuration, as plain data."""
        config: dict[str, Any] = json.loads(self._native.config_json())
        return config

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (type(self).restore, (self.snapshot(),))


#: The unit of an integer time column (Arrow timestamps carry their own).
TimeUnit = Literal["s", "ms", "us", "ns"]


def check_time_unit(unit: object) -> None:
    """A ``time_unit=`` option: None (milliseconds) or one of ``TimeUnit``."""
    if unit is not None and unit not in ("s", "ms", "us", "ns"):
        raise ConfigError(f'time_unit must be "s", "ms", "us" or "ns" (the unit of integer times), got {unit!r}')
