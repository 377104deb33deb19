"""fleetstream.spark.sessionize versus Spark's own session_window, on local[2], same run, same data.

The data: ``_clicks.py``'s click stream (default 10,000,000 events of 100,000 users; gaps mostly
under 5 minutes, 6 % over 30 minutes, 1 % exactly 30 minutes), written once to a Parquet file
(``--row-group`` rows per row group) before any clock starts. Every contender reads that file with
``spark.read.parquet`` in the same SparkSession and ends with ``.write.format("noop")``, which
materialises every output row and column (Spark's no-op sink: nothing is collected or written).

Contenders (30-minute gap, output per session: user, start, end, page views):

* ``spark``        ``groupBy("user_id", session_window("ts", "30 minutes")).agg(count, min(ts), max(ts))``;
* ``fleetstream``  ``fleetstream.spark.sessionize(df, gap="30m", aggs={"page_views": fs.count()})``,
                   the default two-phase plan (Spark aggregates 30-minute buckets per user where the
                   data is; only those partial sessions are shuffled by user and merged by fleetstream);
* ``fleetstream-1phase``  the same with ``two_phase=False``: every event shuffled by user, one
                   ``Sessionizer`` per shuffle partition.

Same settings for all: ``local[2]``, ``spark.sql.shuffle.partitions`` (``--shuffle-partitions``,
default 4), driver memory 4g, ``spark.sql.execution.arrow.maxRecordsPerBatch`` (``--arrow-batch``,
only used by the Python side). Each contender runs once untimed on a 1,000-event file and once on
the full file (planner, JIT, Python worker start-up), then ``--repeat`` times on the full file,
interleaved; the table shows the best and the median wall time. Results are checked after the clock: the number of sessions and the sums
of page views, squared page views, starts and ends (Spark's end is last event + gap: converted)
must equal between contenders.

    python benches/bench_spark.py                      # 10 M events, writes benches/results/spark.md
    python benches/bench_spark.py --events 1000000 --repeat 1 --out /tmp/spark.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

GAP_MS = 30 * 60_000
START_MS = 1_767_225_600_000
CONTENDERS = ["spark", "fleetstream", "fleetstream-1phase"]
TARGET = 5.0  # fleetstream at least 5x faster than session_window, end to end


def spark_session(args):
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("bench_spark")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.arrow_batch))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def query(contender, df):
    """The contender's sessions as a DataFrame with columns user_id, start_ms, end_ms (last event), page_views."""
    from pyspark.sql import functions as F

    if contender == "spark":
        s = df.groupBy("user_id", F.session_window("ts", "30 minutes").alias("s")).agg(
            F.count("*").alias("page_views"), F.min("ts").alias("first_ts"), F.max("ts").alias("last_ts")
        )
        return s.select(
            "user_id",
            F.unix_millis("s.start").alias("start_ms"),
            (F.unix_millis("s.end") - GAP_MS).alias("end_ms"),
            "page_views",
        )
    import fleetstream as fs
    from fleetstream import spark as fss

    s = fss.sessionize(
        df, gap="30m", key="user_id", time="ts", aggs={"page_views": fs.count()}, two_phase=contender == "fleetstream"
    )
    return s.select(
        "user_id",
        F.unix_millis("session_start").alias("start_ms"),
        F.unix_millis("session_end").alias("end_ms"),
        "page_views",
    )


def timed_run(spark, contender, path):
    """Wall seconds from reading the Parquet file to every session written to Spark's no-op sink.
    The timed plan is the contender's own (for Spark: min/max aggregates included, no projection)."""
    from pyspark.sql import functions as F

    df = spark.read.parquet(str(path))
    if contender == "spark":
        plan = df.groupBy("user_id", F.session_window("ts", "30 minutes")).agg(
            F.count("*").alias("page_views"), F.min("ts"), F.max("ts")
        )
    else:
        import fleetstream as fs
        from fleetstream import spark as fss

        plan = fss.sessionize(df, gap="30m", aggs={"page_views": fs.count()}, two_phase=contender == "fleetstream")
    t0 = time.perf_counter()
    plan.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t0


