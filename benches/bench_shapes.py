"""Shape-matrix benchmark: fleetstream's windows and sessions against polars and pandas, cell by cell.

Every cell (one data shape) runs in this one process, on the same Arrow data for every contender:
fleetstream (pre-sliced RecordBatches of each batch size, one and two threads where the operator has a
``threads=`` option), and every way of polars and pandas (the whole table; the fastest correct way is
that library's baseline). Each contender's output is checked row by row, in order, against
fleetstream's; any MISMATCH makes the run exit with status 1.

    python benches/bench_shapes.py --quick                 # a representative subset, reduced size
    python benches/bench_shapes.py --list                  # the cells (and skipped shapes) without running
    python benches/bench_shapes.py --cells 'w/hopping/.*/k50/' --out /tmp/shapes.md --json /tmp/shapes.json
    python benches/bench_shapes.py --out benches/results/shapes.md --json benches/results/shapes.json

Times: ``timestamp[ms, tz=UTC]`` in both families (what parsed logs and Kafka sources hold).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pyarrow as pa  # noqa: E402

import _shape_contenders as C  # noqa: E402
import _shape_report as R  # noqa: E402
import _shapes as S  # noqa: E402

# ========================================================================================= the grid
# Every combination of a family's axes is a cell unless ``window_plan`` / ``session_plan`` gives a
# reason to skip it; the events N of a cell follow from its shape.
WINDOW_AXES = {  # data axes first: cells that differ only in the last two share one generated table
    "keys": [50, 5_000, 500_000],
    "key_type": ["short", "uuid", "int64-random"],
    "density": [1, 100, 10_000],  # mean events per key per minute (per 1-minute pane of a key)
    "disorder_s": [0, 5],  # watermark 5 s: delays are drawn in [0, disorder)
    "window": ["tumbling", "hopping"],  # 1m; 5m every 1m
    "aggs": ["count", "full"],  # count(); count() + sum(value) + max(value)
}
SESSION_AXES = {
    "users": [10_000, 1_000_000, 10_000_000],
    "key_type": ["int64-dense", "int64-random", "uuid"],
    "events_per_session": [1.5, 8, 100],
    "disorder_s": [0, 10],  # watermark 10 s
    "aggs": ["count", "full"],  # count(); count() + count_distinct(page) + first(page) + last(page)
}
BATCH_SIZES = [4_096, 65_536]
# Windows: N; sessions: the events the 10k-user cells aim at. 500k keeps the default run within the
# hour on 2 cores (estimated from per-cell timings: ~40 min quiet, ~1 h at load 5; 1M adds ~25 min);
# the largest session cells are set by their users, not by this.
DEFAULT_EVENTS = 500_000
DEFAULT_MAX_EVENTS = 16_000_000  # sessions: larger shapes are skipped
# The whole cross product takes hours on 2 cores: these shapes are left out of the default run
# (``--all`` keeps them), so that it takes about an hour. The large-user sessions cells cost the most
# (a 15M-event cell with UUID keys took 7 CPU-minutes per round with the fleetstream of 2026-12-03).
TRIMS = [  # (family, {axis: values}: a shape matching all of them is trimmed, why)
    ("windows", {"aggs": ["full"], "disorder_s": [0]}, "count+sum+max runs with 5 s of disorder only"),
    ("sessions", {"users": [1_000_000, 10_000_000], "disorder_s": [0]}, "1M and 10M users run with 10 s of disorder only"),
    ("sessions", {"users": [1_000_000], "events_per_session": [8]}, "1M users x 8 events (8M events, ~12 min a cell)"),
    ("sessions", {"users": [10_000_000], "aggs": ["full"]}, "10M users (15M events): count() only"),
    ("sessions", {"users": [10_000_000], "key_type": ["int64-dense", "uuid"]}, "10M users: random int64 keys only"),
]
MIN_WINDOW_MINUTES = 1  # the shortest span of a windows cell (two tumbling windows per key at most)
QUICK_CELLS = [
    "w/tumbling/count/k50/short/d100/o5s",
    "w/tumbling/full/k5000/uuid/d1/o0s",
    "w/hopping/full/k5000/int64-random/d1/o5s",
    "w/hopping/count/k50/uuid/d100/o0s",
    "s/u10000/int64-dense/e8/o10s/full",
    "s/u10000/uuid/e100/o0s/count",
    "s/u1000000/int64-random/e1.5/o10s/count",
]
QUICK_EVENTS = 250_000


def window_plan(shape, events):
    """(N, span in minutes) of a windows cell, or (None, reason)."""
    span = events / (shape["keys"] * shape["density"])
    if span < MIN_WINDOW_MINUTES:
        return None, f"{shape['keys']:,} keys x {shape['density']:,} events per key-minute over at least {MIN_WINDOW_MINUTES} minute needs more than {events:,} events"
    return events, span


def session_plan(shape, events, max_events):
    """(N, sessions per user) of a sessions cell, or (None, reason)."""
    per_user = max(1, round(events / (shape["users"] * shape["events_per_session"])))
    n = int(shape["users"] * per_user * shape["events_per_session"])
    if n > max_events:
        return None, f"{shape['users']:,} users x {shape['events_per_session']} events per session is {n:,} events (cap --max-events {max_events:,})"
    return n, per_user


def cell_id(family, shape):
    if family == "windows":
        return f"w/{shape['window']}/{shape['aggs']}/k{shape['keys']}/{shape['key_type']}/d{shape['density']}/o{shape['disorder_s']}s"
    return f"s/u{shape['users']}/{shape['key_type']}/e{shape['events_per_session']}/o{shape['disorder_s']}s/{shape['aggs']}"


def enumerate_cells(args):
    """[(family, id, shape, n, plan)] in run order, [(id, why impossible)], [(id, why trimmed)]."""
    cells, skipped, trims = [], [], []
    for family, axes in (("windows", WINDOW_AXES), ("sessions", SESSION_AXES)):
        for values in itertools.product(*axes.values()):
            shape = dict(zip(axes, values))
            cid = cell_id(family, shape)
            if args.cells and not re.search(args.cells, cid):
                continue
            if args.quick and cid not in QUICK_CELLS:
                continue
            if family == "windows":
                n, plan = window_plan(shape, args.events)
            else:
                n, plan = session_plan(shape, args.events, args.max_events)
            trim = None if args.all or args.quick else trimmed(family, shape)
            if not n:
                skipped.append((cid, plan))
            elif trim:
                trims.append((cid, trim))
            else:
                cells.append((family, cid, shape, n, plan))
    return cells, skipped, trims


def trimmed(family, shape):
    return next((why for fam, match, why in TRIMS if fam == family and all(shape[k] in v for k, v in match.items())), None)


def make_data(family, shape, plan, seed, n):
    if family == "windows":
        return S.window_events(n, shape["keys"], shape["key_type"], plan, shape["disorder_s"] * 1000, seed)
    return S.session_events(shape["users"], plan, shape["events_per_session"], shape["key_type"], shape["disorder_s"] * 1000, seed)


# ==================================================================================== measuring


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


try:
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc
    _malloc_trim = None


def measured(fn):
    """Run fn() once: (result, seconds, peak MB above the resident set just before)."""
    gc.collect()
    pa.default_memory_pool().release_unused()  # memory freed by earlier runs back to the system,
    if _malloc_trim is not None:  # so that the next run's growth shows in the high-water mark
        _malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    rss0 = _status_kb("VmRSS:")
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    return result, seconds, max(0, _status_kb("VmHWM:") - rss0) / 1024


# polars' allocator (jemalloc, 10 s decay) keeps the pages a run freed resident, so the next polars run
# in the process grows the RSS little or not at all (a panes+explode run: 0-1 MB in process, 26 MB
# measured fresh). polars' peaks therefore come from a second pass: a child process per cell whose
# jemalloc returns freed pages at once. That slows polars, so the child takes no times.
POLARS_MEMORY_ENV = {"_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}


def polars_memory_pass(cid, args):
    """{contender name: peak MB} of every polars way of cell ``cid``, each run once in a child process."""
    cmd = [sys.executable, __file__, "--polars-memory", cid, "--events", str(args.events), "--max-events", str(args.max_events), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, env=os.environ | POLARS_MEMORY_ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def polars_memory_worker(args) -> None:
    args.cells, args.all, args.quick = f"^{re.escape(args.polars_memory)}$", True, False
    (family, cid, shape, n, plan), *_ = enumerate_cells(args)[0]
    table = make_data(family, shape, plan, args.seed, n)
    spec = {"window": shape.get("window"), "aggs": shape["aggs"]}
    ways = (C.window_ways if family == "windows" else C.session_ways)("polars", spec)
    for _, fn in ways:  # imports and first-call costs, as in the timed pass
        fn(table.slice(0, 2_000), spec)
    peaks = {}
    for way, fn in ways:
        result, _, peaks[f"polars {way}"] = measured(lambda f=fn: f(table, spec))
        del result
    print(json.dumps(peaks))


class Cell:
    """Runs every contender of one cell: warm-up once per process, then ``repeat`` interleaved rounds."""

    warmed: set[str] = set()

    def __init__(self, family, cid, shape, n, table, repeat):
        self.family, self.id, self.shape, self.n, self.table, self.repeat = family, cid, shape, n, table, repeat
        self.spec = {"window": shape.get("window"), "aggs": shape["aggs"]}
        self.contenders = {}  # name -> dict(fn, kind, runs, check, ...)

    def add(self, name, fn, kind, **info):
        self.contenders[name] = {"fn": fn, "kind": kind, "runs": [], "check": None, **info}

    def run(self, log):
        warm = self.table.slice(0, 2_000)
        for name, c in self.contenders.items():
            tag = f"{self.family}:{c['warm_tag']}"
            if tag not in Cell.warmed:  # imports, thread pools, first-call costs: once per process
                c["warm"](warm)
                Cell.warmed.add(tag)
        for rnd in range(self.repeat):  # rounds interleave the contenders: drifting load hits them all
            for name, c in self.contenders.items():
                result, seconds, peak = measured(c["fn"])
                c["runs"].append({"seconds": seconds, "peak_mb": peak})
                if rnd == 0:  # the first run's output is checked (the others are the same code on the same data)
                    self._check(name, c, result)
                del result
            log(f"  round {rnd + 1}/{self.repeat} done")
        for c in self.contenders.values():
            c["median_s"] = statistics.median(r["seconds"] for r in c["runs"])
            c["peak_mb"] = max(r["peak_mb"] for r in c["runs"])  # the largest need of the runs
            c["events_per_s"] = self.n / c["median_s"]

    def use_polars_peaks(self, fresh):
        """polars' peaks from the child process (see POLARS_MEMORY_ENV); in-process ones kept aside."""
        for name, c in self.contenders.items():
            if c["kind"] == "polars":
                c["peak_mb_in_process"] = c["peak_mb"]
                if name in fresh:
                    c["peak_mb"] = fresh[name]
                else:
                    c["peak_note"] = "in-process peak (the fresh-allocator pass failed: " + fresh.get("error", "?") + ")"

    def _check(self, name, c, result):
        if c["kind"] == "fleetstream":
            table, op = result
            late, rejects = op.take_late().num_rows, op.take_rejects().num_rows
            canon = C.canonical(table, self.family, self.spec)
            if not hasattr(self, "reference"):
                self.reference, self.reference_name = canon, name
                c["check"] = "reference"
            else:
                c["check"] = C.compare(canon, self.reference)
            if late or rejects:
                c["check"] = f"{c['check']}; {late:,} late / {rejects:,} rejected rows (the data has none)"
            c["rows"] = canon.num_rows
        else:
            canon = C.canonical(result, self.family, self.spec)
            c["check"] = C.compare(canon, self.reference)
            c["rows"] = canon.num_rows


