"""Contenders of the shape-matrix benchmark: fleetstream, and every way of polars and pandas.

Input: one pyarrow Table in arrival order (``ts`` timestamp[ms, UTC], ``key``, and ``value`` for
windows / ``page`` for sessions). Every way returns its result in the operator's output order
(windows: ``window_end``, then key; sessions: ``session_end``, key, ``session_start``), converting
from Arrow inside the timed region; ``canonical`` turns any result into one comparable Arrow table
after the clock has stopped.

A shape ``spec`` has ``window`` ("tumbling" | "hopping") and ``aggs`` ("count" | "full") for
windows, ``aggs`` ("count" | "full") for sessions.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

import fleetstream as fs

MINUTE_MS = 60_000
GAP_MS = 30 * MINUTE_MS
WINDOW_WATERMARK, SESSION_WATERMARK = "5s", "10s"
HOP_PANES = 5  # hopping windows: 5 minutes every minute, so every event is in 5 windows


def window_size_ms(spec) -> int:
    return HOP_PANES * MINUTE_MS if spec["window"] == "hopping" else MINUTE_MS


def takes_threads(operator_class) -> bool:
    """Whether the operator has a ``threads=`` option (fs.Sessionizer does; fs.WindowAggregator may)."""
    return "threads" in inspect.signature(operator_class.__init__).parameters


# ======================================================================================= fleetstream


def fleetstream_windows(batches, spec, threads):
    window = fs.Hopping(size="5m", step="1m") if spec["window"] == "hopping" else fs.Tumbling("1m")
    aggs = {"count": fs.count()}
    if spec["aggs"] == "full":
        aggs |= {"sum": fs.sum("value"), "max": fs.max("value")}
    options = {} if threads is None else {"threads": threads}
    op = fs.WindowAggregator(window=window, time="ts", key="key", aggs=aggs, watermark=WINDOW_WATERMARK, **options)
    outs = [op.push(batch) for batch in batches]
    outs.append(op.flush())
    return pa.concat_tables(outs), op


def fleetstream_sessions(batches, spec, threads):
    aggs = {"count": fs.count()}
    if spec["aggs"] == "full":
        aggs |= {"distinct": fs.count_distinct("page"), "first": fs.first("page"), "last": fs.last("page")}
    options = {} if threads is None else {"threads": threads}
    op = fs.Sessionizer(gap="30m", key="key", time="ts", watermark=SESSION_WATERMARK, aggs=aggs, **options)
    outs = [op.push(batch) for batch in batches]
    outs.append(op.flush())
    return pa.concat_tables(outs), op


# ============================================================================================ polars
# Lazy queries (the optimiser sees the whole plan), polars' default thread pool (both cores).


def _polars_window_aggs(spec, prefix=""):
    """Aggregates per window; prefix="pane_" re-aggregates 1-minute panes (sum of counts, ...)."""
    if prefix:
        out = [pl.col("count").sum().alias("count")]
        if spec["aggs"] == "full":
            out += [pl.col("sum").sum().alias("sum"), pl.col("max").max().alias("max")]
        return out
    out = [pl.len().alias("count")]
    if spec["aggs"] == "full":
        out += [pl.col("value").sum().alias("sum"), pl.col("value").max().alias("max")]
    return out


def _polars_finish(lf, spec):
    return lf.with_columns(window_end=pl.col("window_start") + window_size_ms(spec)).sort("window_end", "key").collect()


def _polars_minute(lf):
    ms = pl.col("ts").dt.epoch("ms")
    return lf.with_columns(minute=ms - ms % MINUTE_MS)


def polars_dynamic(table, spec):
    """Sort by time, then group_by_dynamic (offset -4m: windows start on every epoch-aligned minute)."""
    hopping = spec["window"] == "hopping"
    size = window_size_ms(spec)
    return (
        pl.from_arrow(table).lazy().sort("ts")
        .group_by_dynamic("ts", every="1m", period=f"{size // MINUTE_MS}m", offset="-4m" if hopping else "0m",
                          group_by="key", closed="left", label="left", start_by="window")
        .agg(_polars_window_aggs(spec)).rename({"ts": "window_start"})
        .with_columns(window_end=pl.col("window_start") + pl.duration(milliseconds=size)).sort("window_end", "key").collect()
    )  # fmt: skip


def polars_hash(table, spec):
    """Tumbling: floor-division window key, hash group-by, sort. Hopping: each event exploded into
    its 5 windows first."""
    lf = _polars_minute(pl.from_arrow(table).lazy())
    if spec["window"] == "hopping":
        lf = lf.with_columns(window_start=pl.int_ranges(pl.col("minute") - (HOP_PANES - 1) * MINUTE_MS,
                                                        pl.col("minute") + MINUTE_MS, MINUTE_MS)).explode("window_start")
    else:
        lf = lf.rename({"minute": "window_start"})
    return _polars_finish(lf.group_by("key", "window_start").agg(_polars_window_aggs(spec)), spec)


def _polars_panes(table, spec):
    return _polars_minute(pl.from_arrow(table).lazy()).group_by("key", "minute").agg(_polars_window_aggs(spec))


def polars_panes_exploded(table, spec):
    """Hopping: 1-minute panes (hash group-by), each pane into its 5 windows, re-aggregated."""
    lf = _polars_panes(table, spec).with_columns(
        window_start=pl.int_ranges(pl.col("minute") - (HOP_PANES - 1) * MINUTE_MS, pl.col("minute") + MINUTE_MS, MINUTE_MS)
    ).explode("window_start")
    return _polars_finish(lf.group_by("key", "window_start").agg(_polars_window_aggs(spec, "pane_")), spec)


def polars_panes_rolling(table, spec):
    """Hopping: 1-minute panes, then a rolling aggregate over 5 panes per key. Emits one window per
    non-empty pane (the window ending with it), so it misses windows whose last minute is empty: it
    only counts where its rows equal fleetstream's (checked)."""
    lf = (
        _polars_panes(table, spec).sort("key", "minute")
        .rolling("minute", period=f"{HOP_PANES * MINUTE_MS}i", group_by="key").agg(_polars_window_aggs(spec, "pane_"))
        .with_columns(window_start=pl.col("minute") - (HOP_PANES - 1) * MINUTE_MS).drop("minute")
    )  # fmt: skip
    return _polars_finish(lf, spec)


