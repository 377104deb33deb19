"""Two-phase sessionization (partial sessions per input partition, then merged per key) equals the
single-process Sessionizer: first without Spark, as a property over random splits of the events,
then on local[2] with sessions that span input partitions and gaps of exactly 30 minutes."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fleetstream as fs
from fleetstream import spark as fss
from fleetstream.exceptions import ConfigError
from fleetstream.spark._two_phase import BUCKET, END, ROWS, START, PartialMerger

from .test_spark import GAP, MIN, NEVER_LATE, clicks, events, events_df, rows, single_process  # noqa: F401 (fixtures)

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

MERGEABLE_AGGS = {
    "views": fs.count(),
    "amounts": fs.count("amount"),
    "spent": fs.sum("amount"),
    "low": fs.min("amount"),
    "high": fs.max("amount"),
    "avg": fs.mean("amount"),
    "first_page": fs.first("page"),
    "last_page": fs.last("page"),
    "first_cents": fs.first("cents"),
    "whole": fs.sum("cents"),
    "top": fs.max("cents"),
}


def with_cents(table: pa.Table) -> pa.Table:
    """An integer column next to the float one (integer sums merge as integers)."""
    amounts = table.column("amount").to_pylist()
    return table.append_column("cents", pa.array([None if a is None else int(a) * 100 for a in amounts], pa.int64()))


def phase1_locally(part: pa.Table, aggs: dict[str, Any], key: list[str]) -> pa.Table:
    """What Spark's groupBy(key, floor(ts / gap)) gives for one input partition (pyarrow here)."""
    part = part.sort_by("ts")  # so that first/last below follow event time
    part = part.append_column(BUCKET, pc.divide(part.column("ts"), GAP)).append_column("#one", pa.array([1] * part.num_rows))
    wanted: list[Any] = [("#one", "sum"), ("ts", "min"), ("ts", "max")]
    names = [ROWS, START, END]
    keep_nulls = pc.ScalarAggregateOptions(skip_nulls=False)
    for name, agg in aggs.items():
        if agg.kind == "count":
            wanted.append(("#one", "sum") if agg.column is None else (agg.column, "count"))
            names.append(name)
        elif agg.kind in ("sum", "mean"):
            wanted += [(agg.column, "sum"), (agg.column, "count")]
            names += [name, name + "#n"]
        elif agg.kind in ("first", "last"):
            wanted.append((agg.column, agg.kind, keep_nulls))
            names.append(name)
        else:
            wanted.append((agg.column, agg.kind))
            names.append(name)
    grouped = part.group_by([*key, BUCKET], use_threads=False).aggregate(wanted)
    return grouped.rename_columns([*key, BUCKET, *names])


def two_phase_locally(table: pa.Table, parts: list[list[int]], aggs: dict[str, Any], key: list[str]) -> pa.Table:
    """Phase 1 per part, without the final aggregation (so a bucket may come in several partial
    rows, which the merge must handle too), then phase 2 on all partials: what the executors do."""
    partials = [phase1_locally(table.take(pa.array(indices, pa.int64())), aggs, key) for indices in parts if indices]
    probe = fs.Sessionizer(null_keys="group", gap="30m", key=key, aggs=aggs, watermark=NEVER_LATE)
    target = probe.push(table.schema.empty_table()).schema
    merged = PartialMerger(key, "ts", GAP, aggs, target, "raise").merge(pa.concat_tables(partials, promote_options="permissive"))
    assert merged.schema == target
    return merged


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_parts=st.integers(1, 6), users=st.integers(1, 6))
def test_merged_partials_equal_single_process(seed: int, n_parts: int, users: int) -> None:
    table = with_cents(clicks(seed=seed, users=users, per_user=25))
    rng = random.Random(seed)
    parts: list[list[int]] = [[] for _ in range(n_parts)]
    for i in range(table.num_rows):
        parts[rng.randrange(n_parts)].append(i)
    got = two_phase_locally(table, parts, MERGEABLE_AGGS, ["user_id"])
    expected = single_process(fs.Sessionizer(null_keys="group", gap="30m", aggs=MERGEABLE_AGGS, watermark=NEVER_LATE), table)
    assert rows(got, ["user_id", "session_start"]) == rows(expected, ["user_id", "session_start"])


def test_merge_keeps_null_and_multi_column_keys_apart() -> None:
    table = pa.table(
        {
            "a": pa.array([None, None, 1, 1, None, 1], pa.int64()),
            "b": pa.array(["x", "x", "x", None, "x", None]),
            "ts": pa.array([0, 20 * MIN, 10 * MIN, 15 * MIN, 50 * MIN, 40 * MIN], pa.int64()),
        }
    )
    aggs = {"n": fs.count()}
    got = two_phase_locally(table, [[0, 3], [1, 2, 5], [4]], aggs, ["a", "b"])
    expected = single_process(fs.Sessionizer(null_keys="group", gap="30m", key=["a", "b"], aggs=aggs, watermark=NEVER_LATE), table)
    assert rows(got, ["a", "b", "session_start"]) == rows(expected, ["a", "b", "session_start"])
    assert got.num_rows == 3  # (null, x): 0..50 min; (1, x): 10; (1, null): 15..40 min