def build_cell(family, cid, shape, n, table, args, threads_option):
    cell = Cell(family, cid, shape, n, table, args.repeat)
    run_fs = C.fleetstream_windows if family == "windows" else C.fleetstream_sessions
    thread_counts = [1, 2] if threads_option else [None]
    for batch_size in args.batch_sizes:
        batches = table.to_batches(max_chunksize=batch_size)  # sliced before the clock
        for threads in thread_counts:
            name = f"fleetstream b{batch_size} t{threads or 1}"
            cell.add(name, (lambda b=batches, t=threads: run_fs(b, cell.spec, t)), "fleetstream",
                     batch_size=batch_size, threads=threads, warm_tag=f"fleetstream t{threads}",
                     warm=lambda w, t=threads: run_fs(w.to_batches(max_chunksize=512), cell.spec, t))  # fmt: skip
    ways = C.window_ways if family == "windows" else C.session_ways
    for library in ("polars", "pandas"):
        for way, fn in ways(library, cell.spec):
            cell.add(f"{library} {way}", (lambda f=fn: f(table, cell.spec)), library, way=way, warm_tag=f"{library} {way}",
                     warm=lambda w, f=fn: f(w, cell.spec))  # fmt: skip
    return cell


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=f"the {len(QUICK_CELLS)} cells of QUICK_CELLS at --events {QUICK_EVENTS:,} (unless given)")
    p.add_argument("--cells", default=None, help="regular expression on cell ids (see --list), e.g. 'w/hopping/' or 's/u10000/'")
    p.add_argument("--all", action="store_true", help="also the shapes of TRIMS (the whole cross product: hours)")
    p.add_argument("--list", action="store_true", help="print the cells and the skipped shapes, run nothing")
    p.add_argument("--events", type=int, default=None, help=f"windows: events per cell; sessions: events the 10k-user cells aim at (default {DEFAULT_EVENTS:,})")
    p.add_argument("--max-events", type=int, default=DEFAULT_MAX_EVENTS, help=f"sessions: skip shapes with more events (default {DEFAULT_MAX_EVENTS:,})")
    p.add_argument("--batch-sizes", default=",".join(map(str, BATCH_SIZES)), help="fleetstream batch sizes (default 4096,65536)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per contender per cell: the median is reported (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="write the markdown report here (it is always printed)")
    p.add_argument("--json", type=Path, default=None, help="write every measurement here")
    p.add_argument("--readme", type=Path, default=None, help=f"replace the block between {R.README_BEGIN} and {R.README_END} in this file (the project README) with the report")
    p.add_argument("--polars-memory", default=None, help=argparse.SUPPRESS)  # the child of polars_memory_pass
    args = p.parse_args(argv)
    args.events = args.events or (QUICK_EVENTS if args.quick else DEFAULT_EVENTS)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.polars_memory:
        polars_memory_worker(args)
        return 0
    cells, skipped, trims = enumerate_cells(args)
    if args.list:
        for family, cid, shape, n, plan in cells:
            print(f"{cid:48s} {n:>12,} events")
        for cid, reason in skipped + trims:
            print(f"{cid:48s} skipped: {reason}")
        print(f"{len(cells)} cells ({sum(c[3] for c in cells):,} events); {len(skipped)} impossible shapes, {len(trims)} trimmed (--all runs them)")
        return 0

    if not cells:
        print("no cell to run" + (f": the {len(trims)} matching shapes are trimmed (add --all)" if trims else ""), file=sys.stderr)
        return 2
    threads_option = {"windows": C.takes_threads(C.fs.WindowAggregator), "sessions": C.takes_threads(C.fs.Sessionizer)}
    machine = R.machine_info(argv if argv is not None else sys.argv[1:], threads_option)
    for cid, reason in skipped:
        print(f"skip {cid}: {reason}", flush=True)
    if trims:
        print(f"{len(trims)} shapes trimmed from the default run (--all runs them): " + "; ".join(sorted({why for _, why in trims})), flush=True)
    started = time.perf_counter()
    results = []
    data_cache = {}  # the aggregates (and the window kind) do not change the data
    for i, (family, cid, shape, n, plan) in enumerate(cells, 1):
        t0, cpu0 = time.perf_counter(), time.process_time()
        data_key = (family, tuple((k, v) for k, v in shape.items() if k not in ("aggs", "window")))
        if data_key not in data_cache:
            table = None  # the previous cell's data goes before the next is made
            data_cache.clear()
            data_cache[data_key] = make_data(family, shape, plan, args.seed, n)
        table = data_cache[data_key]
        gen_s = time.perf_counter() - t0
        print(f"[{i}/{len(cells)}] {cid}: {table.num_rows:,} events (data {gen_s:.1f} s)", flush=True)
        cell = build_cell(family, cid, shape, table.num_rows, table, args, threads_option[family])
        cell.run(lambda msg: print(msg, flush=True))
        cell.use_polars_peaks(polars_memory_pass(cid, args))
        results.append(R.cell_record(cell, plan, time.perf_counter() - t0, time.process_time() - cpu0))
        print(R.cell_line(results[-1]), flush=True)
        del cell
    machine["load_end"] = os.getloadavg()
    machine["wall_s"] = time.perf_counter() - started
    report = R.markdown(results, skipped, trims, machine, args)
    print()
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n")
    if args.json:
        R.write_json(args.json, results, skipped, trims, machine)
    if args.readme:
        R.update_readme(args.readme, report)
    bad = [r["id"] for r in results if r["mismatch"]]
    if bad:
        print(f"\nMISMATCH in {len(bad)} cell(s): {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
