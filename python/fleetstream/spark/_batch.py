"""Batch DataFrames: :func:`sessionize` and :func:`window_aggregate` (re-exported by :mod:`fleetstream.spark`).

How it runs
-----------
The input is hash-partitioned by the key columns (``df.repartition(*key)``), so every key lives in
exactly one partition, and ``DataFrame.mapInArrow`` hands each partition's Arrow record batches to
one native operator, which is flushed at the end of the partition. The output schema is declared
up front: it is the operator's own ``output_schema`` for the input's column types, converted to
Spark types (``timestamp[ms, UTC]`` becomes ``TimestampType``).

Why ``repartition(key)`` + ``mapInArrow`` rather than ``groupBy(key).applyInArrow``: the Rust
operators are multi-key already, so one vectorised ``push`` per Arrow batch (thousands of keys at
once) replaces one Python call, one small Arrow table and one operator per key that the grouped
API would cost (click streams have millions of users). ``applyInArrow`` also makes Spark sort each
partition by key first; ``mapInArrow`` needs no sort at all, because the operators order events by
event time themselves (see below). The price is memory: a partition's open sessions/windows stay in
memory until the partition ends. That is aggregate state (a few numbers per session or window),
not rows, except for ``quantile`` and ``count_distinct``, which keep the values they need, as they
do in the single-process operators. Raise ``partitions`` for very large inputs.

Watermark: a batch DataFrame is complete, so nothing is ever late. Each operator runs with a
watermark delay so large (2**62 ms) that nothing closes before the end-of-partition ``flush()``;
arrival order within a partition (which a shuffle does not preserve) then does not change the
result (except ties of ``first``/``last``, below), and out-of-order rows are placed by event time
exactly as in the single-process operator fed the whole input and flushed.

Semantics and differences with Spark's own functions
----------------------------------------------------
* Results equal the single-process operators fed the whole input (row order aside; sort if you
  need an order). ``session_id`` is a stable id of key and start, so it is equal too.
* ``session_window``: sessions are the same (two events exactly ``gap`` apart stay in one
  session in both), but Spark's window end is *last event + gap*; fleetstream's ``session_end`` is
  the time of the last event (``session_end + gap`` gives Spark's end).
* ``window``: the same windows ``[start, end)`` for tumbling and hopping (sliding) windows,
  aligned to the Unix epoch plus ``offset``. Spark emits a window only where it has events, and
  so does fleetstream.
* Times: a ``LongType`` column is epoch milliseconds; ``TimestampType``/``TimestampNTZType`` are
  read as UTC and truncated to milliseconds. Outputs are ``TimestampType`` (UTC).
* ``first``/``last`` break ties in event time by arrival order, and a shuffle does not keep
  arrival order: with equal times per key, their result may differ between runs (as Spark's
  ``first``/``last`` do).
* Requires pyspark 4.0 or later (Arrow type conversion helpers; ``mapInArrow`` itself is 3.3+).
* Null keys form their own group (as in ``groupBy``). Rows the operator cannot use (null time,
  oversized key) raise a :class:`~fleetstream.SchemaError` on the executor by default; Spark's
  ``session_window``/``window`` drop rows with a null time, which ``on_reject="drop"`` does.

Running on a cluster: the ``fleetstream`` wheel (and pyarrow) must be installed on every executor,
since the function shipped to executors imports :mod:`fleetstream`. pyspark is imported lazily, so
``import fleetstream`` never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError, FleetstreamError, SchemaError
from fleetstream.stream._operator import EventTimeOperator, key_columns
from fleetstream.spark._errors import unusable_rows
from fleetstream.spark._two_phase import MERGEABLE, PartialMerger, mergeable, partial_sessions
from fleetstream.stream.aggregates import Agg, count
from fleetstream.stream.aggregator import WindowAggregator
from fleetstream.stream.sessions import Sessionizer
from fleetstream.stream.windows import Window

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

__all__ = ["sessionize", "window_aggregate"]

#: Watermark delay that keeps everything open until ``flush()``: a batch input is complete.
NEVER_LATE_MS = 1 << 62

OnReject = Literal["raise", "drop"]


def sessionize(
    df: DataFrame,
    gap: Duration = "30m",
    key: str | Sequence[str] | None = "user_id",
    time: str = "ts",
    aggs: Mapping[str, Agg] | None = None,
    max_duration: Duration | None = None,
    *,
    partitions: int | None = None,
    on_reject: OnReject = "raise",
    two_phase: bool | None = None,
) -> DataFrame:
    """Sessions of a batch DataFrame, per key, split by inactivity longer than ``gap``.

    Same sessions, ids and aggregates as :class:`fleetstream.Sessionizer` fed the whole input and
    flushed. Output columns: the key column(s), ``session_id``, ``session_start``, ``session_end``
    (time of the last event), ``duration_ms``, then one column per aggregate (default
    ``{"page_views": fs.count()}``).

    ``partitions`` sets the number of shuffle partitions (default: ``spark.sql.shuffle.partitions``);
    ``on_reject`` says what to do with rows that have a null time or an oversized key. ``key=None``
    sessionizes everything as one stream, in one partition. ``max_duration`` (no Spark equivalent)
    splits sessions longer than that.

    ``two_phase`` (default: whenever possible) lets Spark aggregate gap-wide buckets of events
    where they are (partial sessions), then shuffles only those by key and merges them into
    sessions, instead of shuffling every event: see :mod:`fleetstream.spark._two_phase`. It needs
    aggregates whose partial results combine (count, sum, min, max, mean, first, last), a positive
    gap, no ``max_duration`` and a long or timestamp time; ``two_phase=True`` raises a
    :class:`~fleetstream.ConfigError` otherwise, ``False`` forces the one-phase path.

    >>> import fleetstream as fs
    >>> from fleetstream.spark import sessionize
    >>> clicks = spark.createDataFrame(
    ...     [(1, 0, "/"), (1, 60_000, "/cart"), (1, 1_860_000, "/pay"), (1, 5_000_000, "/")],
    ...     "user_id long, ts long, page string")  # doctest: +SKIP
    >>> aggs = {"views": fs.count(), "first": fs.first("page")}
    >>> sessions = sessionize(clicks, gap="30m", aggs=aggs)  # doctest: +SKIP
    >>> sessions.select("duration_ms", "views", "first").orderBy("duration_ms").collect()  # doctest: +SKIP
    [Row(duration_ms=0, views=1, first='/'), Row(duration_ms=1860000, views=3, first='/')]
    """
    operator = Sessionizer(gap, key=key, time=time, aggs=aggs, max_duration=max_duration, watermark=NEVER_LATE_MS, null_keys="group")
    keys = key_columns(key)
    resolved = {"page_views": count()} if aggs is None else dict(aggs)
    gap_ms = duration_ms(gap, "gap")
    possible = mergeable(resolved, max_duration, gap_ms)
    if two_phase and not possible:
        raise ConfigError(
            "fleetstream.spark.sessionize: two_phase=True needs aggregates whose partial results combine "
            f"({', '.join(sorted(MERGEABLE))}), a positive gap and no max_duration; got "
            f"{sorted({a.kind for a in resolved.values()})}, gap={gap_ms}ms, max_duration={max_duration!r}"
        )
    if two_phase is False or not possible:
        return _run(df, operator, keys, time, aggs, partitions, on_reject, "sessionize")

    df, arrow_in = _prepare(df, keys, time, aggs, partitions, on_reject, "sessionize")
    partials = partial_sessions(df, keys, time, gap_ms, resolved)
    if partials is None:  # a time type phase 1 cannot read exactly
        if two_phase:
            raise ConfigError(
                "fleetstream.spark.sessionize: two_phase=True needs a long or timestamp time column, "
                f"got {df.schema[time].dataType.simpleString()}"
            )
        return _run(df, operator, keys, time, aggs, partitions, on_reject, "sessionize")
    target = _target_schema(operator, arrow_in)
    # Phase 2: every partial session of a key to one partition, merged there.
    merger = PartialMerger(keys, time, gap_ms, resolved, target, on_reject)
    result: DataFrame = _by_key(partials, keys, partitions).mapInArrow(merger, _spark_schema(target))
    return result


def window_aggregate(
    df: DataFrame,
    window: Window,
    key: str | Sequence[str] | None,
    time: str = "ts",
    aggs: Mapping[str, Agg] | None = None,
    *,
    partitions: int | None = None,
    on_reject: OnReject = "raise",
) -> DataFrame:
    """Per-key aggregates of a batch DataFrame in tumbling or hopping event-time windows.

    Same windows and aggregates as :class:`fleetstream.WindowAggregator` fed the whole input and
    flushed. Output columns: the key column(s), ``window_start``, ``window_end``, then one column
    per aggregate (default ``{"count": fs.count()}``). ``key=None`` aggregates everything in one
    partition.

    >>> import fleetstream as fs
    >>> from fleetstream.spark import window_aggregate
    >>> logs = spark.createDataFrame([("api", 1_000), ("api", 30_000), ("db", 61_000)],
    ...                              "service string, ts long")  # doctest: +SKIP
    >>> counts = window_aggregate(logs, fs.Tumbling("1m"), key="service", aggs={"n": fs.count()})  # doctest: +SKIP
    >>> counts.orderBy("window_start", "service").select("service", "n").collect()  # doctest: +SKIP
    [Row(service='api', n=2), Row(service='db', n=1)]
    """
    operator = WindowAggregator(window, time=time, key=key, aggs=aggs, watermark=NEVER_LATE_MS)
    return _run(df, operator, key_columns(key), time, aggs, partitions, on_reject, "window_aggregate")


class _PartitionRunner:
    """The picklable function ``mapInArrow`` ships to executors: one operator per partition."""

    def __init__(
        self, operator_class: type[EventTimeOperator], state: bytes, target: pa.Schema, on_reject: str, what: str
    ) -> None:
        self.operator_class = operator_class
        self.state = state
        self.target = target
        self.on_reject = on_reject
        self.what = what

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        operator = self.operator_class.restore(self.state)
        for batch in batches:
            yield from self._emit(operator.push(batch))
            self._check(operator)
        yield from self._emit(operator.flush())
        self._check(operator)

    def _emit(self, table: pa.Table) -> Iterator[pa.RecordBatch]:
        if table.num_rows:
            yield from table.select(self.target.names).cast(self.target).to_batches()

    def _check(self, operator: EventTimeOperator) -> None:
        rejects = operator.take_rejects()
        if rejects.num_rows and self.on_reject == "raise":
            raise unusable_rows(self.what, rejects.num_rows, "this partition", rejects.column("reason")[0].as_py())
        late = operator.take_late()
        if late.num_rows:  # cannot happen with NEVER_LATE_MS: a bug, not bad data
            raise FleetstreamError(f"fleetstream.spark.{self.what}: {late.num_rows} row(s) were late in a batch run")


def _prepare(
    df: DataFrame,
    keys: list[str],
    time: str,
    aggs: Mapping[str, Agg] | None,
    partitions: int | None,
    on_reject: str,
    what: str,
) -> tuple[DataFrame, pa.Schema]:
    """Checks the options; returns ``df`` with only the columns the operator reads and its Arrow schema."""
    from pyspark.sql.pandas.types import to_arrow_schema

    if on_reject not in ("raise", "drop"):
        raise ConfigError(f"on_reject must be 'raise' or 'drop', got {on_reject!r}")
    if partitions is not None and (isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1):
        raise ConfigError(f"partitions must be a positive int, got {partitions!r}")

    # Ship only the columns the operator reads: less to shuffle and to convert to Arrow.
    needed = list(dict.fromkeys([*keys, time, *(a.column for a in (aggs or {}).values() if a.column)]))
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise SchemaError(f"fleetstream.spark.{what}: column(s) {missing} not in the DataFrame; it has {df.columns}")
    df = df.select(*needed)
    return df, to_arrow_schema(df.schema, timezone="UTC")


def _target_schema(operator: EventTimeOperator, arrow_in: pa.Schema) -> pa.Schema:
    """The Arrow schema of the operator's output as Spark will see it.

    The output types depend on the input types (key columns, min/max/first of any type): ask the
    operator itself, with an empty batch of the input's Arrow schema. Unusable types fail here,
    on the driver, with the operator's own message."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    probe = type(operator).restore(operator.snapshot())
    spark_schema = from_arrow_schema(probe.push(arrow_in.empty_table()).schema)
    return to_arrow_schema(spark_schema, timezone="UTC")


def _spark_schema(schema: pa.Schema) -> StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _run(
    df: DataFrame,
    operator: EventTimeOperator,
    keys: list[str],
    time: str,
    aggs: Mapping[str, Agg] | None,
    partitions: int | None,
    on_reject: str,
    what: str,
) -> DataFrame:
    """One phase: every event shuffled by key, one operator per shuffle partition."""
    df, arrow_in = _prepare(df, keys, time, aggs, partitions, on_reject, what)
    target = _target_schema(operator, arrow_in)
    runner = _PartitionRunner(type(operator), operator.snapshot(), target, on_reject, what)
    result: DataFrame = _by_key(df, keys, partitions).mapInArrow(runner, _spark_schema(target))
    return result


def _by_key(df: DataFrame, keys: list[str], partitions: int | None) -> DataFrame:
    """``df`` hash-partitioned so that every key lives in one partition (no keys: one partition)."""
    if not keys:
        return df.repartition(1)
    return df.repartition(partitions, *keys) if partitions else df.repartition(*keys)
