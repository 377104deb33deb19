"""Verdicts and reports of the shape-matrix benchmark: targets per cell, markdown, JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Speed targets per family: (row field = baseline time / fleetstream time, minimum, label)
TARGETS = {
    "windows": [
        ("x_polars", 1.0, ">= 1x polars"),
        ("x_pandas", 3.0, ">= 3x pandas"),
    ],
    "sessions": [
        ("x_polars", 2.0, ">= 2x polars"),
        ("x_pandas", 5.0, ">= 5x pandas"),
    ],
}
BATCH_SLOWDOWN_MAX = 1.5  # fleetstream on 4,096-row batches at most 1.5x the time on 65,536-row ones
SMALL_BATCH, LARGE_BATCH = 4_096, 65_536


def machine_info(argv, threads_option) -> dict:
    import fleetstream
    import polars as pl

    def ver(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    core = Path(fleetstream.__file__).parent
    build = next(core.glob("_core*.so"), None)
    try:
        commit = subprocess.run(["git", "-C", str(core), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": "python benches/bench_shapes.py" + (" " + " ".join(argv) if argv else ""),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {n: ver(n) for n in ("fleetstream", "polars", "pandas", "pyarrow", "numpy")},
        "polars_threads": pl.thread_pool_size(),
        "fleetstream_build": f"{build} (built {time.strftime('%Y-%m-%d %H:%M', time.localtime(build.stat().st_mtime))}; checkout at {commit})" if build else "?",
        "threads_option": threads_option,
        "load_start": os.getloadavg(),
    }


def _baseline(contenders, library):
    """The fastest way of ``library`` whose rows equal fleetstream's."""
    ok = [(c["median_s"], name) for name, c in contenders.items() if c["kind"] == library and c["check"] == "OK"]
    return min(ok)[1] if ok else None


def cell_record(cell, plan, cell_seconds, cell_cpu_seconds) -> dict:
    from _shape_contenders import UNTRUSTED_WAYS

    contenders = {name: {k: v for k, v in c.items() if k not in ("fn", "warm", "warm_tag")} for name, c in cell.contenders.items()}
    problems, excluded = [], []
    for name, c in contenders.items():
        if c["check"] in ("OK", "reference"):
            continue
        if c.get("way") in UNTRUSTED_WAYS:
            excluded.append(f"{name} ({c['check']})")
        else:
            problems.append(f"{name}: {c['check']}")
    baselines = {lib: _baseline(contenders, lib) for lib in ("polars", "pandas")}
    rows = []
    fs_by_batch = {}
    for batch_size in sorted({c["batch_size"] for c in contenders.values() if c["kind"] == "fleetstream"}):
        by_threads = {c["threads"]: (name, c) for name, c in contenders.items() if c["kind"] == "fleetstream" and c["batch_size"] == batch_size}
        best_name, best = min(by_threads.values(), key=lambda nc: nc[1]["median_s"])  # polars has both cores: so may fleetstream
        fs_by_batch[batch_size] = best
        row = {"batch_size": batch_size, "fleetstream": best_name, "fs_1t_eps": by_threads.get(1, by_threads.get(None))[1]["events_per_s"],
               "fs_2t_eps": by_threads[2][1]["events_per_s"] if 2 in by_threads else None, "fs_peak_mb": best["peak_mb"]}  # fmt: skip
        for lib, way in baselines.items():
            if way:
                row[f"x_{lib}"] = contenders[way]["median_s"] / best["median_s"]
        rows.append(row)
    for row in rows:
        small, large = fs_by_batch.get(SMALL_BATCH), fs_by_batch.get(LARGE_BATCH)
        if row["batch_size"] == SMALL_BATCH and small and large:
            row["batch_slowdown"] = small["median_s"] / large["median_s"]
        if baselines["polars"]:
            row["below_polars_mb"] = row["fs_peak_mb"] < contenders[baselines["polars"]]["peak_mb"]
    return {
        "id": cell.id, "family": cell.family, "shape": cell.shape, "events": cell.n, "plan": plan, "cell_seconds": cell_seconds, "cell_cpu_seconds": cell_cpu_seconds,
        "contenders": contenders, "baselines": baselines, "rows": rows, "problems": problems, "excluded": excluded,
        "mismatch": bool(problems) or not all(baselines.values()),
    }  # fmt: skip


def verdicts(record, row) -> dict:
    """target label -> (met, value) for one row (cell x batch size)."""
    out = {}
    for key, want, label in TARGETS[record["family"]]:
        if key in row:
            out[label] = (row[key] >= want, row[key])
    if "batch_slowdown" in row:
        out[f"4k <= {BATCH_SLOWDOWN_MAX}x 64k"] = (row["batch_slowdown"] <= BATCH_SLOWDOWN_MAX, row["batch_slowdown"])
    if "below_polars_mb" in row:
        polars_mb = record["contenders"][record["baselines"]["polars"]]["peak_mb"]
        out["peak < polars"] = (row["below_polars_mb"], row["fs_peak_mb"] - polars_mb)
    return out