def polars_sessions_sorted(table, spec):
    """Stable sort by (key, ts); a new session where the key changes or the gap exceeds 30 min;
    cum_sum -> session id; group_by; sort into the operator's order."""
    new = (pl.col("key") != pl.col("key").shift()).fill_null(True) | (pl.col("ts").diff() > pl.duration(milliseconds=GAP_MS)).fill_null(True)
    lf = pl.from_arrow(table).lazy().sort("key", "ts", maintain_order=True).with_columns(session=new.cum_sum())
    return _polars_sessions_finish(lf.group_by("session"), spec, [pl.col("key").first()]).drop("session")


def polars_sessions_over(table, spec):
    """Stable sort by ts only; per key (``over``): gap > 30 min starts a session, cum_sum numbers
    them; hash group-by on (key, number)."""
    new = (pl.col("ts").diff().over("key") > pl.duration(milliseconds=GAP_MS)).fill_null(True)
    lf = pl.from_arrow(table).lazy().sort("ts", maintain_order=True).with_columns(new=new).with_columns(session=pl.col("new").cum_sum().over("key"))
    return _polars_sessions_finish(lf.group_by("key", "session"), spec, []).drop("session")


def _polars_sessions_finish(grouped, spec, extra):
    aggs = extra + [pl.col("ts").first().alias("session_start"), pl.col("ts").last().alias("session_end"), pl.len().alias("count")]
    if spec["aggs"] == "full":
        page = pl.col("page")
        aggs += [page.n_unique().alias("distinct"), page.first().alias("first"), page.last().alias("last")]
    return grouped.agg(aggs).sort("session_end", "key", "session_start").collect()


# ============================================================================================ pandas
# One thread. Each way runs with the default conversion (numpy int64 / datetime64, pandas' pyarrow
# backed "str") and with types_mapper=pd.ArrowDtype (zero-copy): the faster is the way's time.


def _to_pandas(table, arrow_dtypes):
    return table.to_pandas(types_mapper=pd.ArrowDtype) if arrow_dtypes else table.to_pandas()


def _pandas_aggs(spec, panes=False):
    if panes:
        out = {"count": ("count", "sum")}
        if spec["aggs"] == "full":
            out |= {"sum": ("sum", "sum"), "max": ("max", "max")}
        return out
    out = {"count": ("value", "size")}
    if spec["aggs"] == "full":
        out |= {"sum": ("value", "sum"), "max": ("value", "max")}
    return out


def _pandas_minute(df):
    ms = df["ts"].astype("int64")  # epoch ms: a view of the datetime64[ms] data
    return ms - ms % MINUTE_MS


def _pandas_explode(key, start, n_panes, extra):
    """Each row into the windows that contain its minute (start - k minutes, k < n_panes)."""
    rows = np.repeat(np.arange(len(start)), n_panes)
    cols = {"key": key.array.take(rows), "window_start": np.repeat(np.asarray(start), n_panes) - np.tile(np.arange(n_panes) * MINUTE_MS, len(start))}
    cols |= {name: col.array.take(rows) for name, col in extra.items()}
    return pd.DataFrame(cols)


def _pandas_finish(grouped, spec):
    out = grouped.reset_index()
    out["window_end"] = out["window_start"] + window_size_ms(spec)
    return out.sort_values(["window_end", "key"], ignore_index=True)


def pandas_hash(table, spec, arrow_dtypes):
    """Tumbling: floor-division window key, groupby, sort. Hopping: events exploded into 5 windows."""
    df = _to_pandas(table, arrow_dtypes)
    start = _pandas_minute(df)
    if spec["window"] == "hopping":
        df = _pandas_explode(df["key"], start, HOP_PANES, {"value": df["value"]})
        keys = ["key", "window_start"]
    else:
        keys = [df["key"], start.rename("window_start")]
    return _pandas_finish(df.groupby(keys, sort=False).agg(**_pandas_aggs(spec)), spec)


