"""fleetstream.spark on local[2]: equal to the single-process operators, and to Spark's own
``session_window`` / ``window`` where they overlap, on generated, shuffled (out-of-order) data."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import fleetstream as fs
from fleetstream import spark as fss
from fleetstream.exceptions import ConfigError, SchemaError

MIN = 60_000
GAP = 30 * MIN
NEVER_LATE = fss.NEVER_LATE_MS

# mapInArrow checks for pandas, and warns about pandas 3; fleetstream.spark does not use pandas.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

SESSION_AGGS = {
    "views": fs.count(),
    "pages": fs.count_distinct("page"),
    "first_page": fs.first("page"),
    "last_page": fs.last("page"),
    "spent": fs.sum("amount"),
    "low": fs.min("amount"),
    "high": fs.max("amount"),
    "avg": fs.mean("amount"),
    "median": fs.quantile("amount", 0.5),
    "amounts": fs.count("amount"),
}


def clicks(seed: int = 7, users: int = 40, per_user: int = 60) -> pa.Table:
    """Click events with gaps of exactly 30 min, 30 min + 1 ms, short and long; times are distinct
    per user (so first/last have no ties), rows are shuffled (out of order), amounts are whole
    numbers (so float sums do not depend on the order) with some nulls."""
    rng = random.Random(seed)
    gaps = [1, 1_000, 5 * MIN, 29 * MIN, GAP, GAP, GAP + 1, 2 * 60 * MIN]
    rows: list[dict[str, Any]] = []
    for user in range(users):
        ts = 1_700_000_000_000 + rng.randrange(0, 3 * 60 * MIN)
        for _ in range(per_user):
            rows.append(
                {
                    "user_id": user,
                    "ts": ts,
                    "page": rng.choice(["/", "/cart", "/pay", "/help", "/search"]),
                    "amount": None if rng.random() < 0.1 else float(rng.randrange(0, 500)),
                }
            )
            ts += rng.choice(gaps)
    rng.shuffle(rows)
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("user_id", pa.int64()), ("ts", pa.int64()), ("page", pa.string()), ("amount", pa.float64())]
        ),
    )


@pytest.fixture(scope="module")
def events() -> pa.Table:
    table = clicks()
    # The data must exercise the boundary: consecutive events exactly 30 minutes apart.
    ordered = table.sort_by([("user_id", "ascending"), ("ts", "ascending")]).to_pydict()
    pairs = zip(zip(ordered["user_id"], ordered["ts"]), zip(ordered["user_id"][1:], ordered["ts"][1:]))
    assert sum(1 for (u1, t1), (u2, t2) in pairs if u1 == u2 and t2 - t1 == GAP) > 100
    return table


@pytest.fixture(scope="module")
def events_df(spark: Any, events: pa.Table) -> Any:
    return spark.createDataFrame(events).cache()


def single_process(operator: fs.Sessionizer | fs.WindowAggregator, table: pa.Table, cuts: int = 7) -> pa.Table:
    """The whole input pushed in a few batches, then flushed."""
    size = -(-table.num_rows // cuts)
    parts = [operator.push(batch) for batch in table.to_batches(max_chunksize=size)]
    return pa.concat_tables([*parts, operator.flush()])


def rows(table: pa.Table, by: list[str]) -> list[dict[str, Any]]:
    """Rows sorted by ``by``, timestamps as epoch milliseconds (Spark returns microseconds)."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = pc.cast(pc.cast(column, pa.timestamp("ms", tz="UTC")), pa.int64())
        columns[name] = column
    result: list[dict[str, Any]] = pa.table(columns).sort_by([(c, "ascending") for c in by]).to_pylist()
    return result


def test_sessionize_equals_single_process(events: pa.Table, events_df: Any) -> None:
    got = fss.sessionize(events_df, gap="30m", key="user_id", time="ts", aggs=SESSION_AGGS).toArrow()
    expected = single_process(
        fs.Sessionizer(null_keys="group", gap="30m", key="user_id", time="ts", aggs=SESSION_AGGS, watermark=NEVER_LATE), events
    )
    assert got.column_names == expected.column_names
    assert got.num_rows == expected.num_rows > 400
    assert rows(got, ["user_id", "session_start"]) == rows(expected, ["user_id", "session_start"])


def test_sessionize_max_duration_and_partitions(events: pa.Table, events_df: Any) -> None:
    got = fss.sessionize(events_df, gap="30m", max_duration="45m", partitions=3).toArrow()
    expected = single_process(fs.Sessionizer(null_keys="group", gap="30m", max_duration="45m", watermark=NEVER_LATE), events)
    assert rows(got, ["user_id", "session_start"]) == rows(expected, ["user_id", "session_start"])


def test_sessionize_equals_spark_session_window(spark: Any, events_df: Any) -> None:
    """Spark's session end is last event + gap; fleetstream's is the last event. Same sessions,
    starts and counts, including events exactly 30 minutes apart (one session in both)."""
    from pyspark.sql import functions as F

    df = events_df.withColumn("ts", F.timestamp_millis("ts"))  # and a TimestampType input
    ours = fss.sessionize(df, gap="30m", aggs={"n": fs.count()}).select(
        "user_id",
        F.unix_millis("session_start").alias("start"),
        (F.unix_millis("session_end") + GAP).alias("end"),
        "n",
    )
    theirs = (
        df.groupBy("user_id", F.session_window("ts", "30 minutes").alias("s"))
        .count()
        .select(
            "user_id",
            F.unix_millis("s.start").alias("start"),
            F.unix_millis("s.end").alias("end"),
            F.col("count").alias("n"),
        )
    )
    a = sorted(tuple(r) for r in ours.collect())
    b = sorted(tuple(r) for r in theirs.collect())
    assert len(a) > 400
    assert a == b


