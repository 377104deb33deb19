"""The Sessionizer against the pure-Python reference (sort by key and time, split on gaps), over
random streams, batch cuts, disorder, late events and snapshot/restore; plus its Python surface."""

from __future__ import annotations

import pickle
import random
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fleetstream as fs

from .session_reference import late_events, sessionize

MIN = 60_000
GAP = 30 * MIN
AGGS = {
    "page_views": fs.count(),
    "pages": fs.count_distinct("page"),
    "first_page": fs.first("page"),
    "last_page": fs.last("page"),
}


def make(bound: int, lateness: int = 0, max_duration: int | None = None, threads: int = 1) -> fs.Sessionizer:
    return fs.Sessionizer(gap=GAP, key="user_id", time="ts", watermark=bound, allowed_lateness=lateness,
                          aggs=AGGS, max_duration=max_duration, threads=threads)


def to_table(events: list[tuple[Any, int, Any]]) -> pa.Table:
    return pa.table({
        "user_id": pa.array([e[0] for e in events], pa.int64()),
        "ts": pa.array([e[1] for e in events], pa.int64()),
        "page": pa.array([e[2] for e in events], pa.string()),
    })


def rows(table: pa.Table) -> list[dict[str, Any]]:
    out = []
    for r in table.to_pylist():
        out.append({
            "key": r["user_id"],
            "session_start": int(r["session_start"].timestamp() * 1000),
            "session_end": int(r["session_end"].timestamp() * 1000),
            "duration_ms": r["duration_ms"],
            "page_views": r["page_views"],
            "pages": r["pages"],
            "first_page": r["first_page"],
            "last_page": r["last_page"],
        })
    return out


def run(s: fs.Sessionizer, events: list[tuple[Any, int, Any]], cuts: list[int], snapshot_at: set[int] = set()) -> tuple[list[dict[str, Any]], list[int], fs.Sessionizer]:
    out: list[dict[str, Any]] = []
    ids: list[int] = []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(events)), len(events)]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        closed = s.push(to_table(events[lo:hi]))
        out += rows(closed)
        ids += closed["session_id"].to_pylist()
        if i in snapshot_at:
            threads = s.threads
            s = fs.Sessionizer.restore(s.snapshot())
            s.threads = threads
    closed = s.flush()
    return out + rows(closed), ids + closed["session_id"].to_pylist(), s


def key_of(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["key"], row["session_start"])


@st.composite
def streams(draw: st.DrawFn, max_disorder: int) -> list[tuple[int, int, str]]:
    """Events of a few users in time order with gaps around the 30-minute boundary, then shuffled
    by at most ``max_disorder`` ms of arrival delay."""
    users = draw(st.integers(1, 5))
    n = draw(st.integers(0, 80))
    gaps = st.sampled_from([0, 1, MIN, 5 * MIN, GAP - 1, GAP, GAP + 1, 2 * GAP])
    clock = {u: 1_700_000_000_000 + draw(st.integers(0, GAP)) for u in range(users)}
    events = []
    for _ in range(n):
        u = draw(st.integers(0, users - 1))
        clock[u] += draw(gaps)
        events.append((u, clock[u], draw(st.sampled_from(["/", "/cart", "/pay", None]))))
    events.sort(key=lambda e: e[1])
    delays = [draw(st.integers(0, max_disorder)) for _ in events]
    order = sorted(range(len(events)), key=lambda i: (events[i][1] + delays[i], i))
    return [events[i] for i in order]


@settings(max_examples=150, deadline=None)
@given(events=streams(max_disorder=10_000), data=st.data())
def test_matches_the_reference_under_disorder_within_the_bound(events: list[tuple[int, int, str]], data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, max(len(events), 1)), max_size=6))
    snapshot_at = set(data.draw(st.lists(st.integers(0, 6), max_size=3)))
    out, ids, s = run(make(bound=10_000), events, cuts, snapshot_at)
    assert sorted(out, key=key_of) == sorted(sessionize(events, GAP), key=key_of)
    assert s.take_late().num_rows == 0
    assert len(set(ids)) == len(ids)


