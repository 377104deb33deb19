"""The Sessionizer keyed by one string or binary column (cookies, UUIDs, tenant names) against the
pure-Python reference: every Arrow layout of the column (plain, large, view, dictionary, binary),
null and empty keys, multi-byte characters, keys that are prefixes of others, disorder, late events,
threads and snapshot/restore. Such keys are interned from the column's own bytes, so these check that
what comes out (keys, order, session ids, rejects) is what the row-encoded path gave."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fleetstream as fs

from .session_reference import late_events, sessionize
from .test_sessionizer import AGGS, GAP, MIN, streams

NAMES = [None, "", "a", "ab", "user-1", "user-10", "user-2", "ü-ß-東京", "0f8fad5b-d9cb-469f-a165-70867728950e",
         "0f8fad5b-d9cb-469f-a165-70867728950f", "x" * 40]
LAYOUTS = ["string", "large_string", "string_view", "dictionary", "binary"]


def key_array(keys: list[Any], layout: str) -> pa.Array:
    if layout == "binary":
        return pa.array([None if k is None else k.encode() for k in keys], pa.binary())
    if layout == "dictionary":
        return pa.array(keys, pa.string()).dictionary_encode()
    return pa.array(keys, getattr(pa, layout)())


def to_table(events: list[tuple[Any, int, Any]], layout: str) -> pa.Table:
    return pa.table({
        "user": key_array([e[0] for e in events], layout),
        "ts": pa.array([e[1] for e in events], pa.int64()),
        "page": pa.array([e[2] for e in events], pa.string()),
    })


def run(events: list[tuple[Any, int, Any]], layout: str, cuts: list[int], snapshots: set[int], *, bound: int,
        lateness: int = 0, threads: int = 1, max_key_bytes: int | None = None) -> tuple[list[dict[str, Any]], fs.Sessionizer]:
    extra = {} if max_key_bytes is None else {"max_key_bytes": max_key_bytes}
    s = fs.Sessionizer(null_keys="group", gap=GAP, key="user", time="ts", watermark=bound, allowed_lateness=lateness, aggs=AGGS,
                       threads=threads, **extra)
    out: list[dict[str, Any]] = []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(events)), len(events)]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        out += rows(s.push(to_table(events[lo:hi], layout)))
        if i in snapshots:
            s = fs.Sessionizer.restore(s.snapshot())
            s.threads = threads
    return out + rows(s.flush()), s


def rows(table: pa.Table) -> list[dict[str, Any]]:
    out = []
    for r in table.to_pylist():
        key = r["user"]
        out.append({
            "key": key.decode() if isinstance(key, bytes) else key,
            "session_id": r["session_id"],
            "session_start": int(r["session_start"].timestamp() * 1000),
            "session_end": int(r["session_end"].timestamp() * 1000),
            "duration_ms": r["duration_ms"],
            "page_views": r["page_views"],
            "pages": r["pages"],
            "first_page": r["first_page"],
            "last_page": r["last_page"],
        })
    # Each push's rows come in output order: by end, then key (null first, then by bytes), then start.
    order = [(r["session_end"], r["key"] is not None, (r["key"] or "").encode(), r["session_start"]) for r in out]
    assert order == sorted(order)
    return out


def without_ids(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in r.items() if k != "session_id"} for r in out),
                  key=lambda r: (r["key"] is not None, r["key"] or "", r["session_start"]))


@st.composite
def keyed_streams(draw: st.DrawFn, max_disorder: int) -> list[tuple[Any, int, Any]]:
    events = draw(streams(max_disorder=max_disorder))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=5, max_size=5, unique=True))
    return [(names[u], t, page) for u, t, page in events]


@settings(max_examples=120, deadline=None)
@given(events=keyed_streams(max_disorder=3 * GAP), bound=st.sampled_from([0, 10_000, GAP]), lateness=st.sampled_from([0, MIN]),
       layout=st.sampled_from(LAYOUTS), threads=st.integers(1, 3), data=st.data())
def test_string_keys_match_the_reference_in_every_layout(events: list[tuple[Any, int, Any]], bound: int, lateness: int,
                                                         layout: str, threads: int, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, max(len(events), 1)), max_size=5))
    snapshots = set(data.draw(st.lists(st.integers(0, 5), max_size=2)))
    out, s = run(events, layout, cuts, snapshots, bound=bound, lateness=lateness, threads=threads)
    flags = late_events(events, GAP, bound, lateness)
    want = sessionize([e for e, late in zip(events, flags) if not late], GAP)
    assert without_ids(out) == sorted(want, key=lambda r: (r["key"] is not None, r["key"] or "", r["session_start"]))
    assert s.take_late().num_rows == sum(flags)
    ids = [r["session_id"] for r in out]
    assert len(set(ids)) == len(ids)
    # The same rows, ids and order as plain strings on one thread in one push.
    plain, _ = run(events, "string", [], set(), bound=bound, lateness=lateness)
    if not cuts and not snapshots:
        assert out == plain
    assert sorted(ids) == sorted(r["session_id"] for r in plain)


def test_session_ids_of_string_keys_are_those_earlier_versions_gave() -> None:
    # Ids hash the key's Arrow row encoding and the start; these were printed by the version that
    # row-encoded every string key (commit 13a29d7), and must not change: users join on them.
    events = [("alice", 0, "/"), ("ü-ß-東京", 5, "/"), ("0f8fad5b-d9cb-469f-a165-70867728950e", 7, "/"), ("", 9, "/"),
              ("bob", 1_000, "/a"), (None, 2_000, "/b"), ("alice", 3 * GAP, "/c")]
    pinned = {("alice", 0): 2935065276264905496, ("ü-ß-東京", 5): -2335751592819719648,
              ("0f8fad5b-d9cb-469f-a165-70867728950e", 7): 19965367559993642, ("", 9): 8772655408279596229,
              ("bob", 1_000): 6284934974281325204, (None, 2_000): 7659312633050855006,
              ("alice", 3 * GAP): -2206350595691519363}
    for layout in LAYOUTS[:4]:
        for threads in (1, 2):
            out, _ = run(events, layout, [2, 5], {0}, bound=0, threads=threads)
            assert {(r["key"], r["session_start"]): r["session_id"] for r in out} == pinned, (layout, threads)


def test_long_string_keys_are_rejected_with_their_length() -> None:
    events = [("short", 0, "/"), ("a-much-longer-key", 1, "/"), (None, 2, "/"), ("ü" * 5, 3, "/")]
    for layout in LAYOUTS:
        s = fs.Sessionizer(null_keys="group", gap=GAP, key="user", time="ts", aggs=AGGS, max_key_bytes=8)
        s.push(to_table(events, layout))
        rejects = s.take_rejects().to_pydict()
        assert rejects["row"] == [1, 3], layout
        assert "17 bytes" in rejects["reason"][0] and "10 bytes" in rejects["reason"][1]
        assert sorted(r["key"] or "" for r in rows(s.flush())) == ["", "short"]
        assert s.stats()["rows_in"] == 4


@pytest.mark.parametrize("layout", LAYOUTS)
def test_snapshot_of_string_keys_restores_across_layouts(layout: str) -> None:
    # A snapshot keeps keys as values: taken while fed one layout, it resumes on another.
    first = [("u1", 0, "/"), ("u2", 10, "/x"), (None, 20, "/y")]
    later = [("u1", 1_000, "/z"), ("u3", 2_000, "/")]
    s = fs.Sessionizer(null_keys="group", gap=GAP, key="user", time="ts", aggs=AGGS)
    s.push(to_table(first, "string"))
    restored = fs.Sessionizer.restore(s.snapshot())
    if layout == "binary":
        with pytest.raises(fs.SchemaError):
            restored.push(to_table(later, layout))
        return
    restored.push(to_table(later, layout))
    got = without_ids(rows(restored.flush()))
    assert got == sorted(sessionize(first + later, GAP), key=lambda r: (r["key"] is not None, r["key"] or "", r["session_start"]))


@pytest.mark.parametrize("rows", [0, 3])
def test_a_dictionary_without_values_holds_null_keys(rows: int) -> None:
    # Arrow cannot normalise the codes of a dictionary without values; every row's key is null.
    keys = pa.DictionaryArray.from_arrays(pa.array([None] * rows, pa.int32()), pa.array([], pa.string()))
    table = pa.table({"user": keys, "ts": pa.array(range(rows), pa.int64()), "page": pa.array(["/"] * rows)})
    s = fs.Sessionizer(null_keys="group", gap=GAP, key="user", time="ts", aggs=AGGS)
    s.push(table)
    assert [(r["user"], r["page_views"]) for r in s.flush().to_pylist()] == ([(None, 3)] if rows else [])
    w = fs.WindowAggregator(fs.Tumbling(10), key="user", time="ts")
    w.push(table)
    assert [(r["user"], r["count"]) for r in w.flush().to_pylist()] == ([(None, 3)] if rows else [])
