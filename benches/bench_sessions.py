"""Side-by-side benchmark: sessionization of a click stream (30-minute inactivity gap, page views).

The data (``_clicks.py``): N click events of U users in arrival order, gaps mostly under 5 minutes,
6 % over 30 minutes, 1 % exactly 30 minutes (same session), out of order by up to (strictly under)
10 s. Per user, consecutive events (by event time) at most 30 minutes apart form one session;
output per session: user, start, end (last event), page views.

Contenders, measured in the same run on the same data, each in its own subprocess:

* ``fleetstream``  ``fs.Sessionizer(gap="30m", watermark="10s")`` fed 64k-row pyarrow RecordBatches
                   (one thread; ``--fleetstream-threads N`` sets ``threads=N``);
* ``python``       the pure-Python reference ``StreamingSessionizer`` (tests/stream/session_reference.py),
                   one event at a time, closing due sessions after every batch;
* ``pandas``       sort by (user, ts); new session where the user changes or ``ts.diff() > gap``;
                   cumsum -> session ids; ``groupby`` agg;
* ``polars``       the same in lazy polars;
* ``bytewax``      bytewax 0.21 ``fold_window`` with ``SessionWindower(gap=30m)`` and
                   ``EventClock(wait_for_system_duration=10s)``, ``run_main`` on a ``TestingSource``;
* ``spark``        PySpark ``session_window("ts", "30 minutes")`` on ``local[2]``, reading a Parquet file
                   written before the clock starts; the timed query ends with a collect of aggregated
                   statistics (Spark's session end is last event + gap: converted for the check).

Every contender's sessions are checked against fleetstream's on the same events (OK / MISMATCH) by
checksums: number of sessions, sum of page views, sum of squared page views, sum of starts, sum of ends,
and three sums that tie each session to its user (user x page views, and user and start / end mixed by
modular products), so that sessions credited to the wrong user do not pass.

    python benches/bench_sessions.py --events 1000000
    python benches/bench_sessions.py --only fleetstream,polars --out /tmp/sessions.md
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The parent process stays lean (no numpy/pyarrow): Linux carries a process's RSS high-water mark
# (ru_maxrss) across fork+exec, so a heavy parent would raise every worker's baseline.

CONTENDERS = ["fleetstream", "python", "pandas", "polars", "bytewax", "spark"]
GAP_MS = 30 * 60_000
WATERMARK_MS = 10_000
START_MS = 1_767_225_600_000  # _clicks.START_MS: checksums sum times relative to it
TARGETS = {"pandas": 5, "polars": 10, "python": 100, "bytewax": 1000, "spark": 100}
SPARK_SHUFFLE_PARTITIONS = 4
FLEETSTREAM_THREADS = 1  # --fleetstream-threads
REPEAT_BELOW_S = 10.0  # contenders faster than this are timed --repeat times (median)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
USER_MIX, TIME_MIX = 997, 1_000_003  # checksums: user and time mixed by modular products (no overflow)


def load_reference():
    name = "fleetstream_tests_stream_session_reference"
    if name not in sys.modules:
        path = HERE.parent / "tests" / "stream" / "session_reference.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ===================================================================================== contenders
# Each takes the list of RecordBatches (and a scratch directory) and returns its result in its own
# form; ``checksums`` turns that into comparable numbers after the clock has stopped.


def run_fleetstream(batches, scratch):
    import fleetstream as fs
    import pyarrow as pa

    s = fs.Sessionizer(gap="30m", key="user_id", time="ts", watermark="10s", aggs={"page_views": fs.count()},
                       threads=FLEETSTREAM_THREADS)
    outs = [s.push(batch) for batch in batches]
    outs.append(s.flush())
    late = s.take_late().num_rows
    return {"table": pa.concat_tables(outs), "late": late}


def run_python(batches, scratch):
    import pyarrow as pa

    ref = load_reference()
    s = ref.StreamingSessionizer(GAP_MS, WATERMARK_MS)
    rows = []
    for batch in batches:
        # Arrow -> Python ints, then one event at a time (no page: only page views are counted).
        users = batch.column("user_id").to_pylist()
        times = batch.column("ts").cast(pa.int64()).to_pylist()
        for user, t in zip(users, times):
            s.push(user, t, None)
        rows += s.close_due()
    rows += s.flush()
    return {"rows": rows, "late": s.late}


def run_pandas(batches, scratch):
    import pandas as pd
    import pyarrow as pa

    df = pa.Table.from_batches(batches).select(["user_id", "ts"]).to_pandas()
    df = df.sort_values(["user_id", "ts"], ignore_index=True)
    new = df["user_id"].ne(df["user_id"].shift()) | df["ts"].diff().gt(pd.Timedelta(milliseconds=GAP_MS))
    sessions = df.groupby(new.cumsum(), sort=False).agg(
        user_id=("user_id", "first"),
        session_start=("ts", "min"),
        session_end=("ts", "max"),
        page_views=("ts", "size"),
    )
    return {"frame": sessions, "late": 0}


def run_polars(batches, scratch):
    import polars as pl
    import pyarrow as pa

    lf = pl.from_arrow(pa.Table.from_batches(batches).select(["user_id", "ts"])).lazy()
    new = (pl.col("user_id") != pl.col("user_id").shift()).fill_null(True) | (
        pl.col("ts").diff() > pl.duration(milliseconds=GAP_MS)
    ).fill_null(True)
    sessions = (
        lf.sort("user_id", "ts")
        .with_columns(session=new.cum_sum())
        .group_by("session")
        .agg(
            pl.col("user_id").first(),
            pl.col("ts").min().alias("session_start"),
            pl.col("ts").max().alias("session_end"),
            pl.len().alias("page_views"),
        )
        .collect()
    )
    return {"frame": sessions, "late": 0}


def run_bytewax(batches, scratch):
    import bytewax.operators as op
    import bytewax.operators.windowing as win
    import pyarrow as pa
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource, run_main

    def events():
        for batch in batches:  # Arrow -> Python objects (bytewax keys are strings, times UTC datetimes)
            users = batch.column("user_id").to_pylist()
            times = batch.column("ts").cast(pa.int64()).to_pylist()
            yield from ((str(u), EPOCH + timedelta(milliseconds=t)) for u, t in zip(users, times))

    def folder(acc, event):
        n, lo, hi = acc
        t = event[1]
        return (n + 1, t if lo is None or t < lo else lo, t if hi is None or t > hi else hi)

    def merger(a, b):
        return (a[0] + b[0], min(a[1], b[1]), max(a[2], b[2]))

    flow = Dataflow("bench_sessions")
    stream = op.input("clicks", flow, TestingSource(events(), batch_size=len(batches[0]) if batches else 1))
    # Replaying a recorded stream: the watermark follows event time only (a frozen "system" clock),
    # and no wake-ups are scheduled on the system clock (closes are driven by items and EOF).
    # With the default system clock the watermark also advances with wall time while a slow batch is
    # processed (events become late), and every key whose close time is in the (system) past is woken
    # on every activation.
    clock = win.EventClock(
        lambda e: e[1],
        wait_for_system_duration=timedelta(milliseconds=WATERMARK_MS),
        now_getter=lambda: EPOCH,
        to_system_utc=lambda t: None,
    )
    windower = win.SessionWindower(gap=timedelta(milliseconds=GAP_MS))
    keyed = op.key_on("user", stream, lambda e: e[0])
    folded = win.fold_window("sessions", keyed, clock, windower, lambda: (0, None, None), folder, merger)
    out, late = [], []
    op.output("out", folded.down, TestingSink(out))  # (user, (window_id, (count, start, end)))
    op.output("late", folded.late, TestingSink(late))
    run_main(flow)
    return {"rows": [(int(k), n, lo, hi) for k, (_, (n, lo, hi)) in out], "late": len(late)}


def _spark_session():
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("bench_sessions")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(SPARK_SHUFFLE_PARTITIONS))
        .getOrCreate()
    )


def run_spark(batches, scratch):
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = SparkSession.getActiveSession()
    path = Path(scratch) / f"clicks_{sum(len(b) for b in batches)}.parquet"
    df = spark.read.parquet(str(path))
    sessions = df.groupBy("user_id", F.session_window("ts", f"{GAP_MS} milliseconds")).agg(F.count("*").alias("page_views"))
    start = F.unix_millis(F.col("session_window.start")) - F.lit(START_MS)
    end = F.unix_millis(F.col("session_window.end")) - F.lit(GAP_MS + START_MS)  # Spark's end is last event + gap
    user = F.col("user_id").cast("long")
    row = sessions.select(
        F.count("*").alias("sessions"),
        F.sum("page_views").alias("page_views"),
        F.sum(F.col("page_views") * F.col("page_views")).alias("page_views_sq"),
        F.sum(start).alias("start"),
        F.sum(end).alias("end"),
        F.sum(user * F.col("page_views")).alias("user_pv"),
        F.sum((F.pmod(user, F.lit(USER_MIX)) + 1) * F.pmod(start, F.lit(TIME_MIX))).alias("user_start"),
        F.sum((F.pmod(user, F.lit(USER_MIX)) + 1) * F.pmod(end, F.lit(TIME_MIX))).alias("user_end"),
    ).collect()[0]
    names = ["sessions", "page_views", "page_views_sq", "start", "end", "user_pv", "user_start", "user_end"]
    return {"sums": [int(row[name] or 0) for name in names], "late": 0}


RUNNERS = {
    "fleetstream": run_fleetstream,
    "python": run_python,
    "pandas": run_pandas,
    "polars": run_polars,
    "bytewax": run_bytewax,
    "spark": run_spark,
}
IMPORTS = {
    "fleetstream": ["fleetstream"],
    "python": [],
    "pandas": ["pandas"],
    "polars": ["polars"],
    "bytewax": ["bytewax.operators", "bytewax.operators.windowing", "bytewax.testing"],
    "spark": ["pyspark.sql"],
}


def checksums(result) -> list[int]:
    """[sessions, sum page_views, sum page_views^2, sum (start - START_MS), sum (end - START_MS),
    sum user * page_views, sum (user % USER_MIX + 1) * (start % TIME_MIX), the same with end], times in ms
    relative to START_MS."""
    if "sums" in result:
        return result["sums"]
    import numpy as np

    if "table" in result:
        import pyarrow as pa

        t = result["table"]
        user = t.column("user_id").to_numpy(zero_copy_only=False).astype(np.int64)
        pv = t.column("page_views").to_numpy(zero_copy_only=False).astype(np.int64)
        start = t.column("session_start").cast(pa.int64()).to_numpy() - START_MS
        end = t.column("session_end").cast(pa.int64()).to_numpy() - START_MS
    elif "frame" in result and hasattr(result["frame"], "to_arrow"):  # polars
        import pyarrow as pa

        t = result["frame"].to_arrow()
        user = t.column("user_id").to_numpy().astype(np.int64)
        pv = t.column("page_views").to_numpy().astype(np.int64)
        ms = pa.timestamp("ms", tz="UTC")
        start = t.column("session_start").cast(ms).cast(pa.int64()).to_numpy() - START_MS
        end = t.column("session_end").cast(ms).cast(pa.int64()).to_numpy() - START_MS
    elif "frame" in result:  # pandas
        import pandas as pd

        f = result["frame"]
        origin, unit = pd.Timestamp(START_MS, unit="ms", tz="UTC"), pd.Timedelta(milliseconds=1)
        user = f["user_id"].to_numpy(dtype=np.int64)
        pv = f["page_views"].to_numpy(dtype=np.int64)
        start = ((f["session_start"] - origin) // unit).to_numpy(dtype=np.int64)
        end = ((f["session_end"] - origin) // unit).to_numpy(dtype=np.int64)
    else:
        rows = result["rows"]
        if rows and isinstance(rows[0], dict):  # the pure-Python reference
            user = np.array([r["key"] for r in rows], dtype=np.int64)
            pv = np.array([r["page_views"] for r in rows], dtype=np.int64)
            start = np.array([r["session_start"] for r in rows], dtype=np.int64) - START_MS
            end = np.array([r["session_end"] for r in rows], dtype=np.int64) - START_MS
        else:  # bytewax: (user, count, start datetime, end datetime)
            user = np.array([r[0] for r in rows], dtype=np.int64)
            pv = np.array([r[1] for r in rows], dtype=np.int64)
            start = np.array([round(r[2].timestamp() * 1000) for r in rows], dtype=np.int64) - START_MS
            end = np.array([round(r[3].timestamp() * 1000) for r in rows], dtype=np.int64) - START_MS
    mix = user % USER_MIX + 1
    return [len(pv), int(pv.sum()), int((pv * pv).sum()), int(start.sum()), int(end.sum()), int((user * pv).sum()),
            int((mix * (start % TIME_MIX)).sum()), int((mix * (end % TIME_MIX)).sum())]


# ======================================================================================= worker


def _rss_kb(pid: str = "self") -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _cpu_s(pid) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_kb(pid) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def worker(args) -> None:
    """One contender in a fresh interpreter: load, warm up, baseline, time, peak, checksums."""
    import _clicks
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = _clicks.load(Path(args.data)).slice(0, args.events)
    scratch = args.scratch
    jvm = None
    if args.worker == "spark":
        # Spark reads Parquet: written here, before the clock (and the warm-up's small file too).
        pq.write_table(table, str(Path(scratch) / f"clicks_{table.num_rows}.parquet"))
        pq.write_table(table.slice(0, 1_000), str(Path(scratch) / "clicks_1000.parquet"))
        n_events = table.num_rows
        del table
        table = pa.table({"user_id": pa.array([], pa.int64())})
        _spark_session()
        from pyspark.sql import SparkSession

        jvm = SparkSession.getActiveSession().sparkContext._gateway.proc.pid
        batches, warm = [range(n_events)], [range(1_000)]  # run_spark only needs the event count
    else:
        batches = table.to_batches(max_chunksize=args.batch_size)
        warm = table.slice(0, 1_000).to_batches(max_chunksize=args.batch_size)
        n_events = table.num_rows
    for name in IMPORTS[args.worker]:
        __import__(name)
    load_reference()
    # Warm-up on the first 1,000 events: one-time set-up (Spark's JIT and planner, polars' thread
    # pool, pandas' first groupby) is not per-event work.
    RUNNERS[args.worker](warm, scratch)
    gc.collect()
    base_hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    base_rss = _rss_kb()
    jvm_base = _rss_kb(jvm) if jvm else 0
    jvm_cpu = _cpu_s(jvm) if jvm else 0.0
    timings = []  # (wall, cpu) of each timed run
    while True:
        c0, jvm_c0 = time.process_time(), (_cpu_s(jvm) if jvm else 0.0)
        t0 = time.perf_counter()
        result = RUNNERS[args.worker](batches, scratch)
        seconds = time.perf_counter() - t0
        timings.append((seconds, time.process_time() - c0 + (_cpu_s(jvm) - jvm_c0 if jvm else 0.0)))
        # Runs of a few seconds or less vary by tens of percent on this shared machine: the median of
        # --repeat runs (the slow contenders, whose single run is long, run once).
        if len(timings) >= args.repeat or timings[0][0] > REPEAT_BELOW_S:
            break
        del result
        gc.collect()
    seconds, cpu = sorted(timings)[len(timings) // 2]
    peak_hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_kb = peak_hwm - base_rss
    jvm_peak_kb = _hwm_kb(jvm) - jvm_base if jvm else 0
    sums = checksums(result)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "runs": len(timings),
                "cpu_seconds": cpu,
                "events": n_events,
                "sums": sums,
                "late": result["late"],
                "peak_mb": max(0, peak_kb + jvm_peak_kb) / 1024,
                "jvm_mb": jvm_peak_kb / 1024 if jvm else None,
                "baseline_transient_mb": max(0, base_hwm - base_rss) / 1024,
            }
        )
    )


# ======================================================================================= parent


def run_worker(contender, events, args, data, scratch):
    cmd = [
        sys.executable, __file__, "--worker", contender, "--data", str(data), "--events", str(events),
        "--batch-size", str(args.batch_size), "--scratch", str(scratch),
        "--fleetstream-threads", str(args.fleetstream_threads), "--repeat", str(args.repeat),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fleetstream_available() -> bool:
    proc = subprocess.run([sys.executable, "-c", "import fleetstream as fs; fs.Sessionizer"], capture_output=True)
    return proc.returncode == 0


def describe(got, want) -> str:
    if got == want:
        return "OK"
    names = ["sessions", "page_views", "page_views^2", "sum start", "sum end"]
    diffs = [f"{n} {g:,} vs {w:,}" for n, g, w in zip(names, got, want) if g != w]
    return "MISMATCH (" + "; ".join(diffs) + ")"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10_000_000, help="click events in the stream (default 10,000,000)")
    p.add_argument("--users", type=int, default=100_000, help="users (default 100,000)")
    p.add_argument("--batch-size", type=int, default=65_536, help="rows per RecordBatch (default 65,536)")
    p.add_argument("--only", default=None, help=f"comma-separated contenders among {','.join(CONTENDERS)}")
    p.add_argument("--python-events", type=int, default=None, help="prefix for the pure-Python reference (default: the whole stream)")
    p.add_argument("--bytewax-events", type=int, default=1_000_000, help="prefix for bytewax (default 1,000,000)")
    p.add_argument("--spark-events", type=int, default=None, help="prefix for Spark (default: the whole stream)")
    p.add_argument("--fleetstream-threads", type=int, default=1, help="fs.Sessionizer(threads=...) (default 1)")
    p.add_argument("--repeat", type=int, default=3, help=f"timed runs of contenders faster than {REPEAT_BELOW_S:.0f} s: the median is reported (default 3)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data-dir", type=Path, default=None, help="where the generated Arrow file is looked for / kept")
    p.add_argument("--out", type=Path, default=HERE / "results" / "sessions.md", help="markdown report (default benches/results/sessions.md)")
    p.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--scratch", help=argparse.SUPPRESS)
    p.add_argument("--generate", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    global FLEETSTREAM_THREADS
    FLEETSTREAM_THREADS = args.fleetstream_threads
    if args.worker:
        worker(args)
        return 0
    if args.generate:
        import _clicks

        print(_clicks.ensure(args.events, args.users, args.seed, [Path(d) for d in args.generate]))
        return 0

    contenders = CONTENDERS if args.only is None else [c.strip() for c in args.only.split(",")]
    for c in contenders:
        if c not in CONTENDERS:
            p.error(f"unknown contender {c!r}")
    have_fs = fleetstream_available()
    dirs = ([args.data_dir] if args.data_dir else []) + [Path.home() / ".cache" / "fleetstream" / "bench"]
    t0 = time.perf_counter()
    gen = subprocess.run(
        [sys.executable, __file__, "--events", str(args.events), "--users", str(args.users), "--seed", str(args.seed),
         "--generate", *map(str, dirs)],
        capture_output=True, text=True,
    )  # fmt: skip
    if gen.returncode != 0:
        print(gen.stderr, file=sys.stderr)
        return 1
    data = Path(gen.stdout.strip().splitlines()[-1])
    print(f"data: {data} ({args.events:,} events, {args.users:,} users, seed {args.seed}; ready in {time.perf_counter() - t0:.1f} s)", flush=True)

    limits = {"python": args.python_events or args.events, "bytewax": args.bytewax_events, "spark": args.spark_events or args.events}
    rows = []
    load0 = os.getloadavg()[0]
    fs_info: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_sessions_") as scratch:

        def oracle(n):
            if n not in fs_info:
                fs_info[n] = run_worker("fleetstream", n, args, data, scratch)
            return fs_info[n]

        for contender in contenders:
            if contender == "fleetstream" and not have_fs:
                rows.append((contender, 0, None, None, "not built (import fleetstream failed)", None))
                continue
            n = min(args.events, limits.get(contender, args.events))
            info = oracle(n) if contender == "fleetstream" else run_worker(contender, n, args, data, scratch)
            if "error" in info:
                rows.append((contender, n, None, None, "FAILED: " + info["error"][:200], None))
                print(f"{contender:12s} FAILED {info['error']}", flush=True)
                continue
            rate = n / info["seconds"]
            if contender == "fleetstream":
                check = f"reference run ({info['sums'][0]:,} sessions)"
            elif not have_fs:
                check = "no check (fleetstream not built)"
            else:
                o = oracle(n)
                check = "vs fleetstream: " + (describe(info["sums"], o["sums"]) if "error" not in o else "oracle failed: " + o["error"][:100])
            if info.get("runs", 1) > 1:
                check += f"; median of {info['runs']} runs"
            if info["late"]:
                check += f"; {info['late']:,} late events dropped"
            if contender == "spark":
                check += "; Spark's session end is last event + gap, converted (end - 30 min) for the check"
                check += f"; JVM +{info['jvm_mb']:,.0f} MB of the peak"
            if info["baseline_transient_mb"] > 32:
                check += f" (baseline high-water {info['baseline_transient_mb']:.0f} MB above RSS: peak overstated by up to that)"
            rows.append((contender, n, rate, info["peak_mb"], check, info["cpu_seconds"]))
            print(f"{contender:12s} {n:>11,} events {info['seconds']:8.2f} s (cpu {info['cpu_seconds']:.2f} s) {rate:>14,.0f} ev/s  peak +{info['peak_mb']:.0f} MB  {check}  [load {os.getloadavg()[0]:.1f}]", flush=True)
        if have_fs:
            oracle(args.events)  # fleetstream on the whole stream, for the contenders run on all of it

    def fs_rate(n):
        """fleetstream's events/s on the same events as a contender: a contender run on a prefix is
        compared with fleetstream on that prefix (the oracle run of its check), never with the whole
        stream (fleetstream's rate differs between the two)."""
        info = fs_info.get(n)
        return n / info["seconds"] if info and "error" not in info else None

    cmdline = " ".join(sys.argv[1:] if argv is None else argv)
    head = [
        f"# fleetstream sessionization benchmark ({args.events:,} click events, {args.users:,} users, batches of {args.batch_size:,} rows)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}.",
        f"Load average (1 min) at the start / end of the run: {load0:.1f} / {os.getloadavg()[0]:.1f} (other work shares the CPUs when above 0).",
        f"Command: `python benches/{Path(__file__).name}{' ' + cmdline if cmdline else ''}` (fleetstream threads={args.fleetstream_threads})",
        "",
        "| contender | events | events/s | fleetstream speed-up (x) | peak MB | CPU s | check |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines = []
    for contender, n, rate, peak, check, cpu in rows:
        ratio = f"{fs_rate(n) / rate:,.1f}" if rate and fs_rate(n) and contender != "fleetstream" else ("1.0" if rate and contender == "fleetstream" else "n/a")
        note = check
        if n and n < args.events:
            note += f"; prefix of the first {n:,} events (--{contender}-events), checked against fleetstream on the same prefix"
            if fs_rate(n):
                note += f" (where fleetstream did {fs_rate(n):,.0f} events/s: the speed-up divides by that rate)"
        rate_s = f"{rate:,.0f}" if rate else "-"
        peak_s = f"{peak:,.0f}" if peak is not None else "-"
        cpu_s = f"{cpu:,.2f}" if cpu is not None else "-"
        lines.append(f"| {contender} | {n:,} | {rate_s} | {ratio} | {peak_s} | {cpu_s} | {note} |")
    notes = [
        "",
        "How it is measured:",
        "- Every contender runs in its own fresh interpreter. The stream is read from an Arrow IPC file into memory and cut",
        "  into RecordBatches before the clock starts; the timed region goes from those batches to the complete set of",
        "  sessions (conversions to pandas / polars / Python objects included, flush included).",
        "  Spark reads a Parquet copy of the same events written before the clock starts (reading it is timed) on",
        f"  `local[2]` with spark.driver.memory=4g and spark.sql.shuffle.partitions={SPARK_SHUFFLE_PARTITIONS}; its timed query ends with a",
        "  collect of aggregated statistics of the sessions (count and sums), which needs every session.",
        "- Before the clock starts each contender runs once on the first 1,000 events (one-time set-up such as Spark's",
        "  planner and JIT or polars' thread pool is not per-event work); Spark's session start-up is not timed either.",
        f"- A contender whose timed run takes under {REPEAT_BELOW_S:.0f} s is timed {args.repeat} times in the same process and the median",
        "  run is reported (runs of a second vary by tens of percent on a shared 2-core machine); slower ones run once.",
        "- events/s = input events / wall seconds of the timed region; speed-up = fleetstream events/s on the same",
        "  events / the contender's events/s: a contender run on a prefix is divided into fleetstream's rate on that",
        "  prefix (timed in its own worker, the oracle of the check), not its rate on the whole stream.",
        "- CPU s = user + system CPU seconds of the timed region, all threads (for Spark, the JVM's added): less",
        "  sensitive than wall time to other work on the machine; above the wall time for multi-threaded contenders.",
        "- peak MB = ru_maxrss (resident high-water mark, RUSAGE_SELF) after the run minus the resident set (VmRSS) just",
        "  before it, i.e. after the data was loaded and the libraries imported and warmed up: the extra memory the work",
        "  needed. The data is read, not memory-mapped, so it is in that baseline. For Spark the JVM's own growth",
        "  (VmHWM after minus VmRSS before) is added. The parent process never imports numpy or pyarrow, because",
        "  Linux carries the RSS high-water mark across fork + exec.",
        "- check: every contender's sessions vs fleetstream's on the same events, by (sessions, sum of page views,",
        "  sum of squared page views, sum of session starts, sum of session ends, and three sums tying sessions to",
        "  their users: user x page views, (user mod 997 + 1) x (start mod 1,000,003), the same with the end).",
        "- Semantics: a gap of exactly 30 minutes keeps the session in every contender (fleetstream, the reference,",
        "  pandas/polars `diff > gap`, bytewax `since_close <= gap`, Spark's session_window). The generated disorder",
        f"  is strictly below the {WATERMARK_MS // 1000} s watermark, so no event is late and streaming results equal batch results.",
        "  Spark reports session end = last event + gap (converted). bytewax counts with fold_window (count, min, max)",
        "  and its EventClock is set up for replaying recorded data: a frozen now_getter (the watermark follows event",
        "  time only, max event time - 10 s, as in fleetstream) and to_system_utc returning None (closes driven by",
        "  items and EOF). With the default system clock, the watermark also advances with wall time while bytewax",
        "  works through a 64k-event batch, so in-order-enough events turn late (29k of 1 M in a trial), and every",
        "  key whose close time is in the system clock's past is woken on every activation (~2,000 events/s).",
        "  The pure-Python reference also tracks first/last page per session (page passed as None).",
    ]
    targets = ["", "Targets:"]
    fs_peak = next((peak for c, _, rate, peak, _, _ in rows if c == "fleetstream" and rate), None)
    for contender, n, rate, peak, _, _ in rows:
        if contender in TARGETS and rate and fs_rate(n):
            x = fs_rate(n) / rate
            want = TARGETS[contender]
            targets.append(f"- fleetstream {x:,.1f}x {contender} (target >= {want}x): {'met' if x >= want else 'NOT met'}")
        if contender == "pandas" and peak is not None and fs_peak is not None:
            ok = fs_peak < peak
            targets.append(f"- fleetstream peak {fs_peak:,.0f} MB vs pandas {peak:,.0f} MB (target: below): {'met' if ok else 'NOT met'}")
    report = "\n".join(head + lines + notes + (targets if len(targets) > 2 else []))
    print()
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