@settings(max_examples=150, deadline=None)
@given(events=streams(max_disorder=3 * GAP), bound=st.sampled_from([0, 10_000, GAP]),
       lateness=st.sampled_from([0, MIN]), data=st.data())
def test_late_events_go_to_the_late_output_and_the_rest_match_the_reference(
    events: list[tuple[int, int, str]], bound: int, lateness: int, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, max(len(events), 1)), max_size=6))
    out, _, s = run(make(bound, lateness), events, cuts, {0, 2})
    flags = late_events(events, GAP, bound, lateness)
    on_time = [e for e, late in zip(events, flags) if not late]
    assert sorted(out, key=key_of) == sorted(sessionize(on_time, GAP), key=key_of)
    late = s.take_late()
    assert late.num_rows == sum(flags)
    assert sorted(late["ts"].to_pylist()) == sorted(e[1] for e, f in zip(events, flags) if f)
    assert s.stats()["rows_in"] == len(events)


@settings(max_examples=80, deadline=None)
@given(events=streams(max_disorder=10_000), max_duration=st.sampled_from([MIN, 10 * MIN, 2 * GAP]), data=st.data())
def test_max_duration_splits_like_the_reference(events: list[tuple[int, int, str]], max_duration: int, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, max(len(events), 1)), max_size=4))
    out, _, _ = run(make(10_000, max_duration=max_duration), events, cuts, {1})
    assert sorted(out, key=key_of) == sorted(sessionize(events, GAP, max_duration), key=key_of)


@settings(max_examples=60, deadline=None)
@given(events=streams(max_disorder=3 * GAP), threads=st.integers(2, 4), data=st.data())
def test_threads_split_keys_without_changing_sessions_ids_or_late_rows(
    events: list[tuple[int, int, str]], threads: int, data: st.DataObject
) -> None:
    cuts = data.draw(st.lists(st.integers(0, max(len(events), 1)), max_size=6))
    one, one_ids, s1 = run(make(0, MIN), events, cuts)
    many, many_ids, s2 = run(make(0, MIN, threads=threads), events, cuts, {1})
    assert many == one and many_ids == one_ids  # same rows in the same order
    assert s2.take_late().equals(s1.take_late())
    flags = late_events(events, GAP, 0, MIN)
    assert sorted(one, key=key_of) == sorted(sessionize([e for e, f in zip(events, flags) if not f], GAP), key=key_of)


@pytest.mark.slow
def test_threads_on_large_pushes_match_one_thread_and_the_reference() -> None:
    # Pushes of 17k rows are worked on two threads (small ones stay on the calling thread).
    rng = random.Random(11)
    clock = {u: 1_700_000_000_000 + rng.randrange(0, GAP) for u in range(2_000)}
    events = []
    for _ in range(40_000):
        u = rng.randrange(2_000)
        clock[u] += rng.choice([MIN, 5 * MIN, GAP, GAP + 1, 3 * GAP])
        events.append((u, clock[u], rng.choice(["/", "/cart", None])))
    events.sort(key=lambda e: e[1] + rng.randrange(0, 10_000))  # disorder within the 10 s bound
    cuts = [17_000, 34_000]
    one, one_ids, s1 = run(make(10_000), events, cuts)
    two, two_ids, s2 = run(make(10_000, threads=2), events, cuts, {0})
    assert two == one and two_ids == one_ids
    assert s1.take_late().num_rows == 0 and s2.take_late().num_rows == 0
    assert sorted(one, key=key_of) == sorted(sessionize(events, GAP), key=key_of)


