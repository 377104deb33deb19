"""Structured Streaming on local[2]: a file source read one file per micro-batch, several
micro-batches, late events, and a restart from the checkpoint location; the output equals the
single-process operator fed the same files in the same order (its pushes, before any flush)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import fleetstream as fs
from fleetstream import spark as fss
from fleetstream.exceptions import ConfigError

from .test_spark import GAP, MIN, clicks, events, events_df, rows  # noqa: F401 (fixtures)

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

SCHEMA = "user_id long, ts long, page string"
ARROW_SCHEMA = pa.schema([("user_id", pa.int64()), ("ts", pa.int64()), ("page", pa.string())])
WATERMARK = "10s"
START = 1_700_000_000_000
HOUR = 60 * MIN
AGGS = {"views": fs.count(), "first_page": fs.first("page"), "last_page": fs.last("page")}


def micro_batches(users: int = 6, files: int = 6, seed: int = 3) -> list[list[dict[str, Any]]]:
    """Each file covers the next hour of every user's clicks (gaps of 1 s to 2 h, many exactly 30
    minutes), shuffled within the file by less than the 10 s watermark delay. Files 3 and 5 also
    hold late events: clicks from before anything else, behind any watermark."""
    rng = random.Random(seed)
    gaps = [1_000, 20_000, 5 * MIN, GAP, GAP, GAP + 1, 2 * HOUR]
    clock = {u: START + rng.randrange(0, 10 * MIN) for u in range(users)}
    out: list[list[dict[str, Any]]] = []
    for f in range(files):
        end = START + (f + 1) * HOUR
        batch = []
        for u in range(users):
            while clock[u] < end:
                batch.append({"user_id": u, "ts": clock[u], "page": rng.choice(["/", "/cart", "/pay"])})
                clock[u] += rng.choice(gaps)
        batch.sort(key=lambda r: r["ts"] + rng.randrange(0, 9_000))  # arrival order: < 10 s out of order
        if f in (3, 5):
            batch += [{"user_id": u, "ts": START - 5 * HOUR + u, "page": "/late"} for u in range(0, users, 2)]
        out.append(batch)
    return out


def write_file(directory: Path, index: int, batch: list[dict[str, Any]]) -> None:
    """Written aside and renamed in, with increasing modification times: the file source then
    reads the files in this order, one per micro-batch."""
    tmp = directory.parent / f".{directory.name}-{index}.tmp"
    tmp.write_text("".join(json.dumps(row) + "\n" for row in batch))
    stamp = 1_600_000_000 + index
    os.utime(tmp, (stamp, stamp))
    tmp.rename(directory / f"part-{index:03d}.json")


def expected_pushes(operator: fs.Sessionizer | fs.WindowAggregator, batches: list[list[dict[str, Any]]]) -> tuple[pa.Table, int]:
    """What the single-process operator emits when fed one file per push, and how many rows were late."""
    closed = [operator.push(pa.Table.from_pylist(b, schema=ARROW_SCHEMA)) for b in batches]
    return pa.concat_tables(closed), operator.take_late().num_rows


def run_query(spark: Any, make: Any, source: Path, out: Path, checkpoint: Path) -> int:
    """One availableNow run over the files present; returns the rows Spark dropped as late."""
    events = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).json(str(source))
    query = (
        make(events)
        .writeStream.format("parquet")
        .option("path", str(out))
        .option("checkpointLocation", str(checkpoint))
        .outputMode("append")
        .trigger(availableNow=True)
        .start()
    )
    try:
        assert query.awaitTermination(240), "the streaming query did not finish within 240 s"
    finally:
        query.stop()
    assert query.exception() is None
    progress = query.recentProgress
    assert len([p for p in progress if p["numInputRows"] > 0]) >= 3  # several micro-batches with data
    return sum(op.get("numRowsDroppedByWatermark", 0) for p in progress for op in p.get("stateOperators", []))


def read_output(spark: Any, out: Path) -> pa.Table:
    return spark.read.parquet(str(out)).toArrow()


@pytest.mark.slow
def test_sessionize_stream_across_micro_batches_late_events_and_restart(spark: Any, tmp_path: Path) -> None:
    batches = micro_batches()
    source, out, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()

    def make(events: Any) -> Any:
        return fss.sessionize_stream(events, gap="30m", aggs=AGGS, watermark=WATERMARK)

    # First run: three files. Then three more files, and a restart from the checkpoint.
    for i in range(3):
        write_file(source, i, batches[i])
    dropped = run_query(spark, make, source, out, checkpoint)
    first, _ = expected_pushes(fs.Sessionizer(null_keys="group", gap="30m", aggs=AGGS, watermark=WATERMARK), batches[:3])
    by = ["user_id", "session_start"]
    assert first.num_rows > 5
    assert rows(read_output(spark, out), by) == rows(first, by)

    for i in range(3, 6):
        write_file(source, i, batches[i])
    dropped += run_query(spark, make, source, out, checkpoint)
    expected, late = expected_pushes(fs.Sessionizer(null_keys="group", gap="30m", aggs=AGGS, watermark=WATERMARK), batches)
    got = read_output(spark, out)
    assert got.column_names == expected.column_names
    assert rows(got, by) == rows(expected, by)
    # Counts reconcile: the late events are the rows Spark dropped behind its watermark.
    assert late == dropped == 6


@pytest.mark.slow
def test_window_aggregate_stream_equals_single_process(spark: Any, tmp_path: Path) -> None:
    batches = micro_batches(users=4, files=4, seed=5)
    source = tmp_path / "in"
    source.mkdir()
    for i, batch in enumerate(batches):
        write_file(source, i, batch)
    window = fs.Tumbling("20m")
    aggs = {"n": fs.count(), "last_page": fs.last("page")}

    def make(events: Any) -> Any:
        return fss.window_aggregate_stream(events, window, key="user_id", aggs=aggs, watermark=WATERMARK)

    dropped = run_query(spark, make, source, tmp_path / "out", tmp_path / "checkpoint")
    expected, late = expected_pushes(fs.WindowAggregator(window=window, key="user_id", aggs=aggs, watermark=WATERMARK), batches)
    by = ["user_id", "window_start"]
    assert expected.num_rows > 20
    assert rows(read_output(spark, tmp_path / "out"), by) == rows(expected, by)
    assert late == dropped == 2


def test_stream_functions_need_a_streaming_dataframe(events_df: Any) -> None:
    with pytest.raises(ConfigError, match="needs a streaming DataFrame"):
        fss.sessionize_stream(events_df)
