"""SpikeDetector state shrinks as keys go quiet, without changing any alert.

Property: on random streams where keys fall silent for long stretches and come back, in random
batches with snapshot/restore between them, the alerts are the pure-Python reference's (which keeps
every key forever), for the three rules. Memory: a million short-lived keys leave a state whose
keys with a history are only the recent ones (through the detector's state-size statistics).
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleetstream as fs

from . import reference as ref

TS = pa.timestamp("ms", tz="UTC")
STEP = 60_000


def table(rows: list[dict]) -> pa.Table:
    return pa.table({
        "service": pa.array([r["service"] for r in rows], pa.string()),
        "window_start": pa.array([r["window_start"] for r in rows], pa.int64()).cast(TS),
        "window_end": pa.array([r["window_end"] for r in rows], pa.int64()).cast(TS),
        "errors": pa.array([r["errors"] for r in rows], pa.float64()),
    })


@st.composite
def quiet_streams(draw):
    rule = draw(st.sampled_from(ref.RULES))
    params = {"history": draw(st.integers(1, 4)), "floor": draw(st.sampled_from([0, 5])),
              "cooldown": draw(st.sampled_from([0, 1, 6]))}
    if rule == "zscore":
        params["threshold"] = draw(st.sampled_from([0.5, 2.0]))
    else:
        params["factor"] = draw(st.sampled_from([1.5, 3.0]))
    if rule == "ewma":
        params["alpha"] = draw(st.sampled_from([0.5, 1.0]))
    rows, window = [], 0
    for _ in range(draw(st.integers(0, 60))):
        # Mostly small steps, now and then a silence long enough for an EWMA to reach zero.
        window += draw(st.sampled_from([1, 1, 1, 2, 5, 1_100]))
        for service in sorted(draw(st.sets(st.sampled_from("abcde"), min_size=1, max_size=3))):
            value = draw(st.sampled_from([0, 1, 3, 8, 40, 300]))
            rows.append({"service": service, "window_start": window * STEP, "window_end": (window + 1) * STEP,
                         "errors": float(value)})
    cuts, left = [], len(rows)
    while left:
        cut = draw(st.integers(1, left))
        cuts.append(cut)
        left -= cut
    snapshots = set(draw(st.lists(st.integers(0, max(len(cuts) - 1, 0)), max_size=3)))
    return rule, params, rows, cuts, snapshots


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quiet_streams())
def test_dormant_keys_change_no_alert(case) -> None:
    rule, params, rows, cuts, snapshots = case
    detector = fs.SpikeDetector(value="errors", key="service", rule=rule, **params)
    reference = ref.SpikeDetector(value="errors", key="service", rule=rule, **params)
    got, at = [], 0
    for i, cut in enumerate(cuts):
        got += ref.table_rows(detector.push(table(rows[at:at + cut])))
        at += cut
        if i in snapshots:
            detector = fs.SpikeDetector.restore(detector.snapshot())
    expected = reference.push(rows)
    comparable = lambda alerts: [{k: float(v) if k in ("value", "baseline") else v for k, v in a.items()} for a in alerts]
    assert ref.rows_equal(comparable(got), comparable(expected)), ref.first_difference(comparable(got), comparable(expected))
    stats = detector.stats()
    assert stats["keys"] + stats["dormant_keys"] == len({r["service"] for r in rows})


def test_a_million_short_lived_keys_leave_only_the_recent_ones_in_memory() -> None:
    history, per_window, windows = 10, 10_000, 100
    detector = fs.SpikeDetector(value="errors", key="request", history=history, floor=5)
    # The same detector kept from letting keys go (a window out of time order, of keys of its own):
    # what the state was before keys could go dormant.
    keeping = fs.SpikeDetector(value="errors", key="request", history=history, floor=5)
    keeping.push(table([{"service": s, "window_start": w, "window_end": w + STEP, "errors": 0.0}
                        for s, w in (("~1", STEP), ("~2", 0))]).rename_columns(["request", "window_start", "window_end", "errors"]))
    biggest = 0
    for w in range(windows):
        start = w * STEP
        batch = pa.table({
            "request": pa.array([f"req-{w}-{i}" for i in range(per_window)]),
            "window_start": pa.array([start] * per_window, pa.int64()).cast(TS),
            "window_end": pa.array([start + STEP] * per_window, pa.int64()).cast(TS),
            "errors": pa.array([1] * per_window, pa.int64()),
        })
        detector.push(batch)
        keeping.push(batch)
        biggest = max(biggest, detector.stats()["keys"])
    stats, kept = detector.stats(), keeping.stats()
    # A key is let go once it has missed `history` windows: at most history + 1 windows' keys stay.
    assert biggest <= (history + 1) * per_window, biggest
    assert stats["keys"] + stats["dormant_keys"] == per_window * windows == kept["keys"] - 2
    print(f"{stats['keys']:,} keys with a history and {stats['dormant_keys']:,} dormant: "
          f"{stats['state_bytes'] / 1e6:.1f} MB; every key with a history: {kept['state_bytes'] / 1e6:.1f} MB")
    # A dormant key costs its name and two numbers, not a history of `history` floats.
    assert stats["state_bytes"] < kept["state_bytes"] / 2