def test_threads_is_a_setting_not_state() -> None:
    s = make(0, threads=3)
    s.push(to_table([(1, 0, "/"), (2, 5, "/")]))
    assert s.threads == 3
    clone = fs.Sessionizer.restore(s.snapshot())
    assert clone.threads == 1
    clone.threads = 2
    assert clone.open_keys == 2 and clone.flush().equals(s.flush())
    for bad in (0, -1, 1.5, True):
        with pytest.raises(fs.ConfigError, match="threads"):
            clone.threads = bad  # type: ignore[assignment]
    with pytest.raises(fs.ConfigError, match="threads"):
        fs.Sessionizer(threads=0)


def test_session_ids_do_not_depend_on_batch_cuts() -> None:
    rng = random.Random(3)
    events = sorted(((rng.randrange(20), rng.randrange(0, 10 * GAP), "/") for _ in range(500)), key=lambda e: e[1])
    _, whole, _ = run(make(0), events, [])
    _, cut, _ = run(make(0), events, list(range(0, 500, 7)), {3, 9})
    assert sorted(whole) == sorted(cut) and len(set(whole)) == len(whole)


def test_gap_of_exactly_thirty_minutes_keeps_the_session() -> None:
    s = make(0)
    closed = s.push(to_table([(1, 0, "/"), (1, GAP, "/cart"), (1, 2 * GAP + 1, "/")]))
    first = rows(closed)[0]
    assert (first["session_start"], first["session_end"], first["page_views"]) == (0, GAP, 2)
    assert first["first_page"] == "/" and first["last_page"] == "/cart"


