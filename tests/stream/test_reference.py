"""Hand-computed cases that pin the pure-Python reference, so that it can be trusted as the oracle."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest


from . import reference as ref

M = 60_000  # one minute in ms


def ev(ts, service="a", **cols):
    return {"ts": ts, "service": service, **cols}


def counts(rows, value="n"):
    return [(r.get("service"), r["window_start"], r["window_end"], r[value]) for r in rows]


def run(agg, batches):
    out = []
    for b in batches:
        out += agg.push(b)
    return out + agg.flush()


# ----------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    "text, ms",
    [("500ms", 500), ("5s", 5_000), ("1m", 60_000), ("2h", 7_200_000), ("1h30m", 5_400_000), (250, 250)],
)
def test_parse_duration(text, ms):
    assert ref.parse_duration(text) == ms


def test_parse_duration_timedelta_and_errors():
    assert ref.parse_duration(timedelta(seconds=1, microseconds=2500)) == 1_002
    for bad in ("", "5", "m5", "5 x", "1.5s"):
        with pytest.raises(ValueError):
            ref.parse_duration(bad)


# ------------------------------------------------------------------------------ window geometry


def test_window_starts_tumbling_and_offset():
    assert ref.window_starts(0, 10, 10) == [0]
    assert ref.window_starts(9, 10, 10) == [0]
    assert ref.window_starts(10, 10, 10) == [10]  # half-open: [0, 10) does not hold 10
    assert ref.window_starts(2, 10, 10, offset=3) == [-7]
    assert ref.window_starts(3, 10, 10, offset=3) == [3]
    assert ref.window_starts(12, 10, 10, offset=3) == [3]
    assert ref.window_starts(13, 10, 10, offset=3) == [13]


def test_window_starts_hopping():
    # 5-minute windows every minute: an event at 7m30s is in the windows starting 3m..7m.
    assert ref.window_starts(7 * M + 30_000, 5 * M, M) == [3 * M, 4 * M, 5 * M, 6 * M, 7 * M]
    # exactly on a boundary: 10m is in [6m, 11m) .. [10m, 15m), not in [5m, 10m)
    assert ref.window_starts(10 * M, 5 * M, M) == [6 * M, 7 * M, 8 * M, 9 * M, 10 * M]
    # step not dividing size: size 5, step 2 -> starts s even, s <= t < s + 5
    assert ref.window_starts(6, 5, 2) == [2, 4, 6]
    assert ref.window_starts(7, 5, 2) == [4, 6]
    # step larger than size leaves gaps
    assert ref.window_starts(3, 2, 5) == []
    assert ref.window_starts(6, 2, 5) == [5]
    # near the epoch the earliest windows start before it
    assert ref.window_starts(0, 5 * M, M) == [-4 * M, -3 * M, -2 * M, -M, 0]


def test_window_starts_matches_brute_force():
    rng = random.Random(7)
    for _ in range(2_000):
        size, step = rng.randint(1, 12), rng.randint(1, 12)
        offset, t = rng.randint(-20, 20), rng.randint(0, 100)
        brute = [s for s in range(-200, 200) if (s - offset) % step == 0 and s <= t < s + size]
        assert ref.window_starts(t, size, step, offset) == brute, (t, size, step, offset)


# ------------------------------------------------------------------------------ tumbling counts


def test_tumbling_counts_per_key_sorted_by_end_then_key():
    agg = ref.WindowAggregator(ref.Tumbling("1m"), time="ts", key="service", aggs={"n": ref.count()})
    events = [ev(1_000, "b"), ev(2_000, "a"), ev(59_999, "b"), ev(60_000, "a"), ev(61_000, "c"), ev(130_000, "a")]
    out = run(agg, [events])
    assert counts(out) == [
        ("a", 0, M, 1),
        ("b", 0, M, 2),
        ("a", M, 2 * M, 1),
        ("c", M, 2 * M, 1),
        ("a", 2 * M, 3 * M, 1),
    ]


def test_push_emits_windows_once_watermark_passes_end():
    agg = ref.WindowAggregator(ref.Tumbling("1m"), time="ts", key="service", aggs={"n": ref.count()}, watermark="5s")
    assert agg.push([ev(10_000), ev(50_000)]) == []
    assert agg.push([ev(64_999)]) == []  # watermark 59_999 < 60_000
    assert counts(agg.push([ev(65_000)])) == [("a", 0, M, 2)]  # watermark 60_000 closes [0, 1m)
    assert counts(agg.flush()) == [("a", M, 2 * M, 2)]
    assert agg.flush() == []


def test_global_key_and_list_key_with_nulls():
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", key=None, aggs={"n": ref.count()})
    out = run(agg, [[ev(1, "x"), ev(2, None), ev(15, "y")]])
    assert out == [
        {"window_start": 0, "window_end": 10, "n": 2},
        {"window_start": 10, "window_end": 20, "n": 1},
    ]
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", key=["service", "host"], aggs={"n": ref.count()})
    rows = [ev(1, "b", host=1), ev(2, None, host=2), ev(3, "a", host=None), ev(4, "a", host=2), ev(5, "a", host=None)]
    out = run(agg, [rows])
    assert [(r["service"], r["host"], r["n"]) for r in out] == [
        (None, 2, 1),
        ("a", None, 2),
        ("a", 2, 1),
        ("b", 1, 1),
    ]


def test_string_keys_order_by_code_point():
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", key="service", aggs={"n": ref.count()})
    keys = ["é", "Z", "a", "", "ä", "𝔸", "aa"]
    out = run(agg, [[ev(i, k) for i, k in enumerate(keys)]])
    assert [r["service"] for r in out] == ["", "Z", "a", "aa", "ä", "é", "𝔸"]


# ------------------------------------------------------------------------------ hopping


def test_hopping_membership_and_counts():
    agg = ref.WindowAggregator(ref.Hopping(size="5m", step="1m"), time="ts", key="service", aggs={"n": ref.count()})
    out = run(agg, [[ev(0), ev(2 * M + 1), ev(6 * M)]])
    got = {(r["window_start"] // M, r["window_end"] // M): r["n"] for r in out}
    assert got == {
        (-4, 1): 1, (-3, 2): 1, (-2, 3): 2, (-1, 4): 2, (0, 5): 2,
        (1, 6): 1, (2, 7): 2, (3, 8): 1, (4, 9): 1, (5, 10): 1, (6, 11): 1,
    }  # fmt: skip
    assert [r["window_end"] for r in out] == sorted(r["window_end"] for r in out)


def test_hopping_with_gaps_counts_nothing_in_the_gap():
    agg = ref.WindowAggregator(ref.Hopping(size=2, step=5), time="ts", aggs={"n": ref.count()})
    out = run(agg, [[{"ts": t} for t in (0, 1, 2, 3, 4, 5, 6, 7)]])
    assert [(r["window_start"], r["n"]) for r in out] == [(0, 2), (5, 2)]
    assert agg.take_late() == [] and agg.take_rejects() == []


def test_offset():
    agg = ref.WindowAggregator(ref.Tumbling("1m", offset="15s"), time="ts", key=None, aggs={"n": ref.count()})
    out = run(agg, [[{"ts": t} for t in (14_999, 15_000, 74_999, 75_000)]])
    assert [(r["window_start"], r["window_end"], r["n"]) for r in out] == [
        (-45_000, 15_000, 1),
        (15_000, 75_000, 2),
        (75_000, 135_000, 1),
    ]
    agg = ref.WindowAggregator(ref.Hopping("10s", "5s", offset="2s"), time="ts", aggs={"n": ref.count()})
    out = run(agg, [[{"ts": 8_000}]])
    assert [(r["window_start"], r["window_end"]) for r in out] == [(2_000, 12_000), (7_000, 17_000)]


# ------------------------------------------------------------------------------ lateness


def test_late_event_goes_to_late_output_not_to_a_window():
    agg = ref.WindowAggregator(ref.Tumbling("1m"), time="ts", key="service", aggs={"n": ref.count()}, watermark="5s")
    assert counts(agg.push([ev(10_000), ev(70_000)])) == [("a", 0, M, 1)]  # watermark 65_000
    assert agg.push([ev(20_000, "b", msg="late one")]) == []
    late = agg.take_late()
    assert late == [
        {"ts": 20_000, "service": "b", "msg": "late one", "window_start": 0, "window_end": M, "reason": "late"}
    ]
    assert agg.take_late() == []
    assert counts(agg.flush()) == [("a", M, 2 * M, 1)]


def test_late_is_decided_by_the_watermark_before_the_event_within_one_push():
    # Same events in one push: [0, 1m) is not emitted before the push ends, but the event at 20s
    # arrives after the watermark reached 65s, so it is late all the same (independent of the cut).
    agg = ref.WindowAggregator(ref.Tumbling("1m"), time="ts", key="service", aggs={"n": ref.count()}, watermark="5s")
    assert counts(agg.push([ev(10_000), ev(70_000), ev(20_000)])) == [("a", 0, M, 1)]
    assert [(r["ts"], r["window_start"]) for r in agg.take_late()] == [(20_000, 0)]


def test_event_before_watermark_but_in_open_window_is_counted():
    agg = ref.WindowAggregator(ref.Tumbling("1m"), time="ts", aggs={"n": ref.count()}, watermark="5s")
    agg.push([{"ts": 30_000}])
    agg.push([{"ts": 64_000}])  # watermark 59_000 < 60_000: [0, 1m) still open
    agg.push([{"ts": 1_000}])  # far behind the watermark, but its window is open
    assert agg.take_late() == []
    assert [r["n"] for r in agg.push([{"ts": 65_000}])] == [2]


@pytest.mark.parametrize("lateness", [0, 2_000])
def test_lateness_boundary_watermark_equal_to_end_plus_lateness_closes(lateness):
    agg = ref.WindowAggregator(
        ref.Tumbling(10_000), time="ts", aggs={"n": ref.count()}, watermark=1_000, allowed_lateness=lateness
    )
    agg.push([{"ts": 5_000}])
    close_at = 10_000 + lateness + 1_000  # max time that makes watermark == end + lateness
    assert agg.push([{"ts": close_at - 1}]) == []
    assert agg.push([{"ts": 9_999}]) == []  # watermark = end + lateness - 1: still on time
    assert agg.take_late() == []
    assert [(r["window_start"], r["n"]) for r in agg.push([{"ts": close_at}])] == [(0, 2)]
    agg.push([{"ts": 9_998}])  # watermark == end + lateness: late
    assert [(r["ts"], r["window_end"]) for r in agg.take_late()] == [(9_998, 10_000)]


def test_allowed_lateness_keeps_window_open_and_counts_late_arrivals():
    agg = ref.WindowAggregator(
        ref.Tumbling(10), time="ts", aggs={"n": ref.count()}, watermark=0, allowed_lateness=5
    )
    # watermark 12 is past the end of [0, 10) but not past end + lateness: 2 still counts
    assert agg.push([{"ts": 1}, {"ts": 12}, {"ts": 2}]) == []
    assert [r["n"] for r in agg.push([{"ts": 15}])] == [2]
    agg.push([{"ts": 3}])
    assert len(agg.take_late()) == 1


def test_hopping_late_for_one_window_still_counts_in_open_ones():
    agg = ref.WindowAggregator(ref.Hopping(size=10, step=5), time="ts", aggs={"n": ref.count()}, watermark=0)
    out = agg.push([{"ts": 1}, {"ts": 11}])  # watermark 11: [-5, 5) and [0, 10) closed
    assert [(r["window_start"], r["n"]) for r in out] == [(-5, 1), (0, 1)]
    agg.push([{"ts": 7}])  # windows [0, 10) (closed: late) and [5, 15) (open: counted)
    assert [(r["window_start"], r["window_end"]) for r in agg.take_late()] == [(0, 10)]
    assert [(r["window_start"], r["n"]) for r in agg.flush()] == [(5, 2), (10, 1)]


def test_late_row_per_missed_window():
    agg = ref.WindowAggregator(ref.Hopping(size=10, step=2), time="ts", aggs={"n": ref.count()})
    agg.push([{"ts": 100}])
    agg.push([{"ts": 5}])
    assert [r["window_start"] for r in agg.take_late()] == [-4, -2, 0, 2, 4]


# ------------------------------------------------------------------------------ rejects


def test_rejects():
    big = "x" * (64 * 1024 + 1)
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", key="service", aggs={"n": ref.count()})
    out = agg.push(
        [ev(1), ev(None), ev(-1), ev(0), ev(2, big), ev(3, "x" * 65_536), ev(ref.MAX_TIME_MS + 1), ev(ref.MAX_TIME_MS)]
    )
    rej = agg.take_rejects()
    assert [(r["row"], r["reason"]) for r in rej] == [
        (1, "null time"),
        (2, "time before 1970"),
        (4, "key larger than 64 KiB"),
        (6, "time after 9999-12-31"),
    ]
    assert rej[0]["service"] == "a" and rej[0]["ts"] is None
    out += agg.flush()
    assert [(r["service"][:3], r["window_start"], r["n"]) for r in out] == [
        ("a", 0, 2),
        ("xxx", 0, 1),
        ("a", ref.MAX_TIME_MS - 9, 1),
    ]
    assert agg.take_rejects() == []


def test_reject_row_index_is_within_its_push():
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", aggs={"n": ref.count()})
    agg.push([{"ts": 1}, {"ts": None}])
    agg.push([{"ts": None}, {"ts": 1}, {"ts": -5}])
    assert [r["row"] for r in agg.take_rejects()] == [1, 0, 2]


def test_rejected_rows_do_not_move_the_watermark():
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", aggs={"n": ref.count()})
    agg.push([{"ts": 1}, {"ts": ref.MAX_TIME_MS + 5}])
    assert agg.watermark == 1
    assert agg.push([{"ts": 2}]) == []


# ------------------------------------------------------------------------------ aggregates


def test_all_aggregates_with_nulls():
    aggs = {
        "n": ref.count(),
        "nx": ref.count("x"),
        "sx": ref.sum_("x"),
        "sf": ref.sum_("f"),
        "lo": ref.min_("x"),
        "hi": ref.max_("f"),
        "avg": ref.mean("x"),
        "p50": ref.quantile("x", 0.5),
    }
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", aggs=aggs)
    rows = [
        {"ts": 1, "x": 4, "f": 0.5},
        {"ts": 2, "x": None, "f": 2.25},
        {"ts": 3, "x": 1, "f": None},
        {"ts": 4, "x": 7, "f": -1.0},
        {"ts": 11, "x": None, "f": None},
    ]
    out = run(agg, [rows])
    assert out[0] == {
        "window_start": 0, "window_end": 10, "n": 4, "nx": 3, "sx": 12, "sf": 1.75,
        "lo": 1, "hi": 2.25, "avg": 4.0, "p50": 4.0,
    }  # fmt: skip
    assert out[1] == {
        "window_start": 10, "window_end": 20, "n": 1, "nx": 0, "sx": None, "sf": None,
        "lo": None, "hi": None, "avg": None, "p50": None,
    }  # fmt: skip
    assert isinstance(out[0]["sx"], int) and isinstance(out[0]["sf"], float) and isinstance(out[0]["avg"], float)


@pytest.mark.parametrize(
    "values, q, expected",
    [
        ([1, 2, 3, 4], 0.5, 2.5),
        ([1, 2, 3, 4], 0.25, 1.75),
        ([1, 2, 3, 4], 0.9, 3.7),
        ([10, 0, 20, 30], 1.0, 30.0),
        ([10, 0, 20, 30], 0.0, 0.0),
        ([5], 0.37, 5.0),
        ([3, 1, 2], 0.5, 2.0),
        ([1.5, -2.0], 0.75, 0.625),
    ],
)
def test_quantile_linear_interpolation(values, q, expected):
    assert ref.quantile_linear(sorted(values), q) == pytest.approx(expected, rel=1e-12)
    agg = ref.WindowAggregator(ref.Tumbling(10), time="ts", aggs={"p": ref.quantile("v", q)})
    out = run(agg, [[{"ts": 1, "v": v} for v in values] + [{"ts": 2, "v": None}]])
    assert out[0]["p"] == pytest.approx(expected, rel=1e-12)


def test_quantile_matches_numpy():
    import numpy as np

    rng = random.Random(3)
    for _ in range(300):
        values = sorted(rng.uniform(-1e6, 1e6) for _ in range(rng.randint(1, 30)))
        q = rng.choice([0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0, rng.random()])
        assert ref.quantile_linear(values, q) == float(np.quantile(np.array(values), q))


# ------------------------------------------------------------------------------ batch cuts / snapshot


def test_output_independent_of_batch_cuts_and_snapshots():
    rng = random.Random(11)
    events = [{"ts": max(0, i * 10 + rng.randint(-80, 80)), "k": rng.choice("abc"), "v": rng.randint(0, 9)} for i in range(400)]

    def make():
        return ref.WindowAggregator(
            ref.Hopping(50, 20), time="ts", key="k", aggs={"n": ref.count(), "s": ref.sum_("v")}, watermark=30
        )

    whole = make()
    expected = run(whole, [events])
    expected_late = whole.take_late()
    assert expected_late  # the stream has late events
    for _ in range(20):
        cuts = sorted(rng.sample(range(len(events)), rng.randint(0, 30)))
        agg, out, late, start = make(), [], [], 0
        for c in cuts + [len(events)]:
            out += agg.push(events[start:c])
            late += agg.take_late()
            start = c
            if rng.random() < 0.3:
                agg = ref.WindowAggregator.restore(agg.snapshot())
        out += agg.flush()
        assert out == expected
        assert late == expected_late


# ------------------------------------------------------------------------------ spike detector


def windows(values, start=0, step=M, key="svc"):
    """Window rows for a list of values; None marks a missing window."""
    return [
        {"service": key, "window_start": start + i * step, "window_end": start + (i + 1) * step, "errors": v}
        for i, v in enumerate(values)
        if v is not None
    ]


def alert_ends(alerts, step=M):
    return [a["window_start"] // step for a in alerts]


def test_spike_mean_warm_up():
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=5)
    # windows 0..2 only warm up; window 3 is the first that can alert: mean(2, 2, 2) = 2, 6 > 4
    alerts = det.push(windows([2, 2, 2, 6, 6, 30]))
    assert alert_ends(alerts) == [3, 5]
    assert alerts[0] == {
        "service": "svc", "window_start": 3 * M, "window_end": 4 * M, "value": 6, "baseline": 2.0, "rule": "mean"
    }  # fmt: skip
    # window 4: mean(2, 2, 6) = 3.33.., 6 <= 6.67: no; window 5: mean(2, 6, 6) = 4.67, 30 > 9.33: yes
    assert alerts[1]["baseline"] == pytest.approx(14 / 3)
    # window 1 is a spike, but with history=2 only window 2 onwards can alert
    det = ref.SpikeDetector(value="errors", key="service", history=2, factor=2.0, floor=5)
    assert alert_ends(det.push(windows([2, 50, 2, 2, 50]))) == [4]


def test_spike_mean_floor_is_strict():
    det = ref.SpikeDetector(value="errors", key="service", history=2, factor=1.0, floor=5)
    # window 2: 5 is not > floor 5; window 3: 6 > 5 and 6 > mean(1, 5) = 3
    assert alert_ends(det.push(windows([1, 1, 5, 6]))) == [3]


def test_spike_missing_windows_count_as_zero_and_in_warm_up():
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=1)
    # window 0 = 4, windows 1 and 2 missing (0, 0), window 3 = 3: mean(4, 0, 0) = 1.33, 3 > 2.67 -> alert
    alerts = det.push(windows([4, None, None, 3]))
    assert alert_ends(alerts) == [3]
    assert alerts[0]["baseline"] == pytest.approx(4 / 3)


def test_spike_warm_up_starts_at_first_window_of_the_key():
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=1)
    rows = windows([1, 1, 1, 50], start=10 * M, key="late-comer") + windows([1] * 12, key="early")
    rows.sort(key=lambda r: (r["window_end"], r["service"]))
    alerts = det.push(rows)
    assert [(a["service"], a["window_start"] // M) for a in alerts] == [("late-comer", 13)]
    # counting starts at the key's first window (index 4), not at the stream's first window
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=1)
    rows = windows([None, None, None, None, 1, 1, 50], key="k") + windows([1] * 7, key="other")
    rows.sort(key=lambda r: (r["window_end"], r["service"]))
    assert det.push(rows) == []


def test_spike_missing_windows_at_start_do_not_count():
    det = ref.SpikeDetector(value="errors", key="service", history=2, factor=2.0, floor=1)
    # the first window is at index 4: indices 0..3 are before the key exists
    assert det.push(windows([None, None, None, None, 50, 60])) == []
    assert alert_ends(det.push(windows([None] * 6 + [500]))) == [6]


def test_spike_long_gap_only_zeros_in_history():
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=3.0, floor=0)
    alerts = det.push(windows([100, 100, 100] + [None] * 1000 + [1]))
    assert [(a["window_start"] // M, a["baseline"]) for a in alerts] == [(1003, 0.0)]


def test_spike_zscore():
    det = ref.SpikeDetector(value="errors", key="service", history=4, floor=0, rule="zscore", threshold=2.0)
    # history (2, 4, 4, 6): mean 4, pstdev sqrt(2) = 1.414; limit 6.83: 7 alerts, 6 does not
    alerts = det.push(windows([2, 4, 4, 6, 7]))
    assert [(a["window_start"] // M, a["baseline"], a["rule"]) for a in alerts] == [(4, 4.0, "zscore")]
    det = ref.SpikeDetector(value="errors", key="service", history=4, floor=0, rule="zscore", threshold=2.0)
    assert det.push(windows([2, 4, 4, 6, 6])) == []
    # constant history: pstdev 0, anything above the mean alerts
    det = ref.SpikeDetector(value="errors", key="service", history=2, floor=0, rule="zscore")
    assert alert_ends(det.push(windows([3, 3, 4]))) == [2]


def test_spike_ewma():
    det = ref.SpikeDetector(value="errors", key="service", history=2, factor=2.0, floor=0, rule="ewma", alpha=0.5)
    # e: 10 (first value) -> after 2: 6 -> window 2 (value 13 > 2 * 6): alert, e -> 9.5
    # window 3 (value 18 <= 19): no, e -> 13.75; window 4 missing: e -> 6.875; window 5: 14 > 13.75: alert
    alerts = det.push(windows([10, 2, 13, 18, None, 14]))
    assert [(a["window_start"] // M, a["baseline"]) for a in alerts] == [(2, 6.0), (5, 6.875)]
    # warm-up: window 1 cannot alert even though 100 > 2 * 10
    det = ref.SpikeDetector(value="errors", key="service", history=2, factor=2.0, floor=0, rule="ewma", alpha=0.5)
    assert det.push(windows([10, 100])) == []


def test_spike_cooldown_counts_windows_and_still_updates_history():
    values = [1, 1, 1, 10, 10, 10, 10, 40]
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=0, cooldown=0)
    assert alert_ends(det.push(windows(values))) == [3, 4, 7]
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=0, cooldown=2)
    # alert at 3, windows 4 and 5 blocked, window 6: mean(10, 10, 10) -> 10 is no spike, 7: 40 > 20
    assert alert_ends(det.push(windows(values))) == [3, 7]
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=0, cooldown=2)
    # missing windows use up cooldown: alert at 3, 4 and 5 missing, window 6 may alert again
    assert alert_ends(det.push(windows([1, 1, 1, 10, None, None, 30]))) == [3, 6]


def test_spike_step_for_hopping_windows():
    rows = [
        {"service": "s", "window_start": i * M, "window_end": i * M + 5 * M, "errors": v}
        for i, v in enumerate([1, 1, 1, 9])
        if v is not None
    ]
    det = ref.SpikeDetector(value="errors", key="service", history=3, floor=0, step="1m")
    assert alert_ends(det.push(rows)) == [3]
    det = ref.SpikeDetector(value="errors", key="service", history=3, floor=0)
    with pytest.raises(ValueError):  # without step=, a 1-minute hop is not a whole 5-minute step
        det.push(rows)


def test_spike_keys_independent_and_snapshot():
    rows = windows([1, 1, 1, 10], key="a") + windows([5, 5, 5, 5], key="b")
    rows.sort(key=lambda r: (r["window_end"], r["service"]))
    det = ref.SpikeDetector(value="errors", key="service", history=3, factor=2.0, floor=0)
    first = det.push(rows[:5])
    det = ref.SpikeDetector.restore(det.snapshot())
    alerts = first + det.push(rows[5:]) + det.flush()
    assert [(a["service"], a["window_start"] // M) for a in alerts] == [("a", 3)]


def test_spike_out_of_order_rejected():
    det = ref.SpikeDetector(value="errors", key="service", history=3)
    det.push(windows([None, 1]))
    with pytest.raises(ValueError):
        det.push(windows([1]))