def pandas_panes(table, spec, arrow_dtypes):
    """Hopping: 1-minute panes (groupby), each pane into its 5 windows, re-aggregated."""
    df = _to_pandas(table, arrow_dtypes)
    panes = df.groupby([df["key"], _pandas_minute(df).rename("minute")], sort=False).agg(**_pandas_aggs(spec)).reset_index()
    exploded = _pandas_explode(panes["key"], panes["minute"], HOP_PANES, {c: panes[c] for c in panes.columns[2:]})
    return _pandas_finish(exploded.groupby(["key", "window_start"], sort=False).agg(**_pandas_aggs(spec, panes=True)), spec)


def pandas_sessions(table, spec, arrow_dtypes):
    """Stable sort by (key, ts); a new session where the key changes or the gap exceeds 30 min;
    cumsum -> session id; groupby; sort into the operator's order."""
    df = _to_pandas(table, arrow_dtypes).sort_values(["key", "ts"], kind="stable", ignore_index=True)
    ms, key = df["ts"].astype("int64"), df["key"]
    new = (key.ne(key.shift()).fillna(True) | ms.diff().gt(GAP_MS).fillna(True)).to_numpy(dtype=bool)
    aggs = {"key": ("key", "first"), "session_start": ("ts", "first"), "session_end": ("ts", "last"), "count": ("ts", "size")}
    if spec["aggs"] == "full":
        aggs |= {"distinct": ("page", "nunique"), "first": ("page", "first"), "last": ("page", "last")}
    sessions = df.groupby(new.cumsum(), sort=False).agg(**aggs)
    return sessions.sort_values(["session_end", "key", "session_start"], ignore_index=True)


# ======================================================================================== the ways
# (name, function(table, spec)) per library and family; "panes-rolling" is checked, never trusted.

def _pandas_variants(name, fn):
    return [(name, lambda t, s: fn(t, s, False)), (name + " [ArrowDtype]", lambda t, s: fn(t, s, True))]


def window_ways(library, spec):
    hopping = spec["window"] == "hopping"
    if library == "polars":
        ways = [("group_by_dynamic", polars_dynamic), ("explode+group_by" if hopping else "floor+group_by", polars_hash)]
        if hopping:
            ways += [("panes+explode", polars_panes_exploded), ("panes+rolling", polars_panes_rolling)]
        return ways
    ways = _pandas_variants("explode+groupby" if hopping else "floor+groupby", pandas_hash)
    return ways + (_pandas_variants("panes+explode", pandas_panes) if hopping else [])


def session_ways(library, spec):
    if library == "polars":
        return [("sort+diff+cum_sum+group_by", polars_sessions_sorted), ("sort ts+diff.over(key)+group_by", polars_sessions_over)]
    return _pandas_variants("sort+diff+cumsum+groupby", pandas_sessions)


UNTRUSTED_WAYS = {"panes+rolling"}  # eligible as a baseline only where its rows equal fleetstream's


# ========================================================================================= checking


def _as_arrow(result):
    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pl.DataFrame):
        return result.to_arrow()
    return pa.Table.from_pandas(result, preserve_index=False)


def canonical(result, family, spec) -> pa.Table:
    """key (string or int64), start / end as int64 ms, numbers as int64, pages as string."""
    if family == "windows":
        names = ["key", "window_start", "window_end", "count"] + (["sum", "max"] if spec["aggs"] == "full" else [])
    else:
        names = ["key", "session_start", "session_end", "count"] + (["distinct", "first", "last"] if spec["aggs"] == "full" else [])
    t = _as_arrow(result)
    cols = []
    for name in names:
        col = t.column(name)
        typ = col.type
        if isinstance(typ, pa.ExtensionType):
            col = col.cast(typ.storage_type)
            typ = col.type
        if pa.types.is_timestamp(typ):
            col = col.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ) or pa.types.is_dictionary(typ):
            col = col.cast(pa.string())
        else:
            col = col.cast(pa.int64())
        cols.append(col)
    return pa.table(cols, names=names).combine_chunks()


def compare(got: pa.Table, want: pa.Table) -> str:
    """"OK", or what differs: row counts and the first differing row (rows compared in order)."""
    if got.equals(want):
        return "OK"
    if got.num_rows != want.num_rows:
        head = f"{got.num_rows:,} rows vs {want.num_rows:,}"
    else:
        head = f"{got.num_rows:,} rows"
    n = min(got.num_rows, want.num_rows)
    first = n
    for name in want.column_names:
        a, b = got.column(name).slice(0, n), want.column(name).slice(0, n)
        same = a.to_numpy(zero_copy_only=False) == b.to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~same)
        if bad.size:
            first = min(first, int(bad[0]))
    if first < n:
        row = lambda t: {k: v[0] for k, v in t.slice(first, 1).to_pydict().items()}  # noqa: E731
        return f"{head}; first difference at row {first:,}: {row(got)} vs {row(want)}"
    return f"{head}; equal up to row {n:,}"