def test_bridging_event_merges_two_sessions() -> None:
    s = make(bound=2 * GAP)
    s.push(to_table([(1, 0, "/"), (1, GAP + MIN, "/b")]))
    s.push(to_table([(1, GAP // 2, "/a")]))
    out = rows(s.flush())
    assert [(r["session_start"], r["session_end"], r["page_views"]) for r in out] == [(0, GAP + MIN, 3)]
    assert s.stats()["sessions_merged"] == 1


def test_events_at_the_watermark_are_on_time_unless_they_touch_a_session_closed_there() -> None:
    s = make(0)
    s.push(to_table([(1, 0, "/"), (2, 0, "/"), (3, 5 * MIN, "/")]))  # same millisecond: all on time
    closed = s.push(to_table([(9, GAP, "/")]))  # watermark GAP closes users 1 and 2 (end 0 + GAP)
    assert sorted(rows(closed), key=key_of)[0]["key"] == 1
    s.push(to_table([(1, GAP, "/x"), (4, GAP, "/y")]))  # user 1 would change an emitted session
    late = s.take_late().to_pydict()
    assert late["user_id"] == [1] and "emitted" in late["reason"][0]
    s.push(to_table([(3, 6 * MIN, "/")]))  # behind the watermark, but within user 3's open session
    assert s.take_late().num_rows == 0
    assert s.stats()["rows_late"] == 1


def test_memory_holds_only_open_sessions() -> None:
    s = make(0)
    s.push(to_table([(u, 0, "/") for u in range(1000)]))
    assert s.open_sessions == 1000
    s.push(to_table([(0, 10 * GAP, "/")]))
    assert s.open_sessions == 1 and s.open_keys == 1


def test_bad_input_is_rejected_with_reasons() -> None:
    s = fs.Sessionizer(gap="30m", key="user_id")
    s.push(pa.table({"user_id": [1, 2, 3], "ts": pa.array([5, None, -3], pa.int64())}))
    rejects = s.take_rejects().to_pydict()
    assert rejects["row"] == [1, 2] and "null" in rejects["reason"][0] and "1970" in rejects["reason"][1]
    with pytest.raises(fs.SchemaError, match='"user_id"'):
        s.push(pa.table({"ts": [1]}))
    with pytest.raises(fs.ConfigError, match="gap"):
        fs.Sessionizer(gap=0)
    with pytest.raises(fs.SnapshotError):
        fs.Sessionizer.restore(fs.WindowAggregator(window=fs.Tumbling("1m")).snapshot())


def test_pickle_round_trip_and_repr() -> None:
    s = make(0)
    s.push(to_table([(1, 0, "/")]))
    clone = pickle.loads(pickle.dumps(s))
    assert clone.flush().equals(s.flush())
    assert "Sessionizer(gap=1800000ms" in repr(s)


@settings(max_examples=60, deadline=None)
@given(events=streams(max_disorder=0), nulls=st.lists(st.integers(0, 10_000), max_size=8), threads=st.integers(1, 3),
       data=st.data())
def test_null_keys_are_rejected_by_default_or_grouped_on_request(events: list[tuple[Any, int, str]], nulls: list[int],
                                                                 threads: int, data: st.DataObject) -> None:
    """Events of no user were all one user's session: by default they are rejects (with the
    reason, counted), and the other users' sessions are those of the stream without them;
    ``null_keys="group"`` makes null one more key, as the reference does."""
    with_nulls = list(events)
    for i in nulls:  # a null-key event next to a real one, at its time
        at = i % (len(with_nulls) + 1)
        with_nulls.insert(at, (None, with_nulls[at - 1][1] if at else 0, "/x"))
    cuts = data.draw(st.lists(st.integers(0, max(len(with_nulls), 1)), max_size=4))
    rejected = make(0, MIN, threads=threads)
    assert rejected.null_keys == "reject"
    out, _, s = run(rejected, with_nulls, cuts, {1})
    assert sorted(out, key=key_of) == sorted(sessionize(events, GAP), key=key_of)
    reasons = s.take_rejects()
    assert reasons.num_rows == s.stats()["rows_rejected"] == len(nulls)
    assert all(r.startswith("key is null") for r in reasons["reason"].to_pylist())
    assert reasons["user_id"].null_count == len(nulls)
    grouped = fs.Sessionizer(gap=GAP, key="user_id", time="ts", watermark=0, allowed_lateness=MIN, aggs=AGGS,
                             threads=threads, null_keys="group")
    out, _, s = run(grouped, with_nulls, cuts, {1})
    assert s.null_keys == "group"  # kept by the snapshot taken in between
    assert sorted(out, key=lambda r: (r["key"] is None, r["key"] or 0, r["session_start"])) == sorted(
        sessionize(with_nulls, GAP), key=lambda r: (r["key"] is None, r["key"] or 0, r["session_start"]))


def test_null_keys_in_string_and_multi_column_keys_and_older_snapshots() -> None:
    table = pa.table({"tenant": ["a", "a", None, "b"], "user": ["u1", None, "u1", "u2"], "ts": [0, 1, 2, 3]})
    both = fs.Sessionizer(gap="30m", key=["tenant", "user"])
    assert both.push(table).num_rows == 0
    assert both.take_rejects()["row"].to_pylist() == [1, 2]  # a null in any key column
    assert [(r["tenant"], r["user"]) for r in both.flush().to_pylist()] == [("a", "u1"), ("b", "u2")]
    one = fs.Sessionizer(gap="30m", key="user", null_keys="group")
    one.push(table)
    assert sorted(((r["user"] or ""), r["page_views"]) for r in one.flush().to_pylist()) == [("", 1), ("u1", 2), ("u2", 1)]
    # A snapshot taken before null_keys existed is this one without its last byte: null keys were
    # grouped then, and stay grouped after the restore.
    old = fs.Sessionizer(gap="30m", key="user")
    old.push(table.slice(0, 1))
    assert fs.Sessionizer.restore(old.snapshot()).null_keys == "reject"
    assert fs.Sessionizer.restore(old.snapshot()[:-1]).null_keys == "group"
    with pytest.raises(fs.ConfigError, match='null_keys must be "reject" or "group"'):
        fs.Sessionizer(null_keys="drop")  # type: ignore[arg-type]
