"""exactly_once_foreach_batch with real Spark Structured Streaming (local[2]) into SQLite: each
micro-batch's rows and its (query_id, batch_id) mark commit together, so a batch Spark replays after
losing its commit log entry writes nothing again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import fleetstream as fs
from fleetstream.spark import exactly_once_foreach_batch
from fleetstream.sinks import WriteResult
from tests.sinks.db import query


def _write_files(folder: Path, start: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"part-{start:05d}.json", "w") as f:
        for i in range(start, start + count):
            f.write(json.dumps({"payment_id": f"p{i}", "cents": i * 10}) + "\n")


def _run(spark: Any, source: Path, checkpoint: Path, sink: fs.ExactlyOnceSink, seen: list[tuple[int, WriteResult]]) -> None:
    stream = spark.readStream.schema("payment_id STRING, cents LONG").option("maxFilesPerTrigger", 1).json(str(source))
    query_handle = (stream.writeStream
                    .foreachBatch(exactly_once_foreach_batch(sink, "payments-q", on_batch=lambda b, r: seen.append((b, r))))
                    .option("checkpointLocation", str(checkpoint)).trigger(availableNow=True).start())
    assert query_handle.awaitTermination(120), "the streaming query did not finish in 120 s"


def test_a_replayed_micro_batch_is_a_no_op(spark: Any, tmp_path: Path) -> None:
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    _write_files(source, 0, 50)
    _write_files(source, 50, 30)
    sink = fs.ExactlyOnceSink(f"sqlite:///{tmp_path / 'spark.db'}", "payments", key=["payment_id"], mode="upsert")
    seen: list[tuple[int, WriteResult]] = []
    _run(spark, source, checkpoint, sink, seen)
    assert [(b, r.applied) for b, r in seen] == [(0, True), (1, True)]
    assert sorted(r.written for _, r in seen) == [30, 50]  # one file per batch, in Spark's order
    assert query(sink.dsn, "SELECT COUNT(*), SUM(cents) FROM payments") == [(80, sum(i * 10 for i in range(80)))]

    # Spark crashed after our commit but before its own: the commit log lacks batch 1, so it runs again.
    (checkpoint / "commits" / "1").unlink()
    for stale in (checkpoint / "commits").glob(".1.crc"):
        stale.unlink()
    seen.clear()
    _run(spark, source, checkpoint, sink, seen)
    assert [(b, r.applied) for b, r in seen] == [(1, False)]
    assert query(sink.dsn, "SELECT COUNT(*), SUM(cents) FROM payments") == [(80, sum(i * 10 for i in range(80)))]
    assert query(sink.dsn, "SELECT query_id, batch_id FROM payments_batches ORDER BY batch_id") == [
        ("payments-q", 0), ("payments-q", 1)]

    # New data is a new batch id, applied once.
    _write_files(source, 80, 5)
    seen.clear()
    _run(spark, source, checkpoint, sink, seen)
    assert [(b, r.applied, r.written) for b, r in seen] == [(2, True, 5)]
    shutil.rmtree(checkpoint)
