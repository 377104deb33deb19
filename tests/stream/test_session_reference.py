"""The two pure-Python session references agree: the streaming one (one event at a time, merging
sessions a late event bridges; the benchmark's Python baseline) with the batch one (sort and split
on gaps; the Sessionizer's oracle). A reference that is wrong makes every test and checksum built
on it wrong, so it is checked on its own."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from .session_reference import Session, StreamingSessionizer, sessionize
from .test_sessionizer import GAP, MIN, key_of, streams


def streamed(events: list[tuple[int, int, Any]], bound: int) -> tuple[list[dict[str, Any]], int]:
    s = StreamingSessionizer(GAP, bound)
    out: list[dict[str, Any]] = []
    for key, t, page in events:
        s.push(key, t, page)
        out += s.close_due()
    return out + s.flush(), s.late


def test_a_bridging_event_keeps_the_first_and_last_of_both_sessions() -> None:
    # Two sessions 40 minutes apart; a late click at 20 minutes bridges them into one.
    events = [(1, 0, "/a"), (1, 40 * MIN, "/c"), (1, 20 * MIN, "/b")]
    rows, late = streamed(events, bound=3 * GAP)
    assert late == 0
    assert len(rows) == 1
    assert (rows[0]["first_page"], rows[0]["last_page"], rows[0]["page_views"]) == ("/a", "/c", 3)
    assert rows == sessionize(events, GAP)


def test_merge_takes_the_earliest_first_and_the_latest_last() -> None:
    early, late = Session("u", 10, 10, 0), Session("u", 5, 50, 0)
    early.add(10, 7, "x")
    late.add(5, 9, "first")
    late.add(50, 3, "last")
    early.merge(late)
    assert (early.start, early.end, early.events) == (5, 50, 3)
    assert (early.first, early.last) == ((5, 9, "first"), (50, 3, "last"))


@settings(max_examples=200, deadline=None)
@given(events=streams(max_disorder=3 * GAP))
def test_streaming_reference_matches_the_batch_reference(events: list[tuple[int, int, Any]]) -> None:
    # A watermark bound above the disorder: no event is late, so both see the same events.
    rows, late = streamed(events, bound=3 * GAP + 1)
    assert late == 0
    assert sorted(rows, key=key_of) == sorted(sessionize(events, GAP), key=key_of)
