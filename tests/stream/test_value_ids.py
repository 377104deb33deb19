"""Value-keeping aggregates (count_distinct, first, last) on long streams with many distinct values.

The operators hold interned value ids, not values, and release the ids no state holds any more once
the interners have doubled (at least 4,096 values): only long streams reach that, so the property
tests' short streams never do. Here tens of thousands of distinct strings and floats pass through
windows and sessions that close as the stream goes on, with snapshot/restore between pushes (ids are
saved as values and interned again), and every output row is checked against the pure-Python
references."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa

import fleetstream as fs

from . import reference as ref
from .session_reference import sessionize
from .test_sessionizer import GAP, key_of, make, run


def _window_events(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events, t = [], 0
    for _ in range(n):
        t += rng.randint(0, 3)
        events.append({
            "ts": t + rng.randint(0, 20),  # disorder within the watermark bound
            "service": f"svc-{rng.randint(0, 30)}",
            # mostly fresh values, some repeated within a window
            "msg": f"message {rng.randint(0, 10**9)}" if rng.random() < 0.8 else f"common {rng.randint(0, 5)}",
            "f": rng.random() if rng.random() < 0.9 else None,
        })
    return events


def _window_rows(table: pa.Table) -> list[dict[str, Any]]:
    for name in ("window_start", "window_end"):  # timestamps in ms -> the reference's ints
        table = table.set_column(table.schema.get_field_index(name), name, table[name].cast(pa.int64()))
    return table.to_pylist()


def test_windows_keep_the_right_values_across_sweeps_and_snapshots() -> None:
    events = _window_events(seed=7, n=40_000)
    fs_aggs = {"distinct": fs.count_distinct("msg"), "first": fs.first("msg"), "last": fs.last("msg"),
               "df": fs.count_distinct("f"), "lf": fs.last("f")}
    ref_aggs = {"distinct": ref.count_distinct("msg"), "first": ref.first("msg"), "last": ref.last("msg"),
                "df": ref.count_distinct("f"), "lf": ref.last("f")}
    for window, ref_window in [(fs.Tumbling(50), ref.Tumbling(50)), (fs.Hopping(60, 20), ref.Hopping(60, 20))]:
        agg = fs.WindowAggregator(window, time="ts", key="service", aggs=fs_aggs, watermark=25)
        oracle = ref.WindowAggregator(ref_window, time="ts", key="service", aggs=ref_aggs, watermark=25)
        got, want = [], []
        for i in range(0, len(events), 2_500):
            part = events[i:i + 2_500]
            got += _window_rows(agg.push(pa.Table.from_pylist(part, schema=pa.schema(
                [("ts", pa.int64()), ("service", pa.string()), ("msg", pa.string()), ("f", pa.float64())]))))
            want += oracle.push(part)
            if i % 10_000 == 5_000:
                agg = fs.WindowAggregator.restore(agg.snapshot())
        got += _window_rows(agg.flush())
        want += oracle.flush()
        order = lambda r: (r["window_start"], r["service"])  # noqa: E731
        assert len(got) == len(want) > 1_000
        assert sorted(got, key=order) == sorted(want, key=order)


def test_sessions_keep_the_right_values_across_sweeps_and_snapshots() -> None:
    rng = random.Random(11)
    events, clock = [], 1_700_000_000_000
    for _ in range(30_000):
        clock += rng.choice([0, 1_000, 60_000, GAP + 1])
        user = rng.randint(0, 200)
        events.append((user, clock + rng.randint(0, 5_000), f"/page/{rng.randint(0, 10**9)}" if rng.random() < 0.9 else None))
    cuts = list(range(1_000, len(events), 1_000))
    out, ids, s = run(make(bound=10_000), events, cuts, snapshot_at={3, 9, 17})
    want = sessionize(events, GAP)
    assert len(out) == len(want) > 5_000
    assert sorted(out, key=key_of) == sorted(want, key=key_of)
    assert len(set(ids)) == len(ids)


def test_a_restore_before_any_value_then_flush_emits_nothing() -> None:
    # The value interner learns its type from the first value; restored before any, it has none.
    s = make(bound=0)
    s.push(pa.table({"user_id": pa.array([], pa.int64()), "ts": pa.array([], pa.int64()), "page": pa.array([], pa.string())}))
    s = fs.Sessionizer.restore(s.snapshot())
    out = s.flush()
    assert out.num_rows == 0 and out.schema.field("first_page").type == pa.string()
