"""Event-time window aggregation over a stream of Arrow batches."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from fleetstream import _core
from fleetstream._arrow import as_arrow, concat
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError
from fleetstream.stream.aggregates import Agg
from fleetstream.stream.windows import Hopping, Tumbling, Window

#: Longest key (in its encoded form) accepted; longer keys are rejected rows.
DEFAULT_MAX_KEY_BYTES = 64 * 1024


def _keys(key: str | Sequence[str] | None) -> list[str]:
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


class WindowAggregator:
    """Aggregates a stream of events per key in event-time windows.

    Push Arrow batches (pyarrow, polars, pandas) in arrival order; each push returns the windows the
    watermark closed. The watermark is the largest event time seen minus ``watermark``; a window
    ``[start, end)`` closes once ``watermark >= end + allowed_lateness``. Events for closed windows go
    to :meth:`take_late`, rows with unusable times or keys to :meth:`take_rejects`; nothing is dropped
    silently. Output: the key columns, ``window_start``, ``window_end`` (UTC ms timestamps), then one
    column per aggregate, ordered by ``window_end`` then key.

    >>> import fleetstream as fs, pyarrow as pa
    >>> agg = fs.WindowAggregator(window=fs.Tumbling("1m"), time="ts", key="service",
    ...                           aggs={"errors": fs.count()}, watermark="5s")
    >>> agg.push(pa.table({"ts": [1_000, 30_000, 61_000, 70_000], "service": ["api", "api", "db", "api"]})).num_rows
    1
    >>> agg.flush().to_pydict()["errors"]
    [1, 1]
    """

    def __init__(
        self,
        window: Window,
        *,
        time: str = "ts",
        key: str | Sequence[str] | None = None,
        aggs: Mapping[str, Agg] | None = None,
        watermark: Duration = 0,
        allowed_lateness: Duration = 0,
        max_key_bytes: int = DEFAULT_MAX_KEY_BYTES,
    ) -> None:
        if not isinstance(window, (Tumbling, Hopping)):
            raise ConfigError(f"window must be fs.Tumbling(...) or fs.Hopping(...), got {window!r}")
        if aggs is None:
            aggs = {"count": Agg("count")}
        if not isinstance(aggs, Mapping):
            raise ConfigError(f"aggs must map output names to aggregates (e.g. {{'errors': fs.count()}}), got {aggs!r}")
        specs = []
        for name, agg in aggs.items():
            if not isinstance(agg, Agg):
                raise ConfigError(f"aggs[{name!r}] must be an aggregate such as fs.count() or fs.sum('col'), got {agg!r}")
            specs.append((name, agg.kind, agg.column, agg.q))
        self._native = _core.WindowAggregator(
            size=window.size_ms,
            step=window.step_ms if isinstance(window, Hopping) else None,
            offset=window.offset_ms,
            time=time,
            keys=_keys(key),
            aggs=specs,
            watermark=duration_ms(watermark, "watermark"),
            allowed_lateness=duration_ms(allowed_lateness, "allowed_lateness"),
            max_key_bytes=max_key_bytes,
        )

    @classmethod
    def _wrap(cls, native: _core.WindowAggregator) -> WindowAggregator:
        self = cls.__new__(cls)
        self._native = native
        return self

    def push(self, data: Any) -> pa.Table:
        """Process ``data`` (rows in arrival order) and return the windows it closed."""
        return self._native.push(as_arrow(data, "WindowAggregator.push() input"))

    def flush(self) -> pa.Table:
        """End of input: close and return every open window. Later events are late."""
        return self._native.flush()

    def take_late(self) -> pa.Table:
        """Rows that arrived after their window closed (one row per missed window), with
        ``window_start``, ``window_end`` and ``reason``; clears them."""
        return concat(self._native.take_late())

    def take_rejects(self) -> pa.Table:
        """Rows that could not be used (null or out-of-range time, oversized key), with ``row``
        (position within its push) and ``reason``; clears them."""
        return concat(self._native.take_rejects())

    def snapshot(self) -> bytes:
        """The complete state (configuration, open windows, watermark, untaken side outputs)."""
        return self._native.snapshot()

    @classmethod
    def restore(cls, state: bytes) -> WindowAggregator:
        """An aggregator that continues exactly where the one that took ``state`` was."""
        return cls._wrap(_core.WindowAggregator.restore(state))

    @property
    def watermark(self) -> int | None:
        """Current watermark in epoch milliseconds (None before the first event)."""
        return self._native.watermark

    @property
    def open_windows(self) -> int:
        """Number of (key, window) pairs held in memory."""
        return self._native.open_windows

    @property
    def output_schema(self) -> pa.Schema:
        """Schema of the tables :meth:`push` and :meth:`flush` return."""
        schema: pa.Schema = self._native.output_schema().schema
        return schema

    def stats(self) -> dict[str, int]:
        """Counters: pushes, rows_in, rows_rejected, rows_late, late_assignments, windows_emitted,
        open_windows. ``rows_in == accepted + rows_rejected`` always."""
        return self._native.stats()

    def config(self) -> dict[str, Any]:
        """The configuration, as plain data."""
        config: dict[str, Any] = json.loads(self._native.config_json())
        return config

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (WindowAggregator.restore, (self.snapshot(),))

    def __repr__(self) -> str:
        c = self.config()
        return f"WindowAggregator(window={c['window']}, time={c['time']!r}, key={c['keys']!r}, watermark={c['watermark']}ms)"
