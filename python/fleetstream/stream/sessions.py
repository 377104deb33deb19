"""Sessionization of event streams (click streams, app events) by inactivity gaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from fleetstream import _core
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError
from fleetstream.stream._operator import DEFAULT_MAX_KEY_BYTES, EventTimeOperator, TimeUnit, agg_specs, check_time_unit, key_columns
from fleetstream.stream.aggregates import Agg, count


class Sessionizer(EventTimeOperator):
    """Turns events into per-key sessions split by inactivity.

    Two consecutive events of a key (in event-time order) belong to one session when the gap between
    them is at most ``gap`` (exactly ``gap`` keeps the session, as in Spark's ``session_window``).
    Out-of-order events are placed by event time: a late-arriving event can extend a session, or
    bridge two sessions and merge them. A session is emitted once
    ``watermark >= session_end + gap + allowed_lateness``; an event at or behind
    ``watermark - allowed_lateness`` could change an emitted session, so it goes to
    :meth:`take_late` with the reason instead. Closed sessions leave no state behind.

    Output: the key column(s), ``session_id`` (a stable 64-bit id of key and start: the same input
    gives the same ids whatever the batch cuts), ``session_start``, ``session_end`` (time of the last
    event), ``duration_ms``, then one column per aggregate. ``max_duration`` splits longer sessions:
    an event more than ``max_duration`` after its session's start begins the next one.

    An event whose key is null (in any key column) is a reject by default, with the reason: an
    event without a user is nobody's visit, and grouping all of them would make one huge session.
    ``null_keys="group"`` makes null one more key instead, as SQL's GROUP BY and Spark's groupBy do.

    The time column is an Arrow timestamp of any unit, or integers since the epoch in ``time_unit``
    (``"s"``, ``"ms"``, ``"us"`` or ``"ns"``; milliseconds by default). A batch whose integers are
    dates (1990-2100) only in another unit is refused with a ``SchemaError`` naming that unit, never
    read as January 1970 or the year 50,000.

    ``threads`` (default 1) splits the keys by hash between that many threads for large pushes;
    the output, its order, the session ids and the late rows are the same for any number. It pays
    off only with idle cores: on a machine already busy, one thread is faster.

    Memory follows the keys with open sessions. A single integer key column whose values are dense
    (their range at most 4 times the keys held or the rows of a batch, as with auto-increment user
    ids) is looked up by offset in that range, without hashing; other keys go through a hash table.

    >>> import fleetstream as fs, pyarrow as pa
    >>> s = fs.Sessionizer(gap="30m", key="user_id", aggs={"page_views": fs.count(), "first_page": fs.first("page")})
    >>> clicks = pa.table({"ts": [0, 60_000, 1_860_000, 5_000_000], "user_id": [1, 1, 1, 1],
    ...                    "page": ["/", "/cart", "/pay", "/"]})
    >>> s.push(clicks).select(["duration_ms", "page_views", "first_page"]).to_pylist()  # 30 min apart: one session
    [{'duration_ms': 1860000, 'page_views': 3, 'first_page': '/'}]
    >>> s.flush().select(["duration_ms", "page_views"]).to_pylist()
    [{'duration_ms': 0, 'page_views': 1}]
    >>> two = fs.Sessionizer(gap="30m", key="user_id", threads=2)
    >>> two.push(clicks).equals(fs.Sessionizer(gap="30m", key="user_id").push(clicks))
    True
    """

    _native_class = _core.Sessionizer

    def __init__(
        self,
        gap: Duration = "30m",
        *,
        key: str | Sequence[str] | None = "user_id",
        time: str = "ts",
        watermark: Duration = 0,
        allowed_lateness: Duration = 0,
        aggs: Mapping[str, Agg] | None = None,
        max_duration: Duration | None = None,
        max_key_bytes: int = DEFAULT_MAX_KEY_BYTES,
        threads: int | None = None,
        null_keys: Literal["reject", "group"] = "reject",
        time_unit: TimeUnit | None = None,
    ) -> None:
        check_time_unit(time_unit)
        if threads is not None:
            _check_threads(threads)
        if null_keys not in ("reject", "group"):
            raise ConfigError(f'null_keys must be "reject" or "group", got {null_keys!r}')
        self._native = _core.Sessionizer(
            gap=duration_ms(gap, "gap"),
            time=time,
            keys=key_columns(key),
            aggs=agg_specs({"page_views": count()} if aggs is None else aggs),
            watermark=duration_ms(watermark, "watermark"),
            allowed_lateness=duration_ms(allowed_lateness, "allowed_lateness"),
            max_duration=None if max_duration is None else duration_ms(max_duration, "max_duration"),
            max_key_bytes=max_key_bytes,
            threads=threads,
            null_keys=null_keys,
            time_unit=time_unit,
        )

    @property
    def threads(self) -> int:
        """Threads a push works on (keys split between them by hash; results do not depend on it).
        Settable at any time, e.g. after :meth:`restore`, which starts with one."""
        n: int = self._native.threads
        return n

    @threads.setter
    def threads(self, threads: int) -> None:
        _check_threads(threads)
        self._native.threads = threads

    @property
    def time_unit(self) -> str:
        """The unit of integer times: "s", "ms" (the default), "us" or "ns"."""
        unit: str = self._native.time_unit
        return unit

    @property
    def null_keys(self) -> str:
        """``"reject"`` or ``"group"``: what an event whose key is null is (see the class doc)."""
        mode: str = self._native.null_keys
        return mode

    @property
    def open_sessions(self) -> int:
        """Sessions held in memory."""
        n: int = self._native.open_sessions
        return n

    @property
    def open_keys(self) -> int:
        """Keys with at least one open session."""
        n: int = self._native.open_keys
        return n

    def __repr__(self) -> str:
        c = self.config()
        return f"Sessionizer(gap={c['gap']}ms, key={c['keys']!r}, time={c['time']!r}, watermark={c['watermark']}ms)"


def _check_threads(threads: object) -> None:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive integer, got {threads!r}")