def _eps(x):
    return "n/a" if x is None else f"{x / 1e6:,.1f}M" if x >= 1e6 else f"{x / 1e3:,.0f}k"


def _shape_cells(record):
    s = record["shape"]
    if record["family"] == "windows":
        return [s["window"], "count" if s["aggs"] == "count" else "count+sum+max", f"{s['keys']:,}", s["key_type"], f"{s['density']:,}", f"{s['disorder_s']} s"]
    aggs = "count" if s["aggs"] == "count" else "count+distinct+first+last"
    return [f"{s['users']:,}", s["key_type"], f"{s['events_per_session']}", f"{s['disorder_s']} s", aggs]


SHAPE_HEADS = {
    "windows": ["window", "aggs", "keys", "key type", "events/key-min", "disorder"],
    "sessions": ["users", "key type", "events/session", "disorder", "aggs"],
}


def cell_line(record) -> str:
    parts = [record["id"], f"{record['events']:,} ev", f"{record['cell_seconds']:.1f} s (cpu {record['cell_cpu_seconds']:.1f} s)"]
    for row in record["rows"]:
        v = verdicts(record, row)
        parts.append(f"b{row['batch_size']}: fs {_eps(row['fs_1t_eps'])}/{_eps(row['fs_2t_eps'])} ev/s " + " ".join(
            f"{label} {'✔' if met else '✘'}({value:.2f})" for label, (met, value) in v.items()))
    if record["problems"]:
        parts.append("MISMATCH: " + "; ".join(record["problems"]))
    return " | ".join(parts)


def _family_table(records, family):
    heads = SHAPE_HEADS[family] + ["events", "batch", "fs 1 thread ev/s", "fs 2 threads ev/s", "polars best way (s)", "pandas best way (s)",
                                   "fs / polars", "fs / pandas", "4k / 64k time", "peak MB fs / polars / pandas", "check"]  # fmt: skip
    labels = [label for _, _, label in TARGETS[family]] + [f"4k <= {BATCH_SLOWDOWN_MAX}x 64k", "peak < polars"]
    lines = ["| " + " | ".join(heads + labels) + " |", "|" + "---|" * (len(heads) + len(labels))]
    for rec in records:
        c = rec["contenders"]
        base = {lib: c[w] if w else None for lib, w in rec["baselines"].items()}
        for row in rec["rows"]:
            v = verdicts(rec, row)
            way = lambda lib: f"{base[lib]['way']} ({base[lib]['median_s']:.3f})" if base[lib] else "none correct"  # noqa: E731
            peaks = " / ".join(f"{x['peak_mb']:,.0f}" if x else "-" for x in (c[row["fleetstream"]], base["polars"], base["pandas"]))
            check = "MISMATCH: " + "; ".join(rec["problems"]) if rec["problems"] else "OK"
            if rec["excluded"]:
                check += "; excluded (rows differ): " + ", ".join(e.split(" (")[0] for e in rec["excluded"])
            cells = _shape_cells(rec) + [
                f"{rec['events']:,}", f"{row['batch_size']:,}", _eps(row["fs_1t_eps"]), _eps(row["fs_2t_eps"]), way("polars"), way("pandas"),
                f"{row['x_polars']:.2f}" if "x_polars" in row else "-", f"{row['x_pandas']:.2f}" if "x_pandas" in row else "-",
                f"{row['batch_slowdown']:.2f}" if "batch_slowdown" in row else "-", peaks, check,
            ]  # fmt: skip
            cells += [("✔" if v[label][0] else "✘") if label in v else "-" for label in labels]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def _summary(records, family):
    out = []
    labels = [label for _, _, label in TARGETS[family]] + [f"4k <= {BATCH_SLOWDOWN_MAX}x 64k", "peak < polars"]
    for label in labels:
        seen = [(value, met, rec["id"], row["batch_size"]) for rec in records for row in rec["rows"] for lab, (met, value) in verdicts(rec, row).items() if lab == label]
        if not seen:
            continue
        met = sum(1 for _, m, _, _ in seen if m)
        # the worst cell: smallest ratio, or largest slowdown / memory excess
        worst = max(seen) if label.startswith("4k") or label.startswith("peak") else min(seen)
        unit = " MB above polars" if label.startswith("peak") else "x"
        verdict = "MET" if met == len(seen) else "**NOT MET**"
        out.append(f"- {family} `{label}`: {verdict} (met in {met} of {len(seen)} rows); worst {worst[2]} (batch {worst[3]:,}): {worst[0]:,.2f}{unit}")
    return out


def _ways_won(records, family):
    wins = {}
    for rec in records:
        for lib, way in rec["baselines"].items():
            if way:
                wins.setdefault(lib, {}).setdefault(rec["contenders"][way]["way"], 0)
                wins[lib][rec["contenders"][way]["way"]] += 1
    return [f"- {family}, {lib}: " + ", ".join(f"{w} fastest in {n}" for w, n in sorted(ws.items(), key=lambda kv: -kv[1])) for lib, ws in wins.items()]


