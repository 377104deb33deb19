"""Property tests: ``fs.SpikeDetector`` against the pure-Python reference.

Window streams are random per key (gaps = missing windows, keys appearing late, spikes), for the three
rules with random parameters and cooldown, cut into random batches with snapshot/restore between pushes.
A last group runs the whole pipeline (WindowAggregator -> SpikeDetector) on random events.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleetstream as fs


from . import reference as ref

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TS = pa.timestamp("ms", tz="UTC")
KEY_MODES = {"none": None, "str": "service", "int": "host", "two": ["service", "host"]}


@dataclass
class SpikeCase:
    rule: str
    params: dict  # history, factor, floor, cooldown, threshold/alpha
    key_mode: str
    step: int
    size: int  # window_end - window_start (> step for hopping windows)
    rows: list  # reference rows, ordered by window_end then key
    cuts: list
    snapshots: set
    value_type: pa.DataType


@st.composite
def values(draw, spiky):
    if spiky and draw(st.integers(0, 9)) == 0:
        return draw(st.integers(50, 500))
    return draw(st.integers(0, 30))


@st.composite
def spike_cases(draw, max_windows=40):
    rule = draw(st.sampled_from(ref.RULES))
    params = {
        "history": draw(st.integers(1, 6)),
        "floor": draw(st.sampled_from([0, 5, 20])),
        "cooldown": draw(st.sampled_from([0, 0, 1, 3])),
    }
    if rule == "zscore":
        params["threshold"] = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]))
    else:
        params["factor"] = draw(st.sampled_from([1.5, 2.0, 3.0]))
    if rule == "ewma":
        params["alpha"] = draw(st.sampled_from([0.1, 0.3, 0.5, 1.0]))
    key_mode = draw(st.sampled_from(sorted(KEY_MODES)))
    step = draw(st.sampled_from([1, 10, 60_000]))
    size = step * draw(st.sampled_from([1, 1, 5]))
    offset = draw(st.integers(0, step - 1)) if step < 100 else 0
    if key_mode == "none":
        keys = [()]
    elif key_mode == "two":
        keys = sorted({(s, h) for s, h in draw(st.lists(st.tuples(st.sampled_from([None, "a", "b"]), st.sampled_from([None, 1, 2])), min_size=1, max_size=4))}, key=ref.key_sort_key)
    else:
        pool = [None, "a", "b", "é"] if key_mode == "str" else [None, -1, 3, 8]
        keys = sorted({(k,) for k in draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))}, key=ref.key_sort_key)
    n_windows = draw(st.integers(0, max_windows))
    spiky = draw(st.booleans())
    presence = {k: draw(st.floats(0.2, 1.0)) for k in keys}
    first = {k: draw(st.integers(0, max(n_windows // 2, 0))) for k in keys}
    key_cols = () if KEY_MODES[key_mode] is None else ((KEY_MODES[key_mode],) if isinstance(KEY_MODES[key_mode], str) else tuple(KEY_MODES[key_mode]))
    rows = []
    for w in range(n_windows):
        for k in keys:  # already in output key order
            if w < first[k]:
                continue
            if w > first[k] and draw(st.floats(0, 1)) > presence[k]:
                continue
            start = offset + w * step
            row = dict(zip(key_cols, k))
            row.update(window_start=start, window_end=start + size, errors=draw(values(spiky)))
            rows.append(row)
    value_type = draw(st.sampled_from([pa.int64(), pa.float64()]))
    if value_type == pa.float64():
        for r in rows:
            r["errors"] = float(r["errors"])
    cuts, left = [], len(rows)
    while left:
        c = draw(st.integers(0, left))
        cuts.append(c)
        left -= c
    cuts.append(0)
    snapshots = set(draw(st.lists(st.integers(0, len(cuts) - 1), max_size=3)))
    return SpikeCase(rule, params, key_mode, step, size, rows, cuts, snapshots, value_type)


def windows_table(case: SpikeCase, rows) -> pa.Table:
    cols = {}
    key = KEY_MODES[case.key_mode]
    key_cols = [] if key is None else ([key] if isinstance(key, str) else key)
    for c in key_cols:
        cols[c] = pa.array([r[c] for r in rows], pa.string() if c == "service" else pa.int64())
    cols["window_start"] = pa.array([r["window_start"] for r in rows], pa.int64()).cast(TS)
    cols["window_end"] = pa.array([r["window_end"] for r in rows], pa.int64()).cast(TS)
    cols["errors"] = pa.array([r["errors"] for r in rows], case.value_type)
    cols["note"] = pa.array(["w"] * len(rows), pa.string())  # an unrelated column rides along
    return pa.table(cols)


def detectors(case: SpikeCase):
    step = case.step if case.size != case.step else None
    kw = dict(value="errors", key=KEY_MODES[case.key_mode], rule=case.rule, **case.params)
    if step is not None:
        kw["step"] = step
    return fs.SpikeDetector(**kw), ref.SpikeDetector(**kw)


def alert_rows(table: pa.Table) -> list[dict]:
    assert isinstance(table, pa.Table), type(table)
    return ref.table_rows(table)


def run_fs(case: SpikeCase, cuts=None, snapshots=None):
    det = detectors(case)[0]
    cuts = case.cuts if cuts is None else cuts
    snapshots = case.snapshots if snapshots is None else snapshots
    alerts, lo = [], 0
    for i, c in enumerate(cuts):
        alerts += alert_rows(det.push(windows_table(case, case.rows[lo : lo + c])))
        lo += c
        if i in snapshots:
            det = fs.SpikeDetector.restore(det.snapshot())
    return alerts + alert_rows(det.flush())


def run_ref(case: SpikeCase):
    det = detectors(case)[1]
    return det.push(case.rows) + det.flush()


def comparable(rows):
    # the value column may come back as int or float: compare numbers as floats
    return [{k: (float(v) if k in ("value", "baseline") and v is not None else v) for k, v in r.items()} for r in rows]


@SETTINGS
@given(spike_cases())
def test_detector_matches_reference(case):
    got, exp = comparable(run_fs(case)), comparable(run_ref(case))
    assert ref.rows_equal(got, exp), ref.first_difference(got, exp)


@settings(max_examples=40, deadline=None)
@given(spike_cases(), st.randoms(use_true_random=False))
def test_detector_independent_of_batch_cuts(case, rnd):
    whole = comparable(run_fs(case, cuts=[len(case.rows)], snapshots=set()))
    cuts, left = [], len(case.rows)
    while left:
        c = rnd.randint(0, left)
        cuts.append(c)
        left -= c
    got = comparable(run_fs(case, cuts=cuts, snapshots={i for i in range(len(cuts)) if rnd.random() < 0.5}))
    assert ref.rows_equal(got, whole), ref.first_difference(got, whole)


def test_alert_schema():
    rows = [{"service": "a", "window_start": i * 60_000, "window_end": (i + 1) * 60_000, "errors": v} for i, v in enumerate([1, 1, 1, 90])]
    case = SpikeCase("mean", {"history": 3, "factor": 3.0, "floor": 20, "cooldown": 0}, "str", 60_000, 60_000, rows, [4], set(), pa.int64())
    det = detectors(case)[0]
    out = det.push(windows_table(case, rows))
    assert out.schema.names == ["service", "window_start", "window_end", "value", "baseline", "rule"]
    assert out.schema.field("service").type == pa.string()
    assert out.schema.field("window_start").type == TS and out.schema.field("window_end").type == TS
    assert out.schema.field("baseline").type == pa.float64()
    assert ref.table_rows(out) == [
        {"service": "a", "window_start": 180_000, "window_end": 240_000, "value": 90, "baseline": 1.0, "rule": "mean"}
    ]
    assert det.flush().num_rows == 0


# --------------------------------------------------------------------------- whole pipeline


@st.composite
def pipelines(draw):
    n = draw(st.integers(0, 300))
    base, events = 0, []
    for _ in range(n):
        base += draw(st.integers(0, 3))
        burst = draw(st.integers(0, 30)) == 0
        for _ in range(draw(st.integers(20, 60)) if burst else 1):
            events.append((base + draw(st.integers(0, 8)), draw(st.sampled_from(["a", "b", "c"])) if not burst else "a"))
    hopping = draw(st.booleans())
    cuts, left = [], len(events)
    while left:
        c = draw(st.integers(0, left))
        cuts.append(c)
        left -= c
    rule = draw(st.sampled_from(ref.RULES))
    return events, hopping, cuts, rule, draw(st.integers(1, 5)), draw(st.sampled_from([0, 2]))


@settings(max_examples=40, deadline=None)
@given(pipelines())
def test_pipeline_aggregator_then_detector(p):
    events, hopping, cuts, rule, history, cooldown = p
    window_fs = fs.Hopping(size=20, step=5) if hopping else fs.Tumbling(10)
    window_ref = ref.Hopping(20, 5) if hopping else ref.Tumbling(10)
    step = 5 if hopping else None
    agg_f = fs.WindowAggregator(window=window_fs, time="ts", key="service", aggs={"errors": fs.count()}, watermark=8)
    agg_r = ref.WindowAggregator(window_ref, time="ts", key="service", aggs={"errors": ref.count()}, watermark=8)
    kw = dict(value="errors", key="service", history=history, floor=3, rule=rule, cooldown=cooldown)
    if step is not None:
        kw["step"] = step
    det_f, det_r = fs.SpikeDetector(**kw), ref.SpikeDetector(**kw)
    got, exp, lo = [], [], 0
    for c in cuts + [None]:
        if c is None:
            closed_f, closed_r = agg_f.flush(), agg_r.flush()
        else:
            chunk = events[lo : lo + c]
            lo += c
            table = pa.table({"ts": pa.array([t for t, _ in chunk], pa.int64()), "service": pa.array([s for _, s in chunk], pa.string())})
            closed_f, closed_r = agg_f.push(table), agg_r.push([{"ts": t, "service": s} for t, s in chunk])
        if closed_f.num_rows:  # (the schema of a flush before any push is not specified)
            got += alert_rows(det_f.push(closed_f))
        exp += det_r.push(closed_r)
    got, exp = comparable(got), comparable(exp)
    assert ref.rows_equal(got, exp), ref.first_difference(got, exp)
