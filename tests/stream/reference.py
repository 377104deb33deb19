"""Pure-Python reference for ``fs.WindowAggregator`` and ``fs.SpikeDetector``.

This is the oracle of the property tests and the "pure Python" contender of ``benches/bench_windows.py``.
It is written from the specification alone (not from the Rust code), one event at a time, with plain
dicts, lists and ints: no numpy, no pyarrow in the core logic.

Conventions of the core (everything in milliseconds since the Unix epoch):

* an event is a ``dict`` column -> value; the time column holds an ``int`` (ms) or ``None``;
* an output row is a ``dict``: key column(s), ``window_start``, ``window_end`` (ints), one entry per aggregate;
* late rows are the event's dict plus ``window_start``, ``window_end``, ``reason``;
* rejected rows are the event's dict plus ``row`` (index within its push) and ``reason``.

The adapters at the bottom (``events_from_arrow``, ``normalize_table`` ...) import pyarrow lazily; they
turn Arrow data into the core's plain values so both sides of a comparison speak the same language.

Points the specification leaves open, decided here (each one is a named constant or a docstring line):

* ``count(col)`` of a window whose ``col`` is all null is ``0`` (SQL's COUNT), see ``COUNT_COL_ALL_NULL``;
  sum/min/max/mean/quantile give ``None`` there.
* "key larger than 64 KiB": the UTF-8 (or raw bytes) length of the key's string/binary values, added up
  over the key columns, is greater than 65,536 bytes.  Ints, floats and nulls count 0 bytes.
* Hopping windows with ``step > size`` leave gaps: an event in a gap belongs to no window; it is accepted,
  counted nowhere, neither late nor rejected.
* SpikeDetector: missing windows (gaps) never alert and are not output, but they advance the warm-up count,
  enter the history as 0 and use up cooldown.  A null value counts as 0.
"""

from __future__ import annotations

import heapq
import math
import pickle
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

__all__ = [
    "MIN_TIME_MS",
    "MAX_TIME_MS",
    "MAX_KEY_BYTES",
    "parse_duration",
    "Tumbling",
    "Hopping",
    "Agg",
    "count",
    "sum_",
    "min_",
    "max_",
    "mean",
    "quantile",
    "window_starts",
    "quantile_linear",
    "WindowAggregator",
    "SpikeDetector",
]

MIN_TIME_MS = 0  # 1970-01-01T00:00:00Z
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_KEY_BYTES = 64 * 1024
COUNT_COL_ALL_NULL = 0

REASON_LATE = "late"
REASON_NULL_TIME = "null time"
REASON_BEFORE_1970 = "time before 1970"
REASON_AFTER_9999 = "time after 9999-12-31"
REASON_KEY_TOO_LARGE = "key larger than 64 KiB"

# --------------------------------------------------------------------------------------------- specs

_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")


