"""The WindowAggregator's Python surface: inputs it accepts, errors it raises, side outputs, state.
Semantics against the pure-Python reference live in test_window_properties.py."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import fleetstream as fs

MIN = 60_000


def errors_per_minute(**options: object) -> fs.WindowAggregator:
    return fs.WindowAggregator(window=fs.Tumbling("1m"), time="ts", key="service", aggs={"errors": fs.count()}, **options)  # type: ignore[arg-type]


def rows(table: pa.Table) -> list[tuple[object, ...]]:
    d = table.to_pydict()
    return list(zip(*(d[name] for name in table.column_names)))


EVENTS = {"ts": [1_000, 2_000, 61_000, 125_000], "service": ["api", "db", "api", "api"]}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d: pa.table(d), id="pyarrow-table"),
        pytest.param(lambda d: pa.RecordBatch.from_pydict(d), id="pyarrow-batch"),
        pytest.param(lambda d: pl.DataFrame(d), id="polars"),
        pytest.param(lambda d: pd.DataFrame(d), id="pandas"),
        pytest.param(lambda d: d, id="dict"),
        pytest.param(lambda d: [dict(zip(d, v)) for v in zip(*d.values())], id="row-dicts"),
    ],
)
def test_every_arrow_producer_gives_the_same_windows(make: object) -> None:
    agg = errors_per_minute()
    out = pa.concat_tables([agg.push(make(EVENTS)), agg.flush()])  # type: ignore[operator]
    assert [(r[0], r[3]) for r in rows(out)] == [("api", 1), ("db", 1), ("api", 1), ("api", 1)]
    assert out.schema.field("window_start").type == pa.timestamp("ms", tz="UTC")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamps_of_any_unit_are_floored_to_milliseconds(unit: str) -> None:
    per_ms = {"s": 0.001, "ms": 1, "us": 1_000, "ns": 1_000_000}[unit]
    ts = [int(59_000 * per_ms), int(60_000 * per_ms)]
    agg = errors_per_minute()
    first = agg.push(pa.table({"ts": pa.array(ts, pa.timestamp(unit, tz="UTC")), "service": ["a", "a"]}))
    out = pa.concat_tables([first, agg.flush()]).to_pydict()
    assert out["errors"] == [1, 1]
    assert [w.timestamp() for w in out["window_start"]] == [0, 60]


def test_durations_accept_strings_timedeltas_and_int_milliseconds() -> None:
    for watermark in ["5s", timedelta(seconds=5), 5_000]:
        assert errors_per_minute(watermark=watermark).config()["watermark"] == 5_000
    assert fs.Hopping(size="1h30m", step="90s").size_ms == 5_400_000


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(watermark="-5s"), "watermark"),
        (dict(watermark="5 parsecs"), "unknown unit"),
        (dict(allowed_lateness=-1), "allowed_lateness"),
        (dict(key=["service", "service"]), "twice"),
        (dict(aggs={"window_start": fs.count()}), "clashes"),
        (dict(aggs={"x": "count"}), r"aggs\['x'\]"),
    ],
)
def test_bad_options_raise_config_errors_naming_the_option(bad: dict[str, object], message: str) -> None:
    options: dict[str, object] = dict(window=fs.Tumbling("1m"), key="service", aggs={"errors": fs.count()})
    options.update(bad)
    with pytest.raises(fs.ConfigError, match=message):
        fs.WindowAggregator(**options)  # type: ignore[arg-type]


def test_bad_window_specs_raise_config_errors() -> None:
    with pytest.raises(fs.ConfigError, match="larger than the size"):
        fs.Hopping(size="1m", step="5m")
    with pytest.raises(fs.ConfigError, match="positive"):
        fs.Tumbling(0)
    with pytest.raises(fs.ConfigError, match="between 0 and 1"):
        fs.quantile("x", 1.5)
    with pytest.raises(fs.ConfigError):
        fs.WindowAggregator(window="1m", key="service")  # type: ignore[arg-type]


def test_schema_errors_name_the_column_and_leave_state_untouched() -> None:
    agg = errors_per_minute()
    with pytest.raises(fs.SchemaError, match='"ts" is not in the input'):
        agg.push(pa.table({"time": [1], "service": ["a"]}))
    with pytest.raises(fs.SchemaError, match="expected int64 milliseconds"):
        agg.push(pa.table({"ts": ["2024-01-01"], "service": ["a"]}))
    with pytest.raises(fs.SchemaError, match='key column "service"'):
        agg.push(pa.table({"ts": [1]}))
    agg.push(pa.table({"ts": [1], "service": ["a"]}))
    with pytest.raises(fs.SchemaError, match="changed type"):
        agg.push(pa.table({"ts": [2], "service": [7]}))
    with pytest.raises(fs.SchemaError, match="Arrow-compatible"):
        agg.push(42)
    assert agg.stats()["rows_in"] == 1
    assert agg.flush().to_pydict()["errors"] == [1]


def test_numeric_aggregates_reject_text_columns() -> None:
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), aggs={"s": fs.sum("service")})
    with pytest.raises(fs.SchemaError, match="needs a numeric column"):
        agg.push(pa.table({"ts": [1], "service": ["a"]}))


def test_bad_rows_are_rejected_with_position_and_reason_and_counts_reconcile() -> None:
    huge = "x" * 70_000
    agg = errors_per_minute()
    agg.push(pa.table({"ts": [5, None, -1, 10**15, 7], "service": ["a", "a", "a", "a", huge]}))
    agg.push(pa.table({"ts": pa.array([], pa.int64()), "service": pa.array([], pa.string())}))  # empty batch
    rejects = agg.take_rejects().to_pydict()
    assert rejects["row"] == [1, 2, 3, 4]
    assert "null" in rejects["reason"][0]
    assert "before 1970" in rejects["reason"][1]
    assert "9999" in rejects["reason"][2]
    assert "over the limit" in rejects["reason"][3]
    stats = agg.stats()
    assert stats["rows_in"] == 5 and stats["rows_rejected"] == 4
    assert agg.flush().to_pydict()["errors"] == [1]
    assert agg.take_rejects().num_rows == 0, "take_rejects() clears"


def test_rows_pushed_after_flush_are_late_not_lost() -> None:
    agg = errors_per_minute()
    agg.push(pa.table(EVENTS))
    agg.flush()
    assert agg.push(pa.table({"ts": [200_000], "service": ["api"]})).num_rows == 0
    late = agg.take_late().to_pydict()
    assert late["ts"] == [200_000] and "flush" in late["reason"][0]


def test_global_and_composite_keys() -> None:
    data = pa.table({"ts": [1, 2, 3], "region": ["eu", "eu", "us"], "code": [500, 503, 500]})
    glob = fs.WindowAggregator(window=fs.Tumbling("1m"), aggs={"n": fs.count()})
    glob.push(data)
    assert glob.flush().column_names == ["window_start", "window_end", "n"]
    multi = fs.WindowAggregator(window=fs.Tumbling("1m"), key=["region", "code"], aggs={"n": fs.count()})
    multi.push(data)
    out = multi.flush()
    assert out.column_names == ["region", "code", "window_start", "window_end", "n"]
    assert rows(out.select(["region", "code", "n"])) == [("eu", 500, 1), ("eu", 503, 1), ("us", 500, 1)]


def test_dictionary_and_view_strings_are_the_same_key() -> None:
    agg = errors_per_minute()
    agg.push(pa.table({"ts": [1], "service": pa.array(["api"]).dictionary_encode()}))
    agg.push(pl.DataFrame({"ts": [2], "service": ["api"]}))  # polars exports string views
    agg.push(pa.table({"ts": [3], "service": pa.array(["api"], pa.large_string())}))
    assert agg.flush().to_pydict()["errors"] == [3]


def test_float_columns_in_value_aggregates_count_as_numbers_and_keep_exact_values() -> None:
    nan = float("nan")
    data = pa.table({"ts": [1, 2, 3, 4, 5, 6], "price": [0.0, -0.0, nan, float("-nan"), 2.5, -0.0]})
    aggs = {"distinct": fs.count_distinct("price"), "first": fs.first("price"), "last": fs.last("price")}
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), aggs=aggs)
    agg.push(data.slice(0, 3))
    agg = fs.WindowAggregator.restore(agg.snapshot())  # the float handling survives a restore
    agg.push(data.slice(3))
    row = agg.flush().to_pylist()[0]
    assert row["distinct"] == 3  # 0.0 and -0.0 are one number, every NaN is one value, and 2.5
    assert row["first"] == 0.0 and str(row["last"]) == "-0.0"  # first/last return the exact value
    with pytest.raises(fs.SchemaError, match='key column "price" has floating-point type'):
        fs.WindowAggregator(window=fs.Tumbling("1m"), key="price").push(data)


def test_snapshot_pickle_and_restore_resume_exactly() -> None:
    agg = errors_per_minute(watermark="5s")
    agg.push(pa.table(EVENTS))
    assert agg.watermark == 125_000 - 5_000
    clone = pickle.loads(pickle.dumps(agg))
    restored = fs.WindowAggregator.restore(agg.snapshot())
    expected = agg.flush()
    assert clone.flush().equals(expected)
    assert restored.flush().equals(expected)


def test_repr_names_the_configuration() -> None:
    agg = fs.WindowAggregator(window=fs.Hopping("5m", "1m"), key="service", watermark="5s")
    assert repr(agg) == (
        "WindowAggregator(window=Hopping(size_ms=300000, step_ms=60000, offset_ms=0), time='ts', "
        "key=['service'], watermark=5000ms, allowed_lateness=0ms)"
    )


def test_restoring_garbage_raises_snapshot_error() -> None:
    with pytest.raises(fs.SnapshotError, match="not a WindowAggregator snapshot"):
        fs.WindowAggregator.restore(b"not a snapshot")
    det = fs.SpikeDetector(value="errors", key="service")
    with pytest.raises(fs.SnapshotError):
        fs.WindowAggregator.restore(det.snapshot())


def test_output_schema_is_known_before_any_window_closes() -> None:
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), key="service", aggs={"n": fs.count(), "m": fs.mean("x")})
    assert agg.output_schema.names == ["service", "window_start", "window_end", "n", "m"]
    assert agg.flush().num_rows == 0


def test_window_bounds_are_utc_datetimes() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    ms = int(start.timestamp() * 1000)
    agg = errors_per_minute()
    agg.push(pa.table({"ts": [ms + 59_999], "service": ["api"]}))
    out = agg.flush().to_pylist()[0]
    assert out["window_start"] == start and out["window_end"] == start + timedelta(minutes=1)