def test_integer_sum_beyond_int64_is_null() -> None:
    big = 2**62
    table = pa.table({"user_id": [1, 1, 1], "ts": [0, 1_000, 2_000], "v": pa.array([big, big, -big], pa.int64())})
    aggs = {"total": fs.sum("v"), "n": fs.count()}
    # Each partial stays in range; their total (2**62) does too: not null.
    got = two_phase_locally(table, [[0], [1], [2]], aggs, ["user_id"])
    assert got.column("total").to_pylist() == [big]
    table = table.set_column(2, "v", pa.array([big, big, big], pa.int64()))
    got = two_phase_locally(table, [[0], [1], [2]], aggs, ["user_id"])
    assert got.column("total").to_pylist() == [None]


# ------------------------------------------------------------------------------------ on Spark


def test_sessions_spanning_input_partitions(spark: Any) -> None:
    """Events of one session in different input partitions (round-robin), gaps of exactly 30
    minutes (one session) and 30 minutes + 1 ms (two), and a cluster inside another's span."""
    events = [
        (1, 0, "a"),
        (1, GAP, "b"),
        (1, 2 * GAP, "c"),
        (1, 3 * GAP + 1, "d"),  # 30 min + 1 ms after: a new session
        (2, 0, "a"),
        (2, 100 * MIN, "b"),
        (2, 50 * MIN, "c"),  # bridges 0 and 100 min only with the two below
        (2, 25 * MIN, "d"),
        (2, 75 * MIN, "e"),
    ]
    df = spark.createDataFrame(events, "user_id long, ts long, page string").repartition(4)
    assert df.rdd.getNumPartitions() == 4
    aggs = {"n": fs.count(), "first_page": fs.first("page"), "last_page": fs.last("page")}
    got = fss.sessionize(df, aggs=aggs, two_phase=True).toArrow()
    table = pa.Table.from_pylist(
        [{"user_id": u, "ts": t, "page": p} for u, t, p in events],
        schema=pa.schema([("user_id", pa.int64()), ("ts", pa.int64()), ("page", pa.string())]),
    )
    expected = single_process(fs.Sessionizer(null_keys="group", gap="30m", aggs=aggs, watermark=NEVER_LATE), table)
    assert rows(got, ["user_id", "session_start"]) == rows(expected, ["user_id", "session_start"])
    assert [(r["user_id"], r["n"]) for r in rows(got, ["user_id", "session_start"])] == [(1, 3), (1, 1), (2, 5)]


def test_two_phase_on_spark_equals_single_process(spark: Any, events: pa.Table) -> None:
    table = with_cents(events)
    df = spark.createDataFrame(table).repartition(5)  # round-robin: every user in every partition
    got = fss.sessionize(df, aggs=MERGEABLE_AGGS, partitions=3).toArrow()
    one_phase = fss.sessionize(df, aggs=MERGEABLE_AGGS, two_phase=False).toArrow()
    expected = single_process(fs.Sessionizer(null_keys="group", gap="30m", aggs=MERGEABLE_AGGS, watermark=NEVER_LATE), table)
    assert got.num_rows == expected.num_rows > 400
    by = ["user_id", "session_start"]
    assert rows(got, by) == rows(expected, by) == rows(one_phase, by)


def test_two_phase_needs_mergeable_aggregates(events_df: Any) -> None:
    with pytest.raises(ConfigError, match="two_phase=True needs aggregates"):
        fss.sessionize(events_df, aggs={"q": fs.quantile("amount", 0.5)}, two_phase=True)
    with pytest.raises(ConfigError, match="max_duration"):
        fss.sessionize(events_df, max_duration="1h", two_phase=True)


def test_two_phase_without_key_and_with_rejects(spark: Any, events: pa.Table) -> None:
    df = spark.createDataFrame(events).repartition(3)
    got = fss.sessionize(df, key=None, two_phase=True).toArrow()
    expected = single_process(fs.Sessionizer(null_keys="group", gap="30m", key=None, watermark=NEVER_LATE), events)
    assert rows(got, ["session_start"]) == rows(expected, ["session_start"])
    # Rows with a null time: an error naming the column, or dropped and the rest sessionized.
    with_null = spark.createDataFrame([(1, 0), (1, None), (2, 5)], "user_id long, ts long")
    with pytest.raises(Exception, match=r"could not be used \(first: time column \"ts\" is null\)"):
        fss.sessionize(with_null, two_phase=True).collect()
    dropped = fss.sessionize(with_null, two_phase=True, on_reject="drop").orderBy("user_id").collect()
    assert [(r.user_id, r.page_views) for r in dropped] == [(1, 1), (2, 1)]
    # A time before the epoch (out of the Sessionizer's range) is named as such, and dropped alike.
    with_negative = spark.createDataFrame([(1, 0), (1, -5), (2, 5), (2, 7)], "user_id long, ts long")
    with pytest.raises(Exception, match=r"could not be used \(first: time column \"ts\" out of range"):
        fss.sessionize(with_negative, two_phase=True).collect()
    dropped = fss.sessionize(with_negative, two_phase=True, on_reject="drop").orderBy("user_id").collect()
    assert [(r.user_id, r.page_views) for r in dropped] == [(1, 1), (2, 2)]
