"""Property tests: ``fs.WindowAggregator`` against the pure-Python reference over random streams.

Streams are random in every dimension the specification names: tumbling/hopping windows with offsets,
bounded and unbounded disorder, watermark and allowed lateness, keys (none, str, int, two columns, with
nulls), every aggregate, rejected rows, time columns of every Arrow unit, batch cuts with empty batches,
snapshot/restore between pushes, and pyarrow/polars/pandas inputs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleetstream as fs


from . import reference as ref

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# name -> (reference aggregate, fleetstream aggregate factory)
AGG_CATALOG = {
    "n": (ref.count(), lambda: fs.count()),
    "nx": (ref.count("x"), lambda: fs.count("x")),
    "sx": (ref.sum_("x"), lambda: fs.sum("x")),
    "sf": (ref.sum_("f"), lambda: fs.sum("f")),
    "lox": (ref.min_("x"), lambda: fs.min("x")),
    "lof": (ref.min_("f"), lambda: fs.min("f")),
    "hix": (ref.max_("x"), lambda: fs.max("x")),
    "hif": (ref.max_("f"), lambda: fs.max("f")),
    "mx": (ref.mean("x"), lambda: fs.mean("x")),
    "mf": (ref.mean("f"), lambda: fs.mean("f")),
    "dx": (ref.count_distinct("x"), lambda: fs.count_distinct("x")),
    "df": (ref.count_distinct("f"), lambda: fs.count_distinct("f")),
    "ds": (ref.count_distinct("service"), lambda: fs.count_distinct("service")),
    "fm": (ref.first("msg"), lambda: fs.first("msg")),
    "lm": (ref.last("msg"), lambda: fs.last("msg")),
    "fs": (ref.first("service"), lambda: fs.first("service")),
    "lx": (ref.last("x"), lambda: fs.last("x")),
}
QUANTILES = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]

KEY_MODES = {
    "none": None,
    "str": "service",
    "int": "host",
    "two": ["service", "host"],
}
TIME_TYPES = {
    "int64": pa.int64(),
    "ms": pa.timestamp("ms"),
    "ms_utc": pa.timestamp("ms", tz="UTC"),
    "s": pa.timestamp("s"),
    "us": pa.timestamp("us", tz="Europe/Paris"),
    "ns": pa.timestamp("ns"),
}


# --------------------------------------------------------------------------------- a random case


@dataclass
class Case:
    size: int
    step: int
    offset: int
    hopping: bool
    bound: int
    lateness: int
    key_mode: str
    aggs: dict  # name -> (ref agg, fs factory)
    time_type: str
    source: str  # pyarrow | batch | polars | pandas
    raw_times: list  # in the unit of time_type (None = null)
    services: list
    hosts: list
    xs: list
    fs_: list
    cuts: list  # batch sizes, may contain 0
    snapshots: set = field(default_factory=set)  # snapshot/restore after these batch indices

    @property
    def n(self) -> int:
        return len(self.raw_times)


def _ms_to_unit(ms: int, unit: str, sub: int) -> int:
    if unit == "s":
        return ms // 1000
    if unit == "us":
        return ms * 1000 + sub % 1000
    if unit == "ns":
        return ms * 1_000_000 + sub
    return ms


@st.composite
def cases(draw, *, max_events=60, bounded=None, sources=("pyarrow", "batch", "polars", "pandas")):
    hopping = draw(st.booleans())
    if hopping:
        step = draw(st.integers(1, 12))
        size = draw(st.one_of(st.integers(1, 4).map(lambda m: m * step), st.integers(step, 40)))
    else:
        size = step = draw(st.integers(1, 30))
    offset = draw(st.integers(0, step - 1))
    bound = draw(st.integers(0, 40))
    lateness = draw(st.sampled_from([0, 0, 1, 5, 17]))
    key_mode = draw(st.sampled_from(sorted(KEY_MODES)))
    names = draw(st.lists(st.sampled_from(sorted(AGG_CATALOG) + ["q"]), min_size=1, max_size=6, unique=True))
    aggs = {}
    for name in names:
        if name == "q":
            q = draw(st.sampled_from(QUANTILES))
            col = draw(st.sampled_from(["x", "f"]))
            aggs[name] = (ref.quantile(col, q), lambda col=col, q=q: fs.quantile(col, q))
        else:
            aggs[name] = AGG_CATALOG[name]
    time_type = draw(st.sampled_from(sorted(TIME_TYPES)))
    source = draw(st.sampled_from(sources))
    n = draw(st.integers(0, max_events))
    if bounded is None:
        bounded = draw(st.booleans())
    if bounded:
        disorder = draw(st.integers(0, 60))
        steps = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
        jitter = draw(st.lists(st.integers(0, disorder), min_size=n, max_size=n))
        base, ms_times = 0, []
        for s_, j in zip(steps, jitter):
            base += s_
            ms_times.append(base + j)
    else:
        ms_times = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    # sprinkle rejects and a few extremes
    specials = draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.sampled_from(["null", "neg", "huge"])), max_size=3))
    raw_ms: list = list(ms_times)
    for i, kind in specials:
        if i < n:
            if kind == "null":
                raw_ms[i] = None
            elif kind == "neg":
                raw_ms[i] = -draw(st.integers(1, 5_000))
            elif time_type != "ns":  # ns cannot express year 10000
                raw_ms[i] = ref.MAX_TIME_MS + draw(st.sampled_from([1, 1_000, 10**15]))
    unit = "ms" if time_type == "int64" else TIME_TYPES[time_type].unit
    subs = draw(st.lists(st.integers(0, 999_999), min_size=n, max_size=n))
    raw_times = [None if t is None else _ms_to_unit(t, unit, s_) for t, s_ in zip(raw_ms, subs)]
    services = draw(st.lists(st.sampled_from([None, "a", "b", "ab", "B", "é", ""]), min_size=n, max_size=n))
    hosts = draw(st.lists(st.sampled_from([None, -2, 0, 1, 7]), min_size=n, max_size=n))
    xs = draw(st.lists(st.one_of(st.none(), st.integers(-100, 100)), min_size=n, max_size=n))
    # multiples of 1/4 keep float sums exact whatever order they are added in
    fs_ = draw(st.lists(st.one_of(st.none(), st.integers(-4000, 4000).map(lambda i: i / 4)), min_size=n, max_size=n))
    cuts = []
    left = n
    while left > 0 or (not cuts and draw(st.booleans())):
        c = draw(st.integers(0, left)) if left else 0
        cuts.append(c)
        left -= c
        if len(cuts) > 30:
            cuts.append(left)
            break
    snapshots = set(draw(st.lists(st.integers(0, max(len(cuts) - 1, 0)), max_size=4)))
    return Case(
        size, step, offset, hopping, bound, lateness, key_mode, aggs, time_type, source,
        raw_times, services, hosts, xs, fs_, cuts, snapshots,
    )  # fmt: skip


# --------------------------------------------------------------------------------- running both


def arrow_table(case: Case, lo: int, hi: int) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array(case.raw_times[lo:hi], TIME_TYPES[case.time_type]),
            "service": pa.array(case.services[lo:hi], pa.string()),
            "host": pa.array(case.hosts[lo:hi], pa.int64()),
            "x": pa.array(case.xs[lo:hi], pa.int64()),
            "f": pa.array(case.fs_[lo:hi], pa.float64()),
            "msg": pa.array([f"m{i}" for i in range(lo, hi)], pa.string()),
        }
    )


def as_source(table: pa.Table, source: str):
    if source == "pyarrow":
        return table
    if source == "batch":
        batches = table.to_batches()
        return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
    if source == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if source == "pandas":
        import pandas as pd

        return table.to_pandas(types_mapper=pd.ArrowDtype)
    raise AssertionError(source)


def make_pair(case: Case, watermark=None, lateness=None):
    window_fs = (
        fs.Hopping(size=case.size, step=case.step, offset=case.offset)
        if case.hopping
        else fs.Tumbling(case.size, offset=case.offset)
    )
    window_ref = (
        ref.Hopping(case.size, case.step, case.offset) if case.hopping else ref.Tumbling(case.size, case.offset)
    )
    key = KEY_MODES[case.key_mode]
    agg_fs = fs.WindowAggregator(
        window=window_fs,
        time="ts",
        key=key,
        aggs={name: factory() for name, (_, factory) in case.aggs.items()},
        watermark=case.bound if watermark is None else watermark,
        allowed_lateness=case.lateness if lateness is None else lateness,
    )
    agg_ref = ref.WindowAggregator(
        window_ref,
        time="ts",
        key=key,
        aggs={name: r for name, (r, _) in case.aggs.items()},
        watermark=case.bound,
        allowed_lateness=case.lateness,
    )
    return agg_fs, agg_ref


def _canon(rows, drop=("reason",)):
    return sorted((tuple(sorted((k, repr(v)) for k, v in r.items() if k not in drop)) for r in rows))


def _check_reasons(rows):
    for r in rows:
        assert isinstance(r.get("reason"), str) and r["reason"], r


def run_fs(case: Case, cuts=None, snapshots=None, agg=None):
    """Push the case through fleetstream; return (per-push outputs as row lists, flush rows, late, rejects)."""
    agg = agg if agg is not None else make_pair(case)[0]
    cuts = case.cuts if cuts is None else cuts
    snapshots = case.snapshots if snapshots is None else snapshots
    outs, late, rejects, lo = [], [], [], 0
    for i, c in enumerate(cuts):
        table = arrow_table(case, lo, lo + c)
        out = agg.push(as_source(table, case.source))
        assert isinstance(out, pa.Table), type(out)
        outs.append(ref.table_rows(out))
        late += ref.table_rows(agg.take_late())
        rej = ref.table_rows(agg.take_rejects())
        for r in rej:
            r["row"] += lo  # make indices global for comparison
        rejects += rej
        lo += c
        if i in snapshots:
            agg = type(agg).restore(agg.snapshot())
    flushed = ref.table_rows(agg.flush())
    late += ref.table_rows(agg.take_late())
    rejects += ref.table_rows(agg.take_rejects())
    return outs, flushed, late, rejects


def run_ref(case: Case, cuts=None):
    agg = make_pair(case)[1]
    cuts = case.cuts if cuts is None else cuts
    full = arrow_table(case, 0, case.n)
    events = ref.table_rows(full) if case.n else []
    outs, late, rejects, lo = [], [], [], 0
    for c in cuts:
        outs.append(agg.push(events[lo : lo + c]))
        late += agg.take_late()
        rej = agg.take_rejects()
        for r in rej:
            r["row"] += lo
        rejects += rej
        lo += c
    return outs, agg.flush(), late, rejects


def assert_matches_reference(case: Case):
    got_outs, got_flush, got_late, got_rej = run_fs(case)
    exp_outs, exp_flush, exp_late, exp_rej = run_ref(case)
    for i, (g, e) in enumerate(zip(got_outs, exp_outs)):
        assert ref.rows_equal(g, e), f"push {i}: {ref.first_difference(g, e)}"
    assert ref.rows_equal(got_flush, exp_flush), f"flush: {ref.first_difference(got_flush, exp_flush)}"
    _check_reasons(got_late)
    assert _canon(got_late) == _canon(exp_late)
    _check_reasons(got_rej)
    assert _canon(got_rej) == _canon(exp_rej)


# --------------------------------------------------------------------------------- properties


@SETTINGS
@given(cases(bounded=True))
def test_matches_reference_bounded_disorder(case):
    assert_matches_reference(case)


@SETTINGS
@given(cases(bounded=False))
def test_matches_reference_unbounded_disorder(case):
    assert_matches_reference(case)


@settings(max_examples=40, deadline=None)
@given(cases(max_events=120, sources=("pyarrow",)), st.randoms(use_true_random=False))
def test_output_independent_of_batch_cuts_and_snapshots(case, rnd):
    def concat(outs, flush):
        return [r for out in outs for r in out] + flush

    outs, flush, late, rej = run_fs(case, cuts=[case.n], snapshots=set())
    whole = concat(outs, flush)
    for _ in range(3):
        cuts, left = [], case.n
        while left:
            c = rnd.randint(0, min(left, 25))
            cuts.append(c)
            left -= c
        cuts.append(0)
        snaps = {i for i in range(len(cuts)) if rnd.random() < 0.3}
        outs2, flush2, late2, rej2 = run_fs(case, cuts=cuts, snapshots=snaps)
        assert ref.rows_equal(concat(outs2, flush2), whole), ref.first_difference(concat(outs2, flush2), whole)
        assert _canon(late2) == _canon(late)
        assert _canon(rej2, drop=("reason", "row")) == _canon(rej, drop=("reason", "row"))


@settings(max_examples=40, deadline=None)
@given(cases(sources=("pyarrow",)))
def test_tumbling_conservation(case):
    """Tumbling, global count: every pushed row is counted once, late once, or rejected once."""
    case.hopping, case.step, case.key_mode = False, case.size, "none"
    case.aggs = {"n": AGG_CATALOG["n"]}
    outs, flush, late, rej = run_fs(case)
    counted = sum(r["n"] for out in outs for r in out) + sum(r["n"] for r in flush)
    assert counted + len(late) + len(rej) == case.n


@settings(max_examples=30, deadline=None)
@given(cases(sources=("pyarrow",), max_events=40))
def test_durations_in_every_form_agree(case):
    forms = [
        (case.bound, case.lateness),
        (f"{case.bound}ms", f"{case.lateness}ms"),
        (timedelta(milliseconds=case.bound), timedelta(milliseconds=case.lateness)),
    ]
    results = []
    for wm, late in forms:
        agg = make_pair(case, watermark=wm, lateness=late)[0]
        outs, flush, late_rows, _ = run_fs(case, agg=agg, snapshots=set())
        results.append(([r for o in outs for r in o] + flush, _canon(late_rows)))
    for other in results[1:]:
        assert ref.rows_equal(other[0], results[0][0]) and other[1] == results[0][1]


# --------------------------------------------------------------------------------- fixed checks


def test_output_schema():
    table = pa.table(
        {
            "ts": pa.array([1_000, 2_000, 61_000], pa.timestamp("us", tz="UTC")),
            "service": pa.array(["a", None, "a"], pa.string()),
            "host": pa.array([1, 2, None], pa.int32()),
            "x": pa.array([1, None, 3], pa.int64()),
            "f": pa.array([0.5, 1.5, None], pa.float64()),
        }
    )
    agg = fs.WindowAggregator(
        window=fs.Tumbling("1m"),
        time="ts",
        key=["service", "host"],
        aggs={
            "n": fs.count(),
            "nx": fs.count("x"),
            "sx": fs.sum("x"),
            "sf": fs.sum("f"),
            "lox": fs.min("x"),
            "hif": fs.max("f"),
            "mx": fs.mean("x"),
            "q": fs.quantile("f", 0.5),
        },
        watermark="5s",
    )
    out = pa.concat_tables([agg.push(table), agg.flush()])
    ts_type = pa.timestamp("ms", tz="UTC")
    assert out.schema.names == ["service", "host", "window_start", "window_end", "n", "nx", "sx", "sf", "lox", "hif", "mx", "q"]
    assert [f.type for f in out.schema] == [
        pa.string(), pa.int32(), ts_type, ts_type, pa.int64(), pa.int64(), pa.int64(), pa.float64(),
        pa.int64(), pa.float64(), pa.float64(), pa.float64(),
    ]  # fmt: skip
    assert out.num_rows == 3


def test_empty_push_and_flush_keep_schema():
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), time="ts", key="service", aggs={"errors": fs.count()})
    empty = pa.table({"ts": pa.array([], pa.int64()), "service": pa.array([], pa.string())})
    out = agg.push(empty)
    assert out.num_rows == 0
    assert "window_start" in out.schema.names and "errors" in out.schema.names
    assert agg.flush().num_rows == 0
    assert agg.take_late().num_rows == 0
    assert agg.take_rejects().num_rows == 0


def test_rejects_giant_key_and_out_of_range_times():
    big = "k" * (64 * 1024 + 100)
    table = pa.table(
        {
            "ts": pa.array([5, None, -1, ref.MAX_TIME_MS + 1, 7, ref.MAX_TIME_MS], pa.int64()),
            "service": pa.array(["a", "a", "a", "a", big, "a"], pa.string()),
        }
    )
    agg = fs.WindowAggregator(window=fs.Tumbling(10), time="ts", key="service", aggs={"n": fs.count()})
    out = pa.concat_tables([agg.push(table), agg.flush()])
    rej = agg.take_rejects()
    assert rej.column("row").type == pa.int64()
    assert rej.column("row").to_pylist() == [1, 2, 3, 4]
    assert {"ts", "service", "row", "reason"} <= set(rej.schema.names)
    assert ref.table_rows(out.select(["service", "window_start", "n"])) == [
        {"service": "a", "window_start": 0, "n": 1},
        {"service": "a", "window_start": ref.MAX_TIME_MS - 9, "n": 1},
    ]


@pytest.mark.parametrize(
    "key_cols, rejected",
    [
        ({"service": "k" * 65_536}, False),  # exactly 64 KiB: not larger
        ({"service": "k" * 65_537}, True),
        ({"service": "é" * 32_768}, False),  # 65,536 UTF-8 bytes
        ({"service": "é" * 32_769}, True),
        ({"service": "k" * 32_768, "host": "h" * 32_768}, False),  # the key's columns together
        ({"service": "k" * 32_768, "host": "h" * 32_769}, True),
    ],
)
def test_key_size_limit_is_64_kib_of_key_data(key_cols, rejected):
    agg = fs.WindowAggregator(window=fs.Tumbling(10), time="ts", key=list(key_cols), aggs={"n": fs.count()})
    agg.push(pa.table({"ts": pa.array([1], pa.int64()), **{k: pa.array([v], pa.string()) for k, v in key_cols.items()}}))
    assert agg.take_rejects().num_rows == int(rejected)
    assert agg.flush().num_rows == int(not rejected)


def test_late_rows_keep_original_columns_and_types():
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), time="ts", key="service", aggs={"n": fs.count()}, watermark="5s")
    ts = pa.timestamp("ms", tz="UTC")
    agg.push(pa.table({"ts": pa.array([10_000, 70_000], ts), "service": ["a", "a"], "msg": ["x", "y"]}))
    agg.push(pa.table({"ts": pa.array([20_000], ts), "service": ["b"], "msg": ["late"]}))
    late = agg.take_late()
    assert late.num_rows == 1
    assert late.schema.field("ts").type == ts
    row = ref.table_rows(late)[0]
    assert (row["ts"], row["service"], row["msg"], row["window_start"], row["window_end"]) == (20_000, "b", "late", 0, 60_000)


def test_snapshot_is_bytes_and_restores_mid_stream():
    agg = fs.WindowAggregator(window=fs.Hopping(size="5m", step="1m"), time="ts", key="service", aggs={"n": fs.count()}, watermark="5s")
    agg.push(pa.table({"ts": pa.array([1_000, 61_000], pa.int64()), "service": ["a", "b"]}))
    state = agg.snapshot()
    assert isinstance(state, bytes)
    again = fs.WindowAggregator.restore(state)
    rest_a = ref.table_rows(agg.flush())
    rest_b = ref.table_rows(again.flush())
    assert rest_a == rest_b and len(rest_a) == 10


@pytest.mark.parametrize("bad", [b"", b"not a snapshot", b"\x00" * 64])
def test_restore_garbage_raises_snapshot_error(bad):
    from fleetstream.exceptions import SnapshotError

    with pytest.raises(SnapshotError):
        fs.WindowAggregator.restore(bad)


def test_seeded_long_stream_matches_reference():
    """One longer stream than hypothesis draws: 20k events, hopping, two keys, every aggregate."""
    rng = random.Random(2024)
    n = 20_000
    times = [max(0, i * 3 + rng.randint(-50, 50)) if rng.random() > 0.001 else rng.randint(0, n * 3) for i in range(n)]
    case = Case(
        size=60, step=20, offset=7, hopping=True, bound=40, lateness=10, key_mode="two",
        aggs={**AGG_CATALOG, "q": (ref.quantile("f", 0.9), lambda: fs.quantile("f", 0.9))},
        time_type="ms_utc", source="pyarrow", raw_times=times,
        services=[rng.choice([None, "api", "db", "web"]) for _ in range(n)],
        hosts=[rng.choice([None, 1, 2]) for _ in range(n)],
        xs=[rng.choice([None, rng.randint(-1000, 1000)]) for _ in range(n)],
        fs_=[rng.choice([None, rng.randint(-4000, 4000) / 4]) for _ in range(n)],
        cuts=[4096] * (n // 4096) + [n % 4096], snapshots={1, 3},
    )  # fmt: skip
    assert_matches_reference(case)
