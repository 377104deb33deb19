"""Two-phase sessionization: gap-wide clusters aggregated by Spark where the data is, then merged
into sessions per key by fleetstream.

Phase 1 is Spark's own hash aggregation (with its map-side partial aggregation, before any
shuffle): ``groupBy(key, floor(time / gap))`` with the first and last event time, the count and
the partial aggregates. Two events in one ``gap``-wide bucket are less than ``gap`` apart, so each
bucket's events certainly belong to one session: a bucket is a *partial session*, and there are
far fewer of them than events (10 M clicks of 100 k users give about 0.9 M). Only those cross from
the JVM to Python. Phase 2 shuffles them by key and merges them with
:func:`fleetstream._core.merge_sorted_partial_sessions`: sorted by start per key, a partial
joins the current session when it starts at most ``gap`` after the latest end so far. That is
exact, because adding events can only merge clusters, never split them. The session id is the
Sessionizer's (a hash of key and start: :func:`fleetstream._core.session_ids`).

Why not run the Sessionizer on each input partition (``mapInArrow``) for phase 1: every event
would then cross the JVM-to-Python boundary, and on ``local[2]`` that hop alone (Spark converts
rows to Arrow one by one) costs about as much CPU as the whole two-phase plan.

Only aggregates whose partial results combine exactly run this way: ``count``, ``sum``, ``min``,
``max``, ``mean`` (as a sum and a count), ``first`` and ``last`` (Spark's ``min_by``/``max_by`` on
the event time); ``count_distinct``, ``quantile`` and ``max_duration`` need every event of a
session in one place and use the one-phase path, as do ``gap=0`` and ``TimestampNTZType`` times.
Float sums and means may differ from the single-process operator in the last bits (another order
of additions); an integer sum is null when its total leaves the int64 range; ``first``/``last``
ties in event time are broken arbitrarily (the single-process operator uses arrival order, which a
shuffle does not keep either).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetstream import _core
from fleetstream.spark._errors import unusable_rows
from fleetstream.stream._operator import DEFAULT_MAX_KEY_BYTES
from fleetstream.stream.aggregates import Agg

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Aggregates whose partial results combine exactly (see the module docstring).
MERGEABLE = frozenset({"count", "sum", "min", "max", "mean", "first", "last"})

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_EVENT_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, as in the Rust core

# Columns of a partial session besides the key columns and the aggregates' own.
BUCKET, START, END, ROWS, MILLIS = "#bucket", "#start", "#end", "#rows", "#millis"
# Buckets of rows the Sessionizer would reject (valid buckets are never negative: times are not).
NULL_TIME_BUCKET, UNUSABLE_ROW_BUCKET = -1, -2


def mergeable(aggs: Mapping[str, Agg], max_duration: object, gap_ms: int) -> bool:
    return max_duration is None and gap_ms > 0 and all(agg.kind in MERGEABLE for agg in aggs.values())


def partial_sessions(
    df: DataFrame, keys: Sequence[str], time: str, gap_ms: int, aggs: Mapping[str, Agg]
) -> DataFrame | None:
    """Phase 1 in Spark: one row per (key, gap-wide bucket) with the bucket's first and last event
    time, its rows and the partial aggregates. Rows the Sessionizer would reject form buckets of
    their own: ``NULL_TIME_BUCKET`` (null time) and ``UNUSABLE_ROW_BUCKET`` (time out of range,
    oversized string key). None when the time type has no exact millisecond mapping here
    (TimestampNTZType).

    Every aggregate here costs Spark time per input row (this hash aggregation is most of the
    plan's time), so nothing is computed twice: ``count()`` without a column is ``#rows``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BinaryType, LongType, StringType, TimestampType

    time_type = df.schema[time].dataType
    if isinstance(time_type, LongType):
        t: Column = F.col(time)
    elif isinstance(time_type, TimestampType):
        t = F.unix_millis(F.col(time))
    else:
        return None
    # Epoch milliseconds once, as a column of its own, so every aggregate below reads a plain long.
    df = df.withColumn(MILLIS, t)
    t = F.col(MILLIS)
    valid = t.between(0, MAX_EVENT_TIME_MS)  # null for a null time
    text_keys = [k for k in keys if isinstance(df.schema[k].dataType, (StringType, BinaryType))]
    if text_keys:
        length = sum((F.coalesce(F.octet_length(F.col(k)), F.lit(0)) for k in text_keys), F.lit(0))
        valid = valid & (length <= DEFAULT_MAX_KEY_BYTES)
    # Integer division: times are never negative in a valid bucket.
    rejected = F.when(t.isNull(), F.lit(NULL_TIME_BUCKET)).otherwise(F.lit(UNUSABLE_ROW_BUCKET))
    bucket = F.when(valid, F.expr(f"`{MILLIS}` div {gap_ms}")).otherwise(rejected).alias(BUCKET)
    columns = [F.count(F.lit(1)).alias(ROWS), F.min(t).alias(START), F.max(t).alias(END)]
    for name, agg in aggs.items():
        column = F.col(agg.column) if agg.column else None
        if agg.kind == "count":
            if column is not None:  # count() of rows is #rows
                columns.append(F.count(column).alias(name))
        elif agg.kind in ("sum", "mean"):
            assert column is not None
            # try_sum: null rather than an error (ANSI) or a wrapped value when it overflows.
            summed = F.try_sum(column.cast("double") if agg.kind == "mean" else column)
            columns += [summed.alias(name), F.count(column).alias(name + "#n")]
        elif agg.kind in ("min", "max"):
            assert column is not None
            columns.append((F.min if agg.kind == "min" else F.max)(column).alias(name))
        elif agg.kind in ("first", "last"):
            assert column is not None
            columns.append((F.min_by if agg.kind == "first" else F.max_by)(column, t).alias(name))
    result: DataFrame = df.groupBy(*[F.col(k) for k in keys], bucket).agg(*columns)
    return result


class PartialMerger:
    """The picklable phase-2 function for ``mapInArrow``: all partial sessions of one shuffle
    partition (every partial of a key is in the same partition) merged into sessions."""

    def __init__(
        self, keys: Sequence[str], time: str, gap_ms: int, aggs: Mapping[str, Agg], target: pa.Schema, on_reject: str
    ) -> None:
        self.keys = list(keys)
        self.time = time
        self.gap_ms = gap_ms
        self.aggs = dict(aggs)
        self.target = target
        self.on_reject = on_reject

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        partials = pa.Table.from_batches(list(batches))
        if partials.num_rows:
            merged = self.merge(partials)
            if merged.num_rows:
                yield from merged.to_batches()

    def merge(self, partials: pa.Table) -> pa.Table:
        bucket = partials.column(BUCKET)
        rejected = pc.fill_null(pc.less(bucket, 0), True)
        if pc.any(rejected).as_py():
            rejects = partials.filter(rejected)
            rows = pc.sum(rejects.column(ROWS)).as_py()
            if self.on_reject == "raise":
                null_times = pc.any(pc.equal(rejects.column(BUCKET), NULL_TIME_BUCKET)).as_py()
                reason = (
                    f'time column "{self.time}" is null'
                    if null_times
                    else f'time column "{self.time}" out of range, or a key over {DEFAULT_MAX_KEY_BYTES} bytes'
                )
                raise unusable_rows("sessionize", rows, "this partition", reason)
            partials = partials.filter(pc.invert(rejected))
            if not partials.num_rows:
                return self.target.empty_table()
        partials = partials.sort_by([*((k, "ascending") for k in self.keys), (START, "ascending")]).combine_chunks()
        session = _core.merge_sorted_partial_sessions(
            pa.table({"new_key": self._new_key(partials), "start": partials.column(START), "end": partials.column(END)}),
            self.gap_ms,
        ).column("session")
        index = session.to_numpy()
        # Rows of a session are consecutive and sorted by start: its first row has the earliest
        # start and the `first` values; the row with the latest end has the `last` values.
        first_rows = np.flatnonzero(np.diff(index, prepend=-1))
        by_end = np.lexsort((partials.column(END).to_numpy(), index))
        last_rows = by_end[np.append(np.flatnonzero(np.diff(index[by_end])), len(index) - 1)]
        first = partials.take(pa.array(first_rows))
        last = partials.take(pa.array(last_rows))

        totals = self._totals(partials.append_column("#session", session))
        starts, ends = first.column(START), last.column(END)
        ms = pa.timestamp("ms", tz="UTC")
        columns: dict[str, Any] = {k: first.column(k) for k in self.keys}
        columns["session_id"] = _core.session_ids(first.select(self.keys), pa.table({"start": starts})).column(0)
        columns["session_start"] = pc.cast(starts, ms)
        columns["session_end"] = pc.cast(ends, ms)
        columns["duration_ms"] = pc.subtract(ends, starts)
        for name, agg in self.aggs.items():
            if agg.kind == "first":
                columns[name] = first.column(name)
            elif agg.kind == "last":
                columns[name] = last.column(name)
            else:
                columns[name] = self._combine(name, agg, totals)
        return pa.table(columns).select(self.target.names).cast(self.target)

    def _new_key(self, partials: pa.Table) -> pa.Array:
        """True where a row's key differs from the previous row's (nulls equal to nulls)."""
        n = partials.num_rows
        flags = np.zeros(n, dtype=bool)
        if n:
            flags[0] = True
        for k in self.keys:
            column = partials.column(k)
            a, b = column.slice(1), column.slice(0, n - 1)
            differ = pc.fill_null(pc.not_equal(a, b), False)
            null_differs = pc.not_equal(pc.is_null(a), pc.is_null(b))
            flags[1:] |= pc.or_(differ, null_differs).to_numpy(zero_copy_only=False)
        return pa.array(flags)

    def _totals(self, partials: pa.Table) -> pa.Table:
        """Per session (sorted by index): sums of counts and sums, minima and maxima."""
        wanted: list[tuple[str, str]] = [(ROWS, "sum")]  # count() of rows, whatever its name
        for name, agg in self.aggs.items():
            if agg.kind == "count" and agg.column is None:
                continue
            if agg.kind in ("count", "min", "max"):
                wanted.append((name, "sum" if agg.kind == "count" else agg.kind))
            elif agg.kind in ("sum", "mean"):
                column = partials.column(name)
                if pa.types.is_integer(column.type):
                    # Summed exactly, so that a total beyond int64 is seen rather than wrapped.
                    index = partials.schema.get_field_index(name)
                    partials = partials.set_column(index, name, pc.cast(column, pa.decimal128(38, 0)))
                # A partial sum that is null while it has values overflowed in phase 1.
                overflowed = pc.and_(pc.is_null(column), pc.greater(partials.column(name + "#n"), 0))
                partials = partials.append_column(name + "#overflow", pc.cast(overflowed, pa.int64()))
                wanted += [(name, "sum"), (name + "#n", "sum"), (name + "#overflow", "max")]
        grouped = partials.group_by("#session", use_threads=False).aggregate(wanted)
        return grouped.sort_by("#session")

    def _combine(self, name: str, agg: Agg, totals: pa.Table) -> Any:
        if agg.kind == "count" and agg.column is None:
            return totals.column(f"{ROWS}_sum")
        if agg.kind in ("count", "min", "max"):
            return totals.column(f"{name}_{'sum' if agg.kind == 'count' else agg.kind}")
        total, n = totals.column(f"{name}_sum"), totals.column(f"{name}#n_sum")
        if agg.kind == "mean":
            mean = pc.divide(pc.cast(total, pa.float64()), pc.cast(n, pa.float64()))
            return pc.if_else(pc.greater(n, 0), mean, pa.scalar(None, pa.float64()))
        if pa.types.is_decimal(total.type):
            overflow = pc.greater(totals.column(f"{name}#overflow_max"), 0)
            out_of_range = pc.or_(pc.less(total, INT64_MIN), pc.greater(total, INT64_MAX))
            bad = pc.fill_null(pc.or_(overflow, out_of_range), False)
            return pc.cast(pc.if_else(bad, pa.scalar(None, total.type), total), pa.int64())
        return total
