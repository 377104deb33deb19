"""Event-time window aggregation over a stream of Arrow batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleetstream import _core
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError
from fleetstream.stream._operator import DEFAULT_MAX_KEY_BYTES, EventTimeOperator, TimeUnit, agg_specs, check_time_unit, key_columns
from fleetstream.stream.aggregates import Agg, count
from fleetstream.stream.windows import Hopping, Tumbling, Window


class WindowAggregator(EventTimeOperator):
    """Aggregates a stream of events per key in event-time windows.

    Push Arrow batches (pyarrow, polars, pandas) in arrival order; each push returns the windows the
    watermark closed. The watermark is the largest event time seen minus ``watermark``; a window
    ``[start, end)`` closes once ``watermark >= end + allowed_lateness``. Events for closed windows go
    to :meth:`take_late` (one row per missed window, with ``window_start``, ``window_end`` and
    ``reason``), rows with unusable times or keys to :meth:`take_rejects`; nothing is dropped
    silently. Output: the key columns, ``window_start``, ``window_end`` (UTC ms timestamps), then one
    column per aggregate, ordered by ``window_end`` then key.

    The time column is an Arrow timestamp of any unit, or integers since the epoch in ``time_unit``
    (``"s"``, ``"ms"``, ``"us"`` or ``"ns"``; milliseconds by default). A batch whose integers are
    dates (1990-2100) only in another unit is refused with a ``SchemaError`` naming that unit, never
    read as January 1970 or the year 50,000.

    >>> import fleetstream as fs, pyarrow as pa
    >>> agg = fs.WindowAggregator(window=fs.Tumbling("1m"), time="ts", key="service",
    ...                           aggs={"errors": fs.count()}, watermark="5s")
    >>> agg.push(pa.table({"ts": [1_000, 30_000, 61_000, 70_000], "service": ["api", "api", "db", "api"]})).num_rows
    1
    >>> agg.flush().to_pydict()["errors"]
    [1, 1]
    """

    _native_class = _core.WindowAggregator

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
        time_unit: TimeUnit | None = None,
    ) -> None:
        check_time_unit(time_unit)
        if not isinstance(window, (Tumbling, Hopping)):
            raise ConfigError(f"window must be fs.Tumbling(...) or fs.Hopping(...), got {window!r}")
        self._native = _core.WindowAggregator(
            size=window.size_ms,
            step=window.step_ms if isinstance(window, Hopping) else None,
            offset=window.offset_ms,
            time=time,
            keys=key_columns(key),
            aggs=agg_specs({"count": count()} if aggs is None else aggs),
            watermark=duration_ms(watermark, "watermark"),
            allowed_lateness=duration_ms(allowed_lateness, "allowed_lateness"),
            max_key_bytes=max_key_bytes,
            time_unit=time_unit,
        )

    @property
    def time_unit(self) -> str:
        """The unit of integer times: "s", "ms" (the default), "us" or "ns"."""
        unit: str = self._native.time_unit
        return unit

    @property
    def open_windows(self) -> int:
        """Number of (key, window) pairs held in memory."""
        open_windows: int = self._native.open_windows
        return open_windows

    def __repr__(self) -> str:
        c = self.config()
        kind, spec = next(iter(c["window"].items()))
        window = (f"Tumbling(size_ms={spec['size']}, offset_ms={spec['offset']})" if kind == "Tumbling"
                  else f"Hopping(size_ms={spec['size']}, step_ms={spec['step']}, offset_ms={spec['offset']})")
        return (f"WindowAggregator(window={window}, time={c['time']!r}, key={c['keys']!r}, "
                f"watermark={c['watermark']}ms, allowed_lateness={c['allowed_lateness']}ms)")
