"""Side-by-side benchmark: ERROR counts per service in event-time windows, plus spike alerts.

Tasks (all on the same synthetic log stream, see ``_datagen.py``):

* ``tumbling``  ERROR count per service in 1-minute tumbling windows;
* ``hopping``   ERROR count per service in 5-minute windows every minute;
* ``alerts``    ``tumbling`` followed by spike detection (rule "mean", history 10, factor 3, floor 20).

Contenders, measured in the same run on the same data, each (contender, task) in its own subprocess:

* ``fleetstream``  ``fs.WindowAggregator`` fed 64k-row pyarrow RecordBatches, ERROR filtered with
                   ``pyarrow.compute`` inside the timed region; ``fs.SpikeDetector`` for alerts;
* ``python``       the pure-Python reference (tests/stream/reference.py), one event at a time;
* ``pandas``       to_pandas + filter + sort + groupby on ``dt.floor`` (hopping: the 1-minute counts
                   summed over the 5 minutes each window covers), rolling mean for alerts;
* ``polars``       from_arrow + filter + sort + ``group_by_dynamic(every, period, offset)``,
                   ``rolling_mean().over()`` for alerts;
* ``bytewax``      bytewax 0.21 ``count_window`` with ``TumblingWindower``/``SlidingWindower`` and an
                   event-time ``EventClock`` (watermark 5 s, frozen system clock, as in
                   bench_sessions.py), ``run_main`` on a ``TestingSource``;
                   alerts with ``stateful_map``.

Every contender's result is checked against fleetstream's on the same events (OK / MISMATCH).

    python benches/bench_windows.py --events 1000000
    python benches/bench_windows.py --only polars,fleetstream --out results.md
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

CONTENDERS = ["fleetstream", "python", "pandas", "polars", "bytewax"]
TASKS = ["tumbling", "hopping", "alerts"]
MINUTE = 60_000
WATERMARK_MS = 5_000
HISTORY, FACTOR, FLOOR = 10, 3.0, 20
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def load_reference():
    name = "fleetstream_tests_stream_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE.parent / "tests" / "stream" / "reference.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ===================================================================================== contenders
# Each takes the list of RecordBatches and the task, and returns a pyarrow Table
# (service: string, window_start: int64 ms, value: int64), in any row order.


def _result(service, window_start, value):
    import pyarrow as pa

    return pa.table(
        {
            "service": pa.array(service, pa.string()),
            "window_start": pa.array(window_start, pa.int64()),
            "value": pa.array(value, pa.int64()),
        }
    )


def run_fleetstream(batches, task):
    import fleetstream as fs
    import pyarrow as pa
    import pyarrow.compute as pc

    window = fs.Hopping(size="5m", step="1m") if task == "hopping" else fs.Tumbling("1m")
    agg = fs.WindowAggregator(
        window=window, time="ts", key="service", aggs={"errors": fs.count()}, watermark="5s"
    )
    det = fs.SpikeDetector(value="errors", key="service", history=HISTORY, factor=FACTOR, floor=FLOOR) if task == "alerts" else None
    outs = []
    for batch in batches:
        errors = batch.filter(pc.equal(batch.column("level"), "ERROR"))
        closed = agg.push(errors)
        outs.append(det.push(closed) if det is not None else closed)
    closed = agg.flush()
    outs.append(det.push(closed) if det is not None else closed)
    if det is not None and hasattr(det, "flush"):  # the detector decides every window on arrival
        outs.append(det.flush())
    out = pa.concat_tables([t for t in outs if t.num_rows] or outs[-1:])
    value = "value" if det is not None else "errors"
    return _result(
        out.column("service").cast(pa.string()).to_pylist() if out.num_rows else [],
        out.column("window_start").cast(pa.int64()).to_pylist() if out.num_rows else [],
        out.column(value).cast(pa.int64()).to_pylist() if out.num_rows else [],
    )


def run_python(batches, task):
    import pyarrow as pa

    ref = load_reference()
    window = ref.Hopping(5 * MINUTE, MINUTE) if task == "hopping" else ref.Tumbling(MINUTE)
    agg = ref.WindowAggregator(window, time="ts", key="service", aggs={"errors": ref.count()}, watermark=WATERMARK_MS)
    det = ref.SpikeDetector(value="errors", key="service", history=HISTORY, factor=FACTOR, floor=FLOOR)
    rows = []
    for batch in batches:
        # Arrow -> Python objects (ints for times), then one event at a time in Python.
        ts = batch.column("ts").cast(pa.int64()).to_pylist()
        service = batch.column("service").to_pylist()
        level = batch.column("level").to_pylist()
        closed = agg.push([{"ts": t, "service": s} for t, s, lv in zip(ts, service, level) if lv == "ERROR"])
        rows += det.push(closed) if task == "alerts" else closed
    closed = agg.flush()
    rows += det.push(closed) if task == "alerts" else closed
    value = "value" if task == "alerts" else "errors"
    return _result([r["service"] for r in rows], [r["window_start"] for r in rows], [r[value] for r in rows])


def run_pandas(batches, task):
    import pandas as pd
    import pyarrow as pa

    df = pa.Table.from_batches(batches).to_pandas()
    err = df.loc[df["level"] == "ERROR", ["ts", "service"]].sort_values("ts", kind="stable")
    minute = err["ts"].dt.floor("1min").dt.as_unit("ms").astype("int64")
    counts = err.groupby([err["service"], minute.rename("window_start")]).size()
    if task == "hopping":
        c = counts.rename("value").reset_index()
        shifted = [c.assign(window_start=c["window_start"] - k * MINUTE) for k in range(5)]
        hop = pd.concat(shifted).groupby(["service", "window_start"])["value"].sum().reset_index()
        return _result(hop["service"].tolist(), hop["window_start"].tolist(), hop["value"].tolist())
    if task == "tumbling":
        c = counts.rename("value").reset_index()
        return _result(c["service"].tolist(), c["window_start"].tolist(), c["value"].tolist())
    # alerts: minutes x services, zeros after each service's first window, mean of the 10 previous
    wide = counts.unstack("service")
    lo, hi = wide.index.min(), wide.index.max()
    wide = wide.reindex(range(lo, hi + MINUTE, MINUTE))
    present = wide.notna()
    values = wide.fillna(0).where(present.cummax())
    baseline = values.rolling(HISTORY, min_periods=HISTORY).mean().shift(1)
    alert = present & (values > FLOOR) & (values > FACTOR * baseline)
    hits = values.where(alert).stack().dropna().rename("value").reset_index()
    return _result(hits["service"].tolist(), hits["window_start"].astype("int64").tolist(), hits["value"].astype("int64").tolist())


def run_polars(batches, task):
    import polars as pl
    import pyarrow as pa

    df = pl.from_arrow(pa.Table.from_batches(batches))
    err = df.filter(pl.col("level") == "ERROR").select("ts", "service").sort("ts")
    hopping = task == "hopping"
    counts = (
        err.group_by_dynamic(
            "ts",
            every="1m",
            period="5m" if hopping else "1m",
            offset="-4m" if hopping else "0m",
            group_by="service",
            closed="left",
            label="left",
            start_by="window",
        )
        .agg(pl.len().alias("value"))
        .select("service", pl.col("ts").dt.epoch("ms").alias("window_start"), pl.col("value").cast(pl.Int64))
    )
    if task == "alerts":
        lo, hi = counts["window_start"].min(), counts["window_start"].max()
        grid = counts.select("service").unique().join(
            pl.DataFrame({"window_start": pl.int_range(lo, hi + MINUTE, MINUTE, eager=True)}), how="cross"
        )
        first = counts.group_by("service").agg(pl.col("window_start").min().alias("first"))
        full = (
            grid.join(first, on="service")
            .filter(pl.col("window_start") >= pl.col("first"))
            .join(counts, on=["service", "window_start"], how="left")
            .with_columns(present=pl.col("value").is_not_null(), value=pl.col("value").fill_null(0))
            .sort("service", "window_start")
            .with_columns(baseline=pl.col("value").cast(pl.Float64).rolling_mean(HISTORY).shift(1).over("service"))
        )
        counts = full.filter(
            pl.col("present") & (pl.col("value") > FLOOR) & (pl.col("value") > FACTOR * pl.col("baseline"))
        ).select("service", "window_start", "value")
    return counts.to_arrow().cast(_result([], [], []).schema)


def run_bytewax(batches, task):
    import bytewax.operators as op
    import bytewax.operators.windowing as win
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource, run_main

    def events():
        for batch in batches:  # Arrow -> Python objects (aware datetimes), one event at a time
            yield from zip(batch.column("ts").to_pylist(), batch.column("service").to_pylist(), batch.column("level").to_pylist())

    flow = Dataflow("bench_windows")
    stream = op.input("logs", flow, TestingSource(events(), batch_size=len(batches[0]) if batches else 1))
    errors = op.filter("errors", stream, lambda e: e[2] == "ERROR")
    # Replaying a recorded stream: the watermark follows event time only (a frozen "system" clock) and
    # no wake-ups are scheduled on the system clock, as in bench_sessions.py; with the default system
    # clock the watermark also advances with wall time while a batch is processed.
    clock = win.EventClock(
        lambda e: e[0],
        wait_for_system_duration=timedelta(milliseconds=WATERMARK_MS),
        now_getter=lambda: EPOCH,
        to_system_utc=lambda t: None,
    )
    if task == "hopping":
        windower = win.SlidingWindower(length=timedelta(minutes=5), offset=timedelta(minutes=1), align_to=EPOCH)
    else:
        windower = win.TumblingWindower(length=timedelta(minutes=1), align_to=EPOCH)
    counted = win.count_window("count", errors, clock, windower, key=lambda e: e[1])
    down = counted.down  # (service, (window_id, count)); window start = id * 1 minute
    if task == "alerts":

        def spike(state, item):
            wid, n = item
            last, hist, seen = state if state is not None else (None, [], 0)
            hist = list(hist)
            if last is not None:
                for _ in range(min(wid - last - 1, HISTORY)):  # missing windows count as 0
                    hist.append(0)
                seen += wid - last - 1
            alert = seen >= HISTORY and n > FLOOR and n > FACTOR * (sum(hist[-HISTORY:]) / HISTORY)
            hist.append(n)
            return (wid, hist[-HISTORY:], seen + 1), ((wid, n) if alert else None)

        down = op.filter("alerting", op.stateful_map("spike", down, spike), lambda kv: kv[1] is not None)
    out = []
    op.output("out", down, TestingSink(out))
    run_main(flow)
    return _result([k for k, _ in out], [wid * MINUTE for _, (wid, _) in out], [n for _, (_, n) in out])


RUNNERS = {
    "fleetstream": run_fleetstream,
    "python": run_python,
    "pandas": run_pandas,
    "polars": run_polars,
    "bytewax": run_bytewax,
}
IMPORTS = {
    "fleetstream": ["fleetstream", "pyarrow.compute"],
    "python": [],
    "pandas": ["pandas"],
    "polars": ["polars"],
    "bytewax": ["bytewax.operators", "bytewax.operators.windowing", "bytewax.testing"],
}


# ======================================================================================= worker


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def worker(args) -> None:
    """One (contender, task) in a fresh interpreter: load, baseline, time, peak, write the result."""
    import _datagen
    import pyarrow as pa
    import pyarrow.ipc as ipc

    table = _datagen.load(Path(args.data)).slice(0, args.events)
    batches = table.to_batches(max_chunksize=args.batch_size)
    for name in IMPORTS[args.worker]:
        importlib.import_module(name)
    load_reference()
    # Warm-up on the first 1,000 events: one-time library set-up (pyarrow.compute's kernel registry
    # takes ~0.3 s on its first call, polars starts its thread pool, ...) is not per-event work.
    RUNNERS[args.worker](table.slice(0, 1_000).to_batches(), args.task)
    gc.collect()
    base_hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    base_rss = _rss_kb()
    t0 = time.perf_counter()
    result = RUNNERS[args.worker](batches, args.task)
    seconds = time.perf_counter() - t0
    peak_hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pa.OSFile(args.result, "wb") as sink, ipc.new_file(sink, result.schema) as writer:
        writer.write_table(result)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "events": table.num_rows,
                "rows": result.num_rows,
                "peak_mb": max(0, peak_hwm - base_hwm) / 1024,
                "baseline_transient_mb": max(0, base_hwm - base_rss) / 1024,
            }
        )
    )


# ======================================================================================= parent


def run_worker(contender, task, events, data, batch_size, tmp):
    result = Path(tmp) / f"{contender}_{task}_{events}.arrow"
    cmd = [
        sys.executable, __file__, "--worker", contender, "--task", task, "--data", str(data),
        "--events", str(events), "--batch-size", str(batch_size), "--result", str(result),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["result"] = result
    return info


def _sorted_rows(path):
    import pyarrow.ipc as ipc

    with open(path, "rb") as f:
        t = ipc.open_file(f).read_all()
    return sorted(zip(t.column("service").to_pylist(), t.column("window_start").to_pylist(), t.column("value").to_pylist()))


def compare(path, oracle_path) -> str:
    """Run in a subprocess, to keep pyarrow out of the parent (see the note at the top)."""
    proc = subprocess.run([sys.executable, __file__, "--compare", str(path), str(oracle_path)], capture_output=True, text=True)
    if proc.returncode != 0:
        return "compare failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return proc.stdout.strip().splitlines()[-1]


def _compare(path, oracle_path) -> str:
    got, exp = _sorted_rows(path), _sorted_rows(oracle_path)
    if got == exp:
        return "OK"
    g, e = set(got), set(exp)
    return f"MISMATCH ({len(got)} vs {len(exp)} rows, {len(g - e)} extra, {len(e - g)} missing)"


def fleetstream_available() -> bool:
    proc = subprocess.run([sys.executable, "-c", "import fleetstream as fs; fs.WindowAggregator; fs.SpikeDetector"], capture_output=True)
    return proc.returncode == 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10_000_000, help="events in the stream (default 10,000,000)")
    p.add_argument("--batch-size", type=int, default=65_536, help="rows per RecordBatch (default 65,536)")
    p.add_argument("--only", default=None, help=f"comma-separated contenders among {','.join(CONTENDERS)}")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated tasks among {','.join(TASKS)}")
    p.add_argument("--python-events", type=int, default=1_000_000, help="prefix of the stream for the pure-Python reference (default 1,000,000)")
    p.add_argument("--bytewax-events", type=int, default=1_000_000, help="prefix of the stream for bytewax (default 1,000,000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", type=Path, default=None, help="where the generated Arrow file is looked for / kept")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown report here")
    p.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--task", choices=TASKS, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--compare", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--generate", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.compare:
        print(_compare(*args.compare))
        return 0
    if args.generate:
        import _datagen

        print(_datagen.ensure(args.events, args.seed, [Path(d) for d in args.generate]))
        return 0

    contenders = CONTENDERS if args.only is None else [c.strip() for c in args.only.split(",")]
    tasks = [t.strip() for t in args.tasks.split(",")]
    for c in contenders:
        if c not in CONTENDERS:
            p.error(f"unknown contender {c!r}")
    for t in tasks:
        if t not in TASKS:
            p.error(f"unknown task {t!r}")
    load_start = os.getloadavg()[0]
    have_fs = fleetstream_available()
    dirs = ([args.data_dir] if args.data_dir else []) + [Path.home() / ".cache" / "fleetstream" / "bench"]
    t0 = time.perf_counter()
    gen = subprocess.run(
        [sys.executable, __file__, "--events", str(args.events), "--seed", str(args.seed), "--generate", *map(str, dirs)],
        capture_output=True, text=True,
    )  # fmt: skip
    if gen.returncode != 0:
        print(gen.stderr, file=sys.stderr)
        return 1
    data = Path(gen.stdout.strip().splitlines()[-1])
    print(f"data: {data} ({args.events:,} events, seed {args.seed}; ready in {time.perf_counter() - t0:.1f} s)", flush=True)

    limits = {"python": args.python_events, "bytewax": args.bytewax_events}
    lines, rows = [], []
    fs_rate: dict[tuple[str, int], float] = {}  # (task, events) -> fleetstream's events/s on those events
    oracle_cache: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_windows_") as tmp:

        def oracle(task, n):
            key = (task, n)
            if key not in oracle_cache:
                name = "fleetstream" if have_fs else "pandas"
                oracle_cache[key] = run_worker(name, task, n, data, args.batch_size, tmp)
                if name == "fleetstream" and "error" not in oracle_cache[key]:
                    fs_rate.setdefault(key, n / oracle_cache[key]["seconds"])
            return oracle_cache[key]

        for task in tasks:
            for contender in contenders:
                if contender == "fleetstream" and not have_fs:
                    rows.append((contender, task, 0, None, None, None, "not built (import fleetstream failed)"))
                    continue
                n = min(args.events, limits.get(contender, args.events))
                info = run_worker(contender, task, n, data, args.batch_size, tmp)
                if "error" in info:
                    rows.append((contender, task, n, None, None, None, "FAILED: " + info["error"][:200]))
                    print(f"{contender:12s} {task:9s} FAILED {info['error']}", flush=True)
                    continue
                rate = n / info["seconds"]
                if contender == "fleetstream":
                    fs_rate[(task, n)] = rate
                    oracle_cache[(task, n)] = info
                    check = "reference run"
                else:
                    o = oracle(task, n)
                    check = ("vs fleetstream: " if have_fs else "vs pandas (fleetstream not built): ") + (
                        compare(info["result"], o["result"]) if "error" not in o else "oracle failed: " + o["error"][:100]
                    )
                if info["baseline_transient_mb"] > 32:
                    check += f" (baseline high-water {info['baseline_transient_mb']:.0f} MB above RSS: peak may be understated)"
                rows.append((contender, task, n, rate, None, info["peak_mb"], check))
                print(f"{contender:12s} {task:9s} {n:>11,} events {info['seconds']:8.2f} s {rate:>14,.0f} ev/s  peak +{info['peak_mb']:.0f} MB  {check}", flush=True)
        if have_fs:  # the fleetstream rate for ratios, measured on the full stream if it was not timed
            for task in tasks:
                if (task, args.events) not in fs_rate:
                    oracle(task, args.events)

    head = [
        f"# fleetstream window benchmark ({args.events:,} events, batches of {args.batch_size:,} rows)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}.",
        f"Versions: {_versions()}.",
        f"Load average (1 min) at start {load_start:.1f}, at end {os.getloadavg()[0]:.1f}: other work on the machine skews timings.",
        f"Command: `python benches/{Path(__file__).name} {' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        "| contender | task | events | events/s | fleetstream speed-up (x) | peak MB | check |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for contender, task, n, rate, _, peak, check in rows:
        # a contender run on a prefix is divided into fleetstream's rate on the same prefix
        ratio = f"{fs_rate[(task, n)] / rate:,.1f}" if rate and (task, n) in fs_rate else "n/a"
        rate_s = f"{rate:,.0f}" if rate else "-"
        peak_s = f"{peak:,.0f}" if peak is not None else "-"
        note = check
        if n and n < args.events:
            note += f"; prefix of {n:,} events (--{contender}-events)"
            if (task, n) in fs_rate:
                note += f", where fleetstream did {fs_rate[(task, n)]:,.0f} events/s (the speed-up divides by that rate)"
        lines.append(f"| {contender} | {task} | {n:,} | {rate_s} | {ratio} | {peak_s} | {note} |")
    notes = [
        "",
        "How it is measured:",
        "- Every (contender, task) runs in its own fresh interpreter. The stream is read from an Arrow IPC file into memory",
        "  and cut into RecordBatches before the clock starts; the timed region is everything from those batches to the",
        "  result (ERROR filtering, conversions to pandas/polars/Python objects, windowing, alerting, flush).",
        "- Before the clock starts each contender runs once on the first 1,000 events, so one-time library set-up",
        "  (pyarrow.compute's first call alone takes ~0.3 s, polars starts its thread pool) is not timed.",
        "- events/s = input events (all levels) / wall seconds of the timed region.",
        "- peak MB = ru_maxrss (the kernel's resident high-water mark) after the run minus ru_maxrss just before it,",
        "  measured after loading the data and importing the contender's libraries: the extra memory the work needed.",
        "  The data is read (not memory-mapped) so the baseline high-water mark equals the resident set (checked).",
        "- speed-up = fleetstream events/s / contender events/s for the same task, on the same events.",
        "- python and bytewax run on a prefix of the stream when --python-events/--bytewax-events is below --events;",
        "  their check compares with fleetstream run on the same prefix, and their speed-up divides fleetstream's rate",
        "  on that prefix (timed in its own worker), not its rate on the whole stream.",
        "- bytewax's EventClock replays recorded data: a frozen now_getter (the watermark follows event time only, max",
        "  event time - 5 s, as in fleetstream) and to_system_utc returning None (closes are driven by items and EOF),",
        "  as in bench_sessions.py. With the default system clock the watermark also advances with wall time while",
        "  bytewax works through a batch (events turn late), and keys are woken on the system clock.",
        "- watermark 5 s; the generated disorder is strictly below 5 s, so no event is late and streaming results",
        "  equal the batch (pandas, polars) results.",
    ]
    targets = _targets(rows, fs_rate)
    report = "\n".join(head + lines + notes + targets)
    print()
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("fleetstream", "pyarrow", "pandas", "polars", "bytewax"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} not installed")
    return ", ".join(out)


def _targets(rows, fs_rate):
    out = ["", "Targets:"]
    by = {(c, t): (n, rate, peak) for c, t, n, rate, _, peak, _ in rows if rate}
    for task in TASKS:
        fs_peak = by.get(("fleetstream", task), (None, None, None))[2]
        for c, want in (("polars", 2), ("python", 100), ("bytewax", 100)):
            n, rate, _ = by.get((c, task), (None, None, None))
            if rate and (task, n) in fs_rate:  # fleetstream on the same events (prefix included)
                x = fs_rate[(task, n)] / rate
                out.append(f"- {task}: fleetstream {x:,.1f}x {c} (target >= {want}x): {'met' if x >= want else 'NOT met'}")
        if fs_peak is not None and ("polars", task) in by:
            pp = by[("polars", task)][2]
            out.append(f"- {task}: fleetstream peak {fs_peak:,.0f} MB vs polars {pp:,.0f} MB (target <=): {'met' if fs_peak <= pp else 'NOT met'}")
    return out if len(out) > 2 else []


if __name__ == "__main__":
    sys.exit(main())