def checksums(spark, contender, path):
    from pyspark.sql import functions as F

    s = query(contender, spark.read.parquet(str(path)))
    row = s.select(
        F.count("*"),
        F.sum("page_views"),
        F.sum(F.col("page_views") * F.col("page_views")),
        F.sum(F.col("start_ms") - START_MS),
        F.sum(F.col("end_ms") - START_MS),
    ).collect()[0]
    return [int(v or 0) for v in row]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--shuffle-partitions", type=int, default=4)
    p.add_argument("--arrow-batch", type=int, default=100_000, help="spark.sql.execution.arrow.maxRecordsPerBatch")
    p.add_argument("--row-group", type=int, default=1_000_000, help="rows per Parquet row group (input splits)")
    p.add_argument("--only", default=",".join(CONTENDERS))
    p.add_argument("--data-dir", type=Path, default=Path.home() / ".cache" / "fleetstream" / "bench")
    p.add_argument("--out", type=Path, default=HERE / "results" / "spark.md")
    args = p.parse_args(argv)
    contenders = [c.strip() for c in args.only.split(",")]
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        p.error(f"unknown contender(s) {sorted(unknown)}; choose among {CONTENDERS}")

    import _clicks
    import pyarrow.parquet as pq

    arrow_path = _clicks.ensure(args.events, args.users, args.seed, [args.data_dir, Path(tempfile.gettempdir())])
    scratch = Path(tempfile.mkdtemp(prefix="bench_spark_"))
    table = _clicks.load(arrow_path)
    full, warm = scratch / "clicks.parquet", scratch / "warm.parquet"
    pq.write_table(table, str(full), row_group_size=args.row_group)
    pq.write_table(table.slice(0, 1_000), str(warm))
    del table

    spark = spark_session(args)
    input_partitions = spark.read.parquet(str(full)).rdd.getNumPartitions()
    load_before = os.getloadavg()[0]
    seconds: dict[str, list[float]] = {c: [] for c in contenders}
    # Untimed warm-up on the full file: the JVM's JIT compiles the hot paths of each plan (a short
    # plan would otherwise pay more of it than a long one), and the Python workers start.
    for c in contenders:
        timed_run(spark, c, warm)
        timed_run(spark, c, full)
    # Interleaved, so that a burst of other work on the machine does not hit one contender only.
    for _ in range(args.repeat):
        for c in contenders:
            seconds[c].append(timed_run(spark, c, full))
            print(f"{c}: {seconds[c][-1]:.2f} s", file=sys.stderr)
    load_after = os.getloadavg()[0]
    sums = {c: checksums(spark, c, full) for c in contenders}
    spark.stop()
    shutil.rmtree(scratch, ignore_errors=True)

    reference = sums[contenders[0]]
    base = min(seconds["spark"]) if "spark" in seconds else None
    lines = [
        f"# fleetstream.spark.sessionize vs Spark session_window ({args.events:,} click events, {args.users:,} users)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"pyspark {__import__('pyspark').__version__}, Spark local[2]. Load average (1 min) at start / end: "
        f"{load_before:.1f} / {load_after:.1f} (other work shares the CPUs when above 0).",
        f"Command: `python benches/bench_spark.py --events {args.events} --repeat {args.repeat} "
        f"--shuffle-partitions {args.shuffle_partitions} --arrow-batch {args.arrow_batch} --row-group {args.row_group}`",
        "",
        "| contender | best s | median s | events/s (best) | speed-up vs session_window (best) | sessions | check |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in contenders:
        best = min(seconds[c])
        speedup = f"{base / best:.1f}" if base else "-"
        check = "reference" if c == contenders[0] else ("OK" if sums[c] == reference else f"MISMATCH {sums[c]} vs {reference}")
        lines.append(
            f"| {c} | {best:.2f} | {statistics.median(seconds[c]):.2f} | {args.events / best:,.0f} | {speedup} | "
            f"{sums[c][0]:,} | {check} |"
        )
    lines += [
        "",
        f"Input: one Parquet file, {input_partitions} input partitions ({args.row_group:,}-row groups); "
        f"spark.sql.shuffle.partitions={args.shuffle_partitions}; arrow.maxRecordsPerBatch={args.arrow_batch:,}; "
        f"{args.repeat} timed runs per contender, interleaved, after untimed runs on 1,000 events and on the full file.",
        "Timed: from `spark.read.parquet` to `.write.format(\"noop\")` of the full session table (every row and "
        "column materialised). Check: sessions, sum of page views, of squared page views, of starts and of ends "
        "(Spark's end - 30 min) equal across contenders.",
    ]
    if base and "fleetstream" in seconds:
        ratio = base / min(seconds["fleetstream"])
        lines.append(f"Target: fleetstream >= {TARGET:.0f}x session_window: {'met' if ratio >= TARGET else 'NOT met'} ({ratio:.1f}x).")
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    return 0 if all(sums[c] == reference for c in contenders) else 1


if __name__ == "__main__":
    sys.exit(main())
