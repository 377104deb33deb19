"""A plain pure-Python sessionizer: the oracle for the Sessionizer's tests and the pure-Python
baseline of the sessionization benchmark. Batch form: sort each user's events by time and split on
gaps larger than ``gap``; streaming form (``StreamingSessionizer``) works one event at a time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable


@dataclass
class Session:
    key: Hashable
    start: int
    end: int
    events: int
    pages: set[Any] = field(default_factory=set)
    first: tuple[int, int, Any] | None = None  # (time, arrival, page)
    last: tuple[int, int, Any] | None = None

    def add(self, t: int, seq: int, page: Any) -> None:
        self.start = min(self.start, t)
        self.end = max(self.end, t)
        self.events += 1
        if page is not None:
            self.pages.add(page)
        if self.first is None or (t, seq) < self.first[:2]:
            self.first = (t, seq, page)
        if self.last is None or (t, seq) > self.last[:2]:
            self.last = (t, seq, page)

    def merge(self, other: "Session") -> None:
        """Absorb ``other`` (a session this one now touches): every aggregate, first and last included."""
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)
        self.events += other.events
        self.pages |= other.pages
        assert self.first is not None and other.first is not None and self.last is not None and other.last is not None
        self.first = min(self.first, other.first, key=lambda item: item[:2])
        self.last = max(self.last, other.last, key=lambda item: item[:2])

    def row(self) -> dict[str, Any]:
        assert self.first is not None and self.last is not None
        return {
            "key": self.key,
            "session_start": self.start,
            "session_end": self.end,
            "duration_ms": self.end - self.start,
            "page_views": self.events,
            "pages": len(self.pages),
            "first_page": self.first[2],
            "last_page": self.last[2],
        }


def sessionize(events: Iterable[tuple[Hashable, int, Any]], gap: int, max_duration: int | None = None) -> list[dict[str, Any]]:
    """Sessions of ``(key, time, page)`` events given in arrival order."""
    by_key: dict[Hashable, list[tuple[int, int, Any]]] = defaultdict(list)
    for seq, (key, t, page) in enumerate(events):
        by_key[key].append((t, seq, page))
    rows = []
    for key, items in by_key.items():
        items.sort(key=lambda item: (item[0], item[1]))
        session: Session | None = None
        previous = None
        for t, seq, page in items:
            new = session is None or previous is None or t - previous > gap
            if not new and max_duration is not None and session is not None and t - session.start > max_duration:
                new = True
            if new:
                if session is not None:
                    rows.append(session.row())
                session = Session(key, t, t, 0)
            assert session is not None
            session.add(t, seq, page)
            previous = t
        if session is not None:
            rows.append(session.row())
    return rows


def late_events(events: list[tuple[Hashable, int, Any]], gap: int, bound: int, lateness: int) -> list[bool]:
    """Which events the Sessionizer's lateness rule sends to the late output, simulated one event
    at a time with plain lists: sessions close (logically) as soon as the watermark reaches
    ``end + gap + lateness``; an event is late when it could touch a closed session."""
    sessions: dict[Hashable, list[list[int]]] = defaultdict(list)  # key -> [[start, end], ...]
    tombstones: set[Hashable] = set()  # keys with a session closed at exactly the current watermark
    tombstones_at: int | None = None
    max_time: int | None = None
    flags = []
    for key, t, _ in events:
        watermark = None if max_time is None else max_time - bound
        late = False
        if watermark is not None:
            if tombstones_at != watermark:
                tombstones, tombstones_at = set(), watermark
            for k, spans in sessions.items():
                for span in [sp for sp in spans if sp[1] + gap + lateness <= watermark]:
                    spans.remove(span)
                    if span[1] + gap + lateness == watermark:
                        tombstones.add(k)
            touched = sorted(sp for sp in sessions[key] if sp[0] - gap <= t <= sp[1] + gap)
            behind = t + lateness - watermark
            if behind > 0 or (touched and touched[0][0] <= t):
                late = False
            elif behind == 0 and key not in tombstones:
                late = False
            else:
                late = True
        flags.append(late)
        if late:
            continue
        touched = [sp for sp in sessions[key] if sp[0] - gap <= t <= sp[1] + gap]
        merged = [min([t] + [sp[0] for sp in touched]), max([t] + [sp[1] for sp in touched])]
        sessions[key] = [sp for sp in sessions[key] if sp not in touched] + [merged]
        max_time = t if max_time is None else max(max_time, t)
    return flags


class StreamingSessionizer:
    """One event at a time, the way a hand-written Python consumer would do it (the benchmark's
    pure-Python baseline): per-key open sessions, merging, and closing by watermark."""

    def __init__(self, gap: int, bound: int) -> None:
        self.gap = gap
        self.bound = bound
        self.open: dict[Hashable, list[Session]] = {}
        self.max_time: int | None = None
        self.seq = 0
        self.late = 0

    def push(self, key: Hashable, t: int, page: Any) -> None:
        watermark = None if self.max_time is None else self.max_time - self.bound
        if watermark is not None and t <= watermark:
            self.late += 1
            return
        sessions = self.open.setdefault(key, [])
        touching = [s for s in sessions if s.start - self.gap <= t <= s.end + self.gap]
        if not touching:
            session = Session(key, t, t, 0)
            sessions.append(session)
        else:
            session = touching[0]
            for other in touching[1:]:
                session.merge(other)
                sessions.remove(other)
        session.add(t, self.seq, page)
        self.seq += 1
        self.max_time = t if self.max_time is None else max(self.max_time, t)

    def close_due(self) -> list[dict[str, Any]]:
        if self.max_time is None:
            return []
        watermark = self.max_time - self.bound
        out = []
        for key in list(self.open):
            keep = []
            for s in self.open[key]:
                (out.append(s.row()) if watermark >= s.end + self.gap else keep.append(s))
            if keep:
                self.open[key] = keep
            else:
                del self.open[key]
        return out

    def flush(self) -> list[dict[str, Any]]:
        out = [s.row() for sessions in self.open.values() for s in sessions]
        self.open.clear()
        return out
