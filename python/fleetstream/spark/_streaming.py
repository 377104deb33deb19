"""Structured Streaming: :func:`sessionize_stream` and :func:`window_aggregate_stream`.

Each key's operator lives in Spark's state store between micro-batches, as its
:meth:`~fleetstream.Sessionizer.snapshot` (a few hundred bytes per key with open sessions or
windows), through ``groupBy(key).applyInPandasWithState`` with an event-time timeout. So state
is checkpointed with the query's offsets, and a query restarted from its checkpoint location
continues exactly where it stopped.

Watermark semantics (Spark's, applied to fleetstream's operators):

* ``withWatermark(time, delay)`` is applied for you. Spark's watermark is the largest event time
  of the *previous* micro-batches minus ``delay`` (global over all keys and partitions).
* Rows at or behind the watermark are **dropped by Spark** before the operator sees them (Spark's
  first watermark is 0, so even the first micro-batch drops events at exactly 1970-01-01) and
  counted in the query progress (``stateOperators[0].numRowsDroppedByWatermark``). The
  single-process operators are finer: they keep an event that lands inside a still-open session;
  Spark drops it. Events less than ``delay`` out of order are never late in either.
* A session is emitted once the watermark reaches ``session_end + gap``, a window once it reaches
  ``window_end`` (output mode ``append``: every row is final). A key without new events is woken
  by its timeout when the watermark passes, so idle users' sessions close too. Sessions still open
  when the input stops stay in the state store until later events move the watermark.

So with events never later than ``delay``, the output equals the single-process operator's
(``watermark=delay``) pushes before ``flush()``, as the tests check across micro-batches,
late events and a restart.

The time column may be a ``TimestampType`` or epoch milliseconds (``LongType``, converted to a
timestamp for ``withWatermark``). Output columns and types are those of the batch functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError, FleetstreamError, SchemaError
from fleetstream.spark._batch import NEVER_LATE_MS, OnReject, _prepare, _spark_schema, _target_schema
from fleetstream.spark._errors import unusable_rows
from fleetstream.stream._operator import EventTimeOperator, key_columns
from fleetstream.stream.aggregates import Agg
from fleetstream.stream.aggregator import WindowAggregator
from fleetstream.stream.sessions import Sessionizer
from fleetstream.stream.windows import Window

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Grouping column used when ``key=None`` (everything is one group).
_ALL = "__fleetstream_all__"
#: Timestamp copy of the time column that Spark's watermark is defined on.
_EVENT_TIME = "__fleetstream_event_time__"


def sessionize_stream(
    df: DataFrame,
    gap: Duration = "30m",
    key: str | Sequence[str] | None = "user_id",
    time: str = "ts",
    aggs: Mapping[str, Agg] | None = None,
    watermark: Duration = "10s",
    max_duration: Duration | None = None,
    *,
    on_reject: OnReject = "raise",
) -> DataFrame:
    """Sessions of a **streaming** DataFrame, emitted once Spark's watermark passes
    ``session_end + gap``; state is kept per key in Spark's state store.

    Same output columns as :func:`fleetstream.spark.sessionize`. Write it in ``append`` mode.

    >>> import pathlib, tempfile
    >>> from fleetstream.spark import sessionize_stream
    >>> input_dir = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (input_dir / "clicks.json").write_text(
    ...     "".join(f'{{"user_id": 1, "ts": {t}}}\\n' for t in [1_700_000_000_000, 1_700_000_060_000, 1_700_009_000_000]))
    >>> events = spark.readStream.schema("user_id long, ts long").json(str(input_dir))  # doctest: +SKIP
    >>> sessions = sessionize_stream(events, gap="30m", watermark="10s")  # doctest: +SKIP
    >>> query = (sessions.writeStream.format("memory").queryName("doc_sessions").outputMode("append")
    ...          .trigger(availableNow=True).start())  # doctest: +SKIP
    >>> query.awaitTermination(120)  # doctest: +SKIP
    True
    >>> spark.table("doc_sessions").select("user_id", "page_views").collect()  # doctest: +SKIP
    [Row(user_id=1, page_views=2)]

    (The last click's session stays open: no later event moves the watermark past it.)
    """
    operator = Sessionizer(gap, key=key, time=time, aggs=aggs, max_duration=max_duration, watermark=NEVER_LATE_MS, null_keys="group")
    return _stream(df, operator, key_columns(key), time, aggs, watermark, on_reject, "sessionize_stream")


def window_aggregate_stream(
    df: DataFrame,
    window: Window,
    key: str | Sequence[str] | None,
    time: str = "ts",
    aggs: Mapping[str, Agg] | None = None,
    watermark: Duration = "10s",
    *,
    on_reject: OnReject = "raise",
) -> DataFrame:
    """Per-key window aggregates of a **streaming** DataFrame, emitted once Spark's watermark
    passes the window end; state is kept per key in Spark's state store.

    Same output columns as :func:`fleetstream.spark.window_aggregate`. Write it in ``append`` mode.
    """
    operator = WindowAggregator(window, time=time, key=key, aggs=aggs, watermark=NEVER_LATE_MS)
    return _stream(df, operator, key_columns(key), time, aggs, watermark, on_reject, "window_aggregate_stream")


class _KeyStateRunner:
    """The picklable function ``applyInPandasWithState`` calls per key and micro-batch: restore the
    key's operator, push the key's new rows, move the watermark to Spark's, keep the snapshot."""

    def __init__(
        self, operator_class: type[EventTimeOperator], initial: bytes, target: pa.Schema, on_reject: str, what: str
    ) -> None:
        self.operator_class = operator_class
        self.initial = initial
        self.target = target
        self.on_reject = on_reject
        self.what = what

    def __call__(self, key: tuple[Any, ...], frames: Iterable[Any], state: Any) -> Iterator[Any]:
        """``frames``: the key's new rows as pandas DataFrames; yields pandas DataFrames."""
        operator = self.operator_class.restore(state.get[0] if state.exists else self.initial)
        closed = []
        if not state.hasTimedOut:
            for frame in frames:
                closed.append(operator.push(pa.Table.from_pandas(frame.drop(columns=[_ALL, _EVENT_TIME], errors="ignore"), preserve_index=False)))
                self._check(operator)
        watermark = state.getCurrentWatermarkMs()
        if watermark > 0:  # Spark reports 0 before its first watermark
            closed.append(operator.advance_watermark(watermark))
            self._check(operator)
        due = operator.next_close()
        if due is None:
            state.remove()
        else:
            state.update((operator.snapshot(),))
            # Spark wakes a key once its watermark is *past* the timeout; the operator closes at `due`.
            state.setTimeoutTimestamp(max(due - 1, watermark))
        rows = [t for t in closed if t.num_rows]
        if rows:
            yield pa.concat_tables(rows).select(self.target.names).cast(self.target).to_pandas()

    def _check(self, operator: EventTimeOperator) -> None:
        rejects = operator.take_rejects()
        if rejects.num_rows and self.on_reject == "raise":
            raise unusable_rows(self.what, rejects.num_rows, "this micro-batch", rejects.column("reason")[0].as_py())
        late = operator.take_late()
        if late.num_rows:  # Spark drops rows behind its watermark before they get here: a bug
            raise FleetstreamError(
                f"fleetstream.spark.{self.what}: {late.num_rows} row(s) behind Spark's watermark reached the operator "
                f"(first: {late.column('reason')[0].as_py()})"
            )


def _stream(
    df: DataFrame,
    operator: EventTimeOperator,
    keys: list[str],
    time: str,
    aggs: Mapping[str, Agg] | None,
    watermark: Duration,
    on_reject: str,
    what: str,
) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.streaming.state import GroupStateTimeout
    from pyspark.sql.types import LongType, TimestampType

    if not df.isStreaming:
        raise ConfigError(f"fleetstream.spark.{what} needs a streaming DataFrame (spark.readStream); use the batch function")
    delay = duration_ms(watermark, "watermark")
    df, arrow_in = _prepare(df, keys, time, aggs, None, on_reject, what)
    # The operator reads epoch milliseconds (pandas would otherwise see session-time-zone-naive
    # timestamps); Spark's watermark needs a timestamp column: a copy, dropped before the operator.
    time_type = df.schema[time].dataType
    if isinstance(time_type, LongType):
        df = df.withColumn(_EVENT_TIME, F.timestamp_millis(time))
    elif isinstance(time_type, TimestampType):
        df = df.withColumn(_EVENT_TIME, F.col(time)).withColumn(time, F.unix_millis(time))
    else:
        raise SchemaError(
            f"fleetstream.spark.{what}: time column {time!r} must be a timestamp or epoch milliseconds (long), "
            f"got {time_type.simpleString()}"
        )
    target = _target_schema(operator, arrow_in)
    runner = _KeyStateRunner(type(operator), operator.snapshot(), target, on_reject, what)
    df = df.withWatermark(_EVENT_TIME, f"{delay} milliseconds")
    grouped = df.groupBy(*keys) if keys else df.withColumn(_ALL, F.lit(0)).groupBy(_ALL)
    result: DataFrame = grouped.applyInPandasWithState(
        runner, _spark_schema(target), "snapshot binary", "append", GroupStateTimeout.EventTimeTimeout
    )
    return result