def markdown(records, skipped, trims, machine, args) -> str:
    m = machine
    lines = [
        "# fleetstream shape matrix",
        "",
        f"`{m['command']}`, {m['date']}; {len(records)} cells in {m['wall_s'] / 60:.1f} min, seed {args.seed}, median of {args.repeat} runs.",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}; load average (1/5/15 min) "
        f"at start {'/'.join(f'{x:.1f}' for x in m['load_start'])}, at end {'/'.join(f'{x:.1f}' for x in m['load_end'])}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + f"; polars thread pool {m['polars_threads']}.",
        f"fleetstream: {m['fleetstream_build']}; threads= option: "
        + ", ".join(f"{fam} {'yes' if ok else 'no (n/a)'}" for fam, ok in m["threads_option"].items()) + ".",
    ]  # fmt: skip
    for family in ("windows", "sessions"):
        recs = [r for r in records if r["family"] == family]
        if not recs:
            continue
        lines += ["", f"## {family}", ""] + _family_table(recs, family)
        lines += ["", f"Targets ({family}):"] + _summary(recs, family) + ["", "Fastest correct way:"] + _ways_won(recs, family)
        if family == "sessions":
            big = [r for r in recs if r["shape"]["users"] >= 10_000_000]
            if big:
                ok = [r for r in big if not r["problems"]]
                peak = max(c["peak_mb"] for r in big for c in r["contenders"].values() if c["kind"] == "fleetstream")
                lines.append(f"- 10M users fit: {'MET' if len(ok) == len(big) else '**NOT MET**'} ({len(ok)}/{len(big)} cells correct; fleetstream peak up to {peak:,.0f} MB)")
            else:
                lines.append("- 10M users fit: not measured (no 10M-user cell in this run)")
    if skipped:
        reasons = {}
        for cid, reason in skipped:
            reasons.setdefault(reason.split(" needs ")[0].split(" is ")[0], []).append(cid)
        lines += ["", f"Impossible shapes skipped ({len(skipped)}): " + "; ".join(f"{why} ({len(ids)} shapes)" for why, ids in reasons.items())]
    if trims:
        whys = sorted({why for _, why in trims})
        lines += ["", f"Trimmed from the default run ({len(trims)} shapes, `--all` runs them): " + "; ".join(whys) + "."]
    lines += ["", *NOTES]
    return "\n".join(lines)


NOTES = [
    "How it is measured (benches/README.md has the details):",
    "- One process; every cell's contenders get the same Arrow table (times `timestamp[ms, tz=UTC]`). fleetstream gets it",
    "  pre-sliced into RecordBatches of the row's batch size (sliced before the clock), pushes each, flushes and",
    "  concatenates its outputs; polars (`pl.from_arrow`, lazy, both cores) and pandas (`to_pandas`, default or",
    "  `pd.ArrowDtype` types) convert inside the timed region and end with rows in the operator's order.",
    "- Every way of a library runs; its baseline is the fastest way whose rows equal fleetstream's (row by row, in",
    "  order, after converting to key, start/end ms, int64 numbers). A way that differs is a MISMATCH (exit status 1),",
    "  except `panes+rolling`, which is known to drop windows whose last minute is empty and is then only excluded.",
    "- Time: median of the runs, the contenders interleaved round by round, after one warm-up per contender and process",
    "  on 2,000 events. fleetstream's ratios use the faster of its 1- and 2-thread runs at that batch size.",
    "- Peak MB: VmHWM after the run minus VmRSS before it (the high-water mark reset through /proc/self/clear_refs,",
    "  Arrow's and glibc's free memory returned first); the largest of the runs. polars' jemalloc keeps freed pages",
    "  resident (a later polars run in the process then shows little growth), so polars' peaks come from one more",
    "  untimed run of each way in a child process per cell with `_RJEM_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0`",
    "  (the in-process figures are in the JSON as `peak_mb_in_process`). Peaks of a few MB are at the allocators'",
    "  resolution (pages, arenas): `peak < polars` between single-digit figures is noise.",
    "- Disorder is strictly below the watermark (5 s windows, 10 s sessions): no event is late, fleetstream's late and",
    "  rejected outputs are checked empty, and streaming results equal the batch results of polars and pandas.",
]


def write_json(path, records, skipped, trims, machine):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine, "cells": records, "skipped": [{"id": c, "reason": r} for c, r in skipped], "trimmed": [{"id": c, "reason": r} for c, r in trims]}
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


README_BEGIN, README_END = "<!-- bench_shapes:begin -->", "<!-- bench_shapes:end -->"


def update_readme(path, report):
    """Put the report (headings two levels down) between the README's markers."""
    text = path.read_text()
    begin, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    body = "\n".join("##" + line if line.startswith("#") else line for line in report.splitlines())
    path.write_text(text[:begin] + "\n" + body + "\n" + text[end:])