def test_time_types_and_null_keys(spark: Any) -> None:
    """LongType ms, TimestampType and TimestampNTZType times give the same sessions; null keys
    form their own group, as in groupBy."""
    from pyspark.sql import functions as F

    df = spark.createDataFrame(
        [("a", 0), ("a", GAP), ("a", 2 * GAP + 1), (None, 5), (None, 10), ("b", 7)], "user_id string, ts long"
    )
    variants = [df, df.withColumn("ts", F.timestamp_millis("ts"))]
    variants.append(variants[1].withColumn("ts", F.col("ts").cast("timestamp_ntz")))
    results = [
        sorted((r.user_id or "", r.session_id, r.duration_ms, r.page_views) for r in fss.sessionize(v).collect())
        for v in variants
    ]
    assert results[0] == results[1] == results[2]
    assert sorted((r[0], r[2], r[3]) for r in results[0]) == [("", 5, 2), ("a", 0, 1), ("a", GAP, 2), ("b", 0, 1)]


def test_window_aggregate_equals_single_process(events: pa.Table, events_df: Any) -> None:
    window = fs.Hopping(size="10m", step="5m", offset="1m")
    aggs = {"n": fs.count(), "spent": fs.sum("amount"), "p90": fs.quantile("amount", 0.9), "last": fs.last("page")}
    got = fss.window_aggregate(events_df, window, key=["user_id", "page"], aggs=aggs).toArrow()
    expected = single_process(
        fs.WindowAggregator(window=window, key=["user_id", "page"], aggs=aggs, watermark=NEVER_LATE), events
    )
    assert got.column_names == expected.column_names
    by = ["user_id", "page", "window_start"]
    assert rows(got, by) == rows(expected, by)


@pytest.mark.parametrize(
    ("window", "spark_args"),
    [(fs.Tumbling("15m"), ("15 minutes",)), (fs.Hopping(size="1h", step="20m"), ("1 hour", "20 minutes"))],
    ids=["tumbling", "hopping"],
)
def test_window_counts_equal_spark_window(events_df: Any, window: Any, spark_args: tuple[str, ...]) -> None:
    from pyspark.sql import functions as F

    df = events_df.withColumn("ts", F.timestamp_millis("ts"))
    ours = fss.window_aggregate(df, window, key="user_id").select(
        "user_id", F.unix_millis("window_start"), F.unix_millis("window_end"), "count"
    )
    theirs = (
        df.groupBy("user_id", F.window("ts", *spark_args).alias("w"))
        .count()
        .select("user_id", F.unix_millis("w.start"), F.unix_millis("w.end"), "count")
    )
    a = sorted(tuple(r) for r in ours.collect())
    assert len(a) > 200
    assert a == sorted(tuple(r) for r in theirs.collect())


def test_window_aggregate_without_key(events: pa.Table, events_df: Any) -> None:
    aggs = {"users": fs.count_distinct("user_id")}
    got = fss.window_aggregate(events_df, fs.Tumbling("1h"), key=None, aggs=aggs)
    expected = single_process(fs.WindowAggregator(window=fs.Tumbling("1h"), aggs=aggs, watermark=NEVER_LATE), events)
    assert rows(got.toArrow(), ["window_start"]) == rows(expected, ["window_start"])


def test_null_times_raise_or_are_dropped(spark: Any) -> None:
    df = spark.createDataFrame([(1, 0), (1, None), (2, 5)], "user_id long, ts long")
    with pytest.raises(Exception, match=r"could not be used \(first: time column \"ts\" is null\)"):
        fss.sessionize(df).collect()
    dropped = fss.sessionize(df, on_reject="drop").orderBy("user_id").select("user_id", "page_views").collect()
    assert [tuple(r) for r in dropped] == [(1, 1), (2, 1)]


def test_errors_on_the_driver(events_df: Any) -> None:
    with pytest.raises(SchemaError, match=r"\['nope'\] not in the DataFrame"):
        fss.sessionize(events_df, aggs={"x": fs.sum("nope")})
    with pytest.raises(ConfigError, match="on_reject"):
        fss.sessionize(events_df, on_reject="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="partitions"):
        fss.window_aggregate(events_df, fs.Tumbling("1m"), key="user_id", partitions=0)


def test_native_objects_survive_cloudpickle(events: pa.Table) -> None:
    """What travels to executors: specs, aggregates, operators (with state) and the runner."""
    from pyspark import cloudpickle as untyped

    cloudpickle: Any = untyped
    for spec in [fs.Tumbling("1m", offset="10s"), fs.Hopping("5m", "1m"), fs.quantile("amount", 0.9)]:
        assert cloudpickle.loads(cloudpickle.dumps(spec)) == spec
    operator = fs.Sessionizer(null_keys="group", gap="30m", aggs=SESSION_AGGS, watermark=NEVER_LATE)
    operator.push(events.slice(0, 1000))
    clone = cloudpickle.loads(cloudpickle.dumps(operator))
    assert pickle.loads(pickle.dumps(operator)).snapshot() == operator.snapshot()
    rest = events.slice(1000)
    assert single_process(clone, rest).equals(single_process(operator, rest))


def test_import_fleetstream_does_not_need_pyspark() -> None:
    code = "import sys, fleetstream, fleetstream.spark; assert 'pyspark' not in sys.modules, 'pyspark imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