def parse_duration(value: str | int | timedelta) -> int:
    """Milliseconds in ``"500ms"``, ``"5s"``, ``"1m"``, ``"2h"``, ``"1h30m"``, a timedelta or an int (ms)."""
    if isinstance(value, bool):
        raise TypeError("a duration cannot be a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, timedelta):
        return (value.days * 86_400 + value.seconds) * 1_000 + value.microseconds // 1_000
    if isinstance(value, str):
        text = value.strip()
        pos, total = 0, 0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            total += int(m.group(1)) * _UNIT_MS[m.group(2)]
            pos = m.end()
        if pos == len(text) and pos > 0:
            return total
        raise ValueError(f"not a duration: {value!r}")
    raise TypeError(f"not a duration: {value!r}")


@dataclass(frozen=True)
class Hopping:
    """Windows [s, s + size) for every s = k * step + offset."""

    size: Any
    step: Any
    offset: Any = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", parse_duration(self.size))
        object.__setattr__(self, "step", parse_duration(self.step))
        object.__setattr__(self, "offset", parse_duration(self.offset))
        if self.size <= 0 or self.step <= 0:
            raise ValueError("window size and step must be positive")


class Tumbling(Hopping):
    """Hopping windows whose step equals their size."""

    def __init__(self, size: Any, offset: Any = 0) -> None:
        super().__init__(size, size, offset)


@dataclass(frozen=True)
class Agg:
    kind: str  # count | sum | min | max | mean | quantile | count_distinct | first | last
    column: str | None = None
    q: float | None = None


def count(column: str | None = None) -> Agg:
    return Agg("count", column)


def sum_(column: str) -> Agg:
    return Agg("sum", column)


def min_(column: str) -> Agg:
    return Agg("min", column)


def max_(column: str) -> Agg:
    return Agg("max", column)


def mean(column: str) -> Agg:
    return Agg("mean", column)


def count_distinct(column: str) -> Agg:
    return Agg("count_distinct", column)


def first(column: str) -> Agg:
    """The value (null included) of the earliest event by event time in ms, ties by arrival."""
    return Agg("first", column)


def last(column: str) -> Agg:
    """The value (null included) of the latest event by event time in ms, ties by arrival."""
    return Agg("last", column)


def quantile(column: str, q: float) -> Agg:
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be in [0, 1]")
    return Agg("quantile", column, float(q))


# ------------------------------------------------------------------------------------- pure helpers


def window_starts(t: int, size: int, step: int, offset: int = 0) -> list[int]:
    """Ascending starts s = k * step + offset with s <= t < s + size."""
    last = (t - offset) // step * step + offset
    if step >= size:  # tumbling (or gapped hopping): at most one window
        return [last] if t < last + size else []
    first = last - (last - (t - size + 1)) // step * step
    return list(range(first, last + 1, step))


def quantile_linear(sorted_values: Sequence[float], q: float) -> float | None:
    """numpy's default ("linear") quantile of already sorted values; None when there are none."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    a, b = float(sorted_values[lo]), float(sorted_values[hi])
    # numpy's _lerp: a + (b - a) * t, computed from the upper end when t >= 0.5.
    return b - (b - a) * (1.0 - frac) if frac >= 0.5 else a + (b - a) * frac


def key_sort_key(key: tuple) -> tuple:
    """Ascending, nulls first, strings by code point (Python's own str order)."""
    return tuple((0,) if v is None else (1, v) for v in key)


def _key_bytes(key: tuple) -> int:
    n = 0
    for v in key:
        if isinstance(v, str):
            # a str of L code points is at most 4 L bytes in UTF-8: encode only when it could matter
            n += len(v) if 4 * len(v) <= MAX_KEY_BYTES else len(v.encode("utf-8"))
        elif isinstance(v, (bytes, bytearray)):
            n += len(v)
    return n


# ------------------------------------------------------------------------------------ aggregator

_COUNT, _COUNT_COL, _SUM, _MIN, _MAX, _MEAN, _QUANTILE, _DISTINCT, _FIRST, _LAST = range(10)
_KIND_CODE = {"sum": _SUM, "min": _MIN, "max": _MAX, "mean": _MEAN, "quantile": _QUANTILE,
              "count_distinct": _DISTINCT, "first": _FIRST, "last": _LAST}


class WindowAggregator:
    """Streaming event-time window aggregation with a bounded-out-of-orderness watermark."""

    def __init__(
        self,
        window: Hopping,
        time: str,
        key: str | Sequence[str] | None = None,
        aggs: Mapping[str, Agg] | None = None,
        watermark: Any = 0,
        allowed_lateness: Any = 0,
    ) -> None:
        self.size, self.step, self.offset = window.size, window.step, window.offset
        self.time = time
        if key is None:
            self.key_cols: tuple[str, ...] = ()
        elif isinstance(key, str):
            self.key_cols = (key,)
        else:
            self.key_cols = tuple(key)
        self.aggs = dict(aggs if aggs is not None else {"count": count()})
        self.names = list(self.aggs)
        self._plan: list[tuple[int, str | None]] = []
        for agg in self.aggs.values():
            if agg.kind == "count":
                self._plan.append((_COUNT if agg.column is None else _COUNT_COL, agg.column))
            else:
                self._plan.append((_KIND_CODE[agg.kind], agg.column))
        self._qs = [agg.q for agg in self.aggs.values()]
        self._count_only = [code for code, _ in self._plan] == [_COUNT]
        self.bound = parse_duration(watermark)
        self.lateness = parse_duration(allowed_lateness)
        self._max_t: int | None = None
        self._open: dict[int, dict[tuple, list]] = {}  # window start -> key -> aggregate states
        self._heap: list[int] = []  # the starts in _open
        self._late: list[dict] = []
        self._rejects: list[dict] = []
        self._rows_in = 0  # rows pushed so far, rejects included: the arrival order of first/last

    # -- state per (window, key): one slot per aggregate
    def _new_state(self) -> list:
        st: list = []
        for code, _ in self._plan:
            if code in (_COUNT, _COUNT_COL):
                st.append(0)
            elif code == _MEAN:
                st.append([0, 0])
            elif code == _QUANTILE:
                st.append([])
            elif code == _DISTINCT:
                st.append(set())
            else:
                st.append(None)
        return st

    def _update(self, st: list, ev: Mapping, t: int, seq: int) -> None:
        """Add one event; ``t`` (ms) and ``seq`` (its row number in the whole input) order first/last."""
        if self._count_only:
            st[0] += 1
            return
        for i, (code, col) in enumerate(self._plan):
            if code == _COUNT:
                st[i] += 1
                continue
            v = ev.get(col)
            if code == _FIRST:
                if st[i] is None or (t, seq) < st[i][:2]:
                    st[i] = (t, seq, v)
                continue
            if code == _LAST:
                if st[i] is None or (t, seq) > st[i][:2]:
                    st[i] = (t, seq, v)
                continue
            if v is None:
                continue
            if code == _COUNT_COL:
                st[i] += 1
            elif code == _SUM:
                st[i] = v if st[i] is None else st[i] + v
            elif code == _MIN:
                if st[i] is None or v < st[i]:
                    st[i] = v
            elif code == _MAX:
                if st[i] is None or v > st[i]:
                    st[i] = v
            elif code == _MEAN:
                st[i][0] += v
                st[i][1] += 1
            elif code == _DISTINCT:
                st[i].add(v)
            else:
                st[i].append(v)

    def _finish(self, st: list) -> list:
        out = []
        for i, (code, _) in enumerate(self._plan):
            s = st[i]
            if code == _MEAN:
                out.append(s[0] / s[1] if s[1] else None)
            elif code == _QUANTILE:
                s.sort()
                out.append(quantile_linear(s, self._qs[i]))
            elif code == _COUNT_COL and s == 0:
                out.append(COUNT_COL_ALL_NULL)
            elif code == _DISTINCT:
                out.append(len(s))
            elif code in (_FIRST, _LAST):
                out.append(s[2])
            else:
                out.append(s)
        return out

    # -- the stream
    def _reject_reason(self, t: Any, key: tuple) -> str | None:
        if t is None:
            return REASON_NULL_TIME
        if t < MIN_TIME_MS:
            return REASON_BEFORE_1970
        if t > MAX_TIME_MS:
            return REASON_AFTER_9999
        if key and _key_bytes(key) > MAX_KEY_BYTES:
            return REASON_KEY_TOO_LARGE
        return None

    def push(self, events: Iterable[Mapping]) -> list[dict]:
        """Process events in arrival order; return the rows of the windows this push closed."""
        time, key_cols = self.time, self.key_cols
        size, step, offset, lateness = self.size, self.step, self.offset, self.lateness
        tumbling = step >= size
        open_, heap, update = self._open, self._heap, self._update
        max_t = self._max_t
        single = key_cols[0] if len(key_cols) == 1 else None
        for row, ev in enumerate(events):
            seq = self._rows_in
            self._rows_in += 1
            t = ev.get(time)
            key = (ev.get(single),) if single is not None else tuple(ev.get(c) for c in key_cols)
            if t is None or t < MIN_TIME_MS or t > MAX_TIME_MS or (key and _key_bytes(key) > MAX_KEY_BYTES):
                rej = dict(ev)
                rej["row"] = row
                rej["reason"] = self._reject_reason(t, key)
                self._rejects.append(rej)
                continue
            wm = None if max_t is None else max_t - self.bound
            if tumbling:  # the common case, without building a list
                s = (t - offset) // step * step + offset
                starts = (s,) if t < s + size else ()
            else:
                starts = window_starts(t, size, step, offset)
            for s in starts:
                if wm is not None and s + size + lateness <= wm:
                    late = dict(ev)
                    late["window_start"] = s
                    late["window_end"] = s + size
                    late["reason"] = REASON_LATE
                    self._late.append(late)
                    continue
                bucket = open_.get(s)
                if bucket is None:
                    bucket = open_[s] = {}
                    heapq.heappush(heap, s)
                st = bucket.get(key)
                if st is None:
                    st = bucket[key] = self._new_state()
                update(st, ev, t, seq)
            if max_t is None or t > max_t:
                max_t = t
        self._max_t = max_t
        if max_t is None:
            return []
        return self._close_until(max_t - self.bound)

    def _close_until(self, wm: int | None) -> list[dict]:
        out: list[dict] = []
        heap, size, lateness = self._heap, self.size, self.lateness
        while heap and (wm is None or heap[0] + size + lateness <= wm):
            s = heapq.heappop(heap)
            bucket = self._open.pop(s)
            for key in sorted(bucket, key=key_sort_key):
                r = dict(zip(self.key_cols, key))
                r["window_start"] = s
                r["window_end"] = s + size
                r.update(zip(self.names, self._finish(bucket[key])))
                out.append(r)
        return out

    def flush(self) -> list[dict]:
        """End of input: close every open window."""
        return self._close_until(None)

    @property
    def watermark(self) -> int | None:
        return None if self._max_t is None else self._max_t - self.bound

    def take_late(self) -> list[dict]:
        out, self._late = self._late, []
        return out

    def take_rejects(self) -> list[dict]:
        out, self._rejects = self._rejects, []
        return out

    def snapshot(self) -> bytes:
        return pickle.dumps(self.__dict__)

    @classmethod
    def restore(cls, state: bytes) -> "WindowAggregator":
        obj = cls.__new__(cls)
        obj.__dict__.update(pickle.loads(state))
        return obj


# -------------------------------------------------------------------------------------- detector

RULES = ("mean", "zscore", "ewma")


class _KeyState:
    __slots__ = ("last_start", "n", "hist", "cooldown", "ewma")

    def __init__(self, history: int) -> None:
        self.last_start: int | None = None
        self.n = 0  # windows seen since the key's first window, zeros included
        self.hist: deque = deque(maxlen=history)
        self.cooldown = 0  # windows that still cannot alert
        self.ewma: float | None = None


class SpikeDetector:
    """Per-key spike alerts over a stream of closed windows (rows as produced by WindowAggregator)."""

    def __init__(
        self,
        value: str,
        key: str | Sequence[str] | None = None,
        history: int = 10,
        factor: float = 3.0,
        floor: float = 20,
        rule: str = "mean",
        cooldown: int = 0,
        threshold: float = 3.0,
        alpha: float = 0.3,
        step: Any = None,
    ) -> None:
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, not {rule!r}")
        if history < 1:
            raise ValueError("history must be >= 1")
        self.value = value
        if key is None:
            self.key_cols: tuple[str, ...] = ()
        elif isinstance(key, str):
            self.key_cols = (key,)
        else:
            self.key_cols = tuple(key)
        self.history, self.factor, self.floor = history, factor, floor
        self.rule, self.cooldown = rule, cooldown
        self.threshold, self.alpha = threshold, alpha
        self.step = None if step is None else parse_duration(step)
        self._keys: dict[tuple, _KeyState] = {}

    def _baseline(self, st: _KeyState) -> tuple[float, float]:
        """(baseline, threshold the value must exceed) from the history before this window."""
        if self.rule == "ewma":
            return st.ewma, self.factor * st.ewma
        h = st.hist
        m = sum(h) / len(h)
        if self.rule == "mean":
            return m, self.factor * m
        var = sum((x - m) * (x - m) for x in h) / len(h)
        return m, m + self.threshold * math.sqrt(var)

    def _observe(self, st: _KeyState, v: float) -> float | None:
        """Add one window; return its baseline if it alerts, else None."""
        alert_baseline = None
        blocked = st.cooldown > 0
        if blocked:
            st.cooldown -= 1
        elif st.n >= self.history and v > self.floor:
            baseline, limit = self._baseline(st)
            if v > limit:
                alert_baseline = baseline
                st.cooldown = self.cooldown
        self._remember(st, v)
        return alert_baseline

    def _remember(self, st: _KeyState, v: float) -> None:
        st.hist.append(v)
        st.ewma = v if st.n == 0 else self.alpha * v + (1.0 - self.alpha) * st.ewma
        st.n += 1

    def _skip_zeros(self, st: _KeyState, missing: int) -> None:
        """Missing windows: value 0, never alert, use up cooldown."""
        st.n += missing
        st.cooldown = max(0, st.cooldown - missing)
        st.hist.extend([0] * min(missing, self.history))
        e = st.ewma
        for _ in range(missing):
            nxt = (1.0 - self.alpha) * e  # alpha * 0 + (1 - alpha) * e
            if nxt == e:
                break
            e = nxt
        st.ewma = e

    def push(self, rows: Iterable[Mapping]) -> list[dict]:
        alerts: list[dict] = []
        for r in rows:
            key = tuple(r.get(c) for c in self.key_cols)
            start, end = r["window_start"], r["window_end"]
            v = r.get(self.value)
            if v is None:
                v = 0
            step = self.step if self.step is not None else end - start
            st = self._keys.get(key)
            if st is None:
                st = self._keys[key] = _KeyState(self.history)
            elif start <= st.last_start:
                raise ValueError(f"windows of key {key!r} out of order: {start} after {st.last_start}")
            else:
                gap = start - st.last_start
                if gap % step:
                    raise ValueError(f"window start {start} is not a whole number of steps after {st.last_start}")
                if gap > step:
                    self._skip_zeros(st, gap // step - 1)
            st.last_start = start
            baseline = self._observe(st, v)
            if baseline is not None:
                a = dict(zip(self.key_cols, key))
                a.update(window_start=start, window_end=end, value=v, baseline=baseline, rule=self.rule)
                alerts.append(a)
        return alerts

    def flush(self) -> list[dict]:
        """Nothing is pending in a detector: every window is decided when it arrives."""
        return []

    def snapshot(self) -> bytes:
        return pickle.dumps(self.__dict__)

    @classmethod
    def restore(cls, state: bytes) -> "SpikeDetector":
        obj = cls.__new__(cls)
        obj.__dict__.update(pickle.loads(state))
        return obj


# ------------------------------------------------------------------------- adapters (use pyarrow)

_MS_PER_UNIT = {"s": ("mul", 1_000), "ms": ("mul", 1), "us": ("div", 1_000), "ns": ("div", 1_000_000)}


def _to_ms(v: int | None, unit: str) -> int | None:
    if v is None:
        return None
    op, f = _MS_PER_UNIT[unit]
    return v * f if op == "mul" else v // f  # floor division floors negative instants too


def _as_arrow(data: Any):
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "to_arrow"):  # polars
        return data.to_arrow()
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return pa.Table.from_pandas(data, preserve_index=False)
    except ImportError:  # pragma: no cover
        pass
    return pa.table(data)


def column_values(table: Any, name: str) -> list:
    """A column as plain Python values; timestamps become int ms (floored)."""
    import pyarrow as pa

    table = _as_arrow(table)
    col = table.column(name)
    if pa.types.is_timestamp(col.type):
        unit = col.type.unit
        raw = col.cast(pa.int64()).to_pylist()
        return [_to_ms(v, unit) for v in raw]
    if pa.types.is_date(col.type) or pa.types.is_time(col.type) or pa.types.is_duration(col.type):
        return col.cast(pa.int64()).to_pylist()
    return col.to_pylist()


def table_rows(table: Any) -> list[dict]:
    """Rows of an Arrow-compatible table as dicts, every timestamp column as int ms (floored)."""
    table = _as_arrow(table)
    cols = {name: column_values(table, name) for name in table.column_names}
    n = table.num_rows
    names = list(cols)
    return [{name: cols[name][i] for name in names} for i in range(n)]


events_from_arrow = table_rows
normalize_table = table_rows


def rows_to_arrow(rows: Sequence[Mapping], schema: Any = None):
    """Reference rows -> pyarrow.Table; window_start/window_end become timestamp[ms, UTC]."""
    import pyarrow as pa

    if schema is not None:
        fixed = []
        for r in rows:
            d = dict(r)
            for f in schema:
                if pa.types.is_timestamp(f.type) and isinstance(d.get(f.name), int):
                    d[f.name] = _ms_to_datetime(d[f.name])
            fixed.append(d)
        return pa.Table.from_pylist(fixed, schema=schema)
    table = pa.Table.from_pylist([dict(r) for r in rows])
    for name in ("window_start", "window_end"):
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, table.column(name).cast(pa.timestamp("ms", tz="UTC")))
    return table


def _ms_to_datetime(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


def rows_equal(actual: Sequence[Mapping], expected: Sequence[Mapping], rel: float = 1e-9) -> bool:
    """Same rows in the same order; floats equal within ``rel`` (NaN == NaN); ints/bools exactly."""
    if len(actual) != len(expected):
        return False
    return all(_row_equal(a, e, rel) for a, e in zip(actual, expected))


def _row_equal(a: Mapping, e: Mapping, rel: float) -> bool:
    if set(a) != set(e):
        return False
    return all(_value_equal(a[k], e[k], rel) for k in e)


def _value_equal(a: Any, e: Any, rel: float) -> bool:
    if a is None or e is None:
        return a is None and e is None
    if isinstance(a, bool) or isinstance(e, bool):
        return type(a) is type(e) and a == e
    if isinstance(a, float) or isinstance(e, float):
        a, e = float(a), float(e)
        if math.isnan(a) or math.isnan(e):
            return math.isnan(a) and math.isnan(e)
        return math.isclose(a, e, rel_tol=rel, abs_tol=1e-12)
    return a == e


def first_difference(actual: Sequence[Mapping], expected: Sequence[Mapping], rel: float = 1e-9) -> str:
    """A short human description of where two row lists differ ('' when they are equal)."""
    for i, (a, e) in enumerate(zip(actual, expected)):
        if not _row_equal(a, e, rel):
            return f"row {i}: actual {dict(a)!r} != expected {dict(e)!r}"
    if len(actual) != len(expected):
        n = min(len(actual), len(expected))
        extra = actual[n:] if len(actual) > n else expected[n:]
        who = "actual" if len(actual) > n else "expected"
        return f"{who} has {abs(len(actual) - len(expected))} more rows, first: {dict(extra[0])!r}"
    return ""
