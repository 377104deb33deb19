"""Two-phase sessionization: partial sessions per input partition, then a merge per key.

Phase 1 runs a :class:`~fleetstream.Sessionizer` on every *input* partition as it is (no shuffle):
its sessions are partial, clusters of the events that partition saw, but there are far fewer of
them than events. Phase 2 shuffles only those partial sessions by key and merges them: sorted by
start per key, a partial joins the current session when it starts at most ``gap`` after the
latest end so far (:func:`fleetstream._core.merge_sorted_partial_sessions`). That is exact:
adding events can only merge clusters, never split them.

Only aggregates whose partial results combine exactly are run this way: ``count``, ``sum``,
``min``, ``max``, ``mean`` (as a sum and a count), ``first`` and ``last``; ``count_distinct``,
``quantile`` and ``max_duration`` need every event of a session in one place and use the
one-phase path. Float sums and means may differ from the single-process operator in the last
bits, because the additions happen in another order; an integer sum is null when its total
leaves the int64 range (the single-process operator also turns null when a running sum
overflows on the way).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleetstream import _core
from fleetstream.stream import aggregates as A
from fleetstream.stream.aggregates import Agg

#: Aggregates whose partial results combine exactly (see the module docstring).
MERGEABLE = frozenset({"count", "sum", "min", "max", "mean", "first", "last"})

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def mergeable(aggs: Mapping[str, Agg], max_duration: object) -> bool:
    return max_duration is None and all(agg.kind in MERGEABLE for agg in aggs.values())


def partial_aggs(aggs: Mapping[str, Agg]) -> dict[str, Agg]:
    """The phase-1 aggregates: for each output ``name``, ``name`` itself (sum, min, max, first,
    last, count) and, for sums and means, the count of non-null values as ``name`` + ``#n``."""
    partial: dict[str, Agg] = {}
    for name, agg in aggs.items():
        if agg.kind == "mean":
            assert agg.column is not None
            partial[name] = A.sum(agg.column)
        else:
            partial[name] = agg
        if agg.kind in ("sum", "mean"):
            assert agg.column is not None
            partial[name + "#n"] = A.count(agg.column)
    return partial


class PartialMerger:
    """The picklable phase-2 function for ``mapInArrow``: all partial sessions of one shuffle
    partition (every partial of a key is in the same partition) merged into sessions."""

    def __init__(self, keys: Sequence[str], gap_ms: int, aggs: Mapping[str, Agg], target: pa.Schema) -> None:
        self.keys = list(keys)
        self.gap_ms = gap_ms
        self.aggs = dict(aggs)
        self.target = target

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        partials = pa.Table.from_batches(list(batches))
        if partials.num_rows:
            yield from self.merge(partials).to_batches()

    def merge(self, partials: pa.Table) -> pa.Table:
        ms = pa.timestamp("ms", tz="UTC")
        start = pc.cast(pc.cast(partials.column("session_start"), ms), pa.int64())
        end = pc.cast(pc.cast(partials.column("session_end"), ms), pa.int64())
        partials = partials.append_column("#start", start).append_column("#end", end)
        partials = partials.sort_by([*((k, "ascending") for k in self.keys), ("#start", "ascending")])
        partials = partials.combine_chunks()
        session = _core.merge_sorted_partial_sessions(
            pa.table({"new_key": self._new_key(partials), "start": partials.column("#start"), "end": partials.column("#end")}),
            self.gap_ms,
        ).column("session")
        index = session.to_numpy()
        # Rows of a session are consecutive and sorted by start: its first row has the earliest start
        # (so the session id, which is a function of key and start) and the `first` values.
        first_rows = np.flatnonzero(np.diff(index, prepend=-1))
        # The row with the latest end of each session holds its `last` values.
        by_end = np.lexsort((partials.column("#end").to_numpy(), index))
        last_rows = by_end[np.append(np.flatnonzero(np.diff(index[by_end])), len(index) - 1)]
        first = partials.take(pa.array(first_rows))
        last = partials.take(pa.array(last_rows))

        totals = self._totals(partials.append_column("#session", session))
        starts = first.column("#start")
        ends = last.column("#end")
        columns: dict[str, pa.Array | pa.ChunkedArray] = {k: first.column(k) for k in self.keys}
        columns["session_id"] = first.column("session_id")
        columns["session_start"] = pc.cast(starts, ms)
        columns["session_end"] = pc.cast(ends, ms)
        columns["duration_ms"] = pc.subtract(ends, starts)
        for name, agg in self.aggs.items():
            if agg.kind == "first":
                columns[name] = first.column(name)
            elif agg.kind == "last":
                columns[name] = last.column(name)
            else:
                columns[name] = self._combine(name, agg, totals)
        return pa.table(columns).select(self.target.names).cast(self.target)

    def _new_key(self, partials: pa.Table) -> pa.Array:
        """True where a row's key differs from the previous row's (nulls equal to nulls)."""
        n = partials.num_rows
        flags = np.zeros(n, dtype=bool)
        if n:
            flags[0] = True
        for k in self.keys:
            column = partials.column(k)
            a, b = column.slice(1), column.slice(0, n - 1)
            differ = pc.fill_null(pc.not_equal(a, b), False)
            null_differs = pc.not_equal(pc.is_null(a), pc.is_null(b))
            flags[1:] |= pc.or_(differ, null_differs).to_numpy(zero_copy_only=False)
        return pa.array(flags)

    def _totals(self, partials: pa.Table) -> pa.Table:
        """Per session (sorted by index): sums of counts and sums, minima and maxima."""
        wanted: list[tuple[str, str]] = []
        decimal = pa.decimal128(38, 0)
        for name, agg in self.aggs.items():
            if agg.kind in ("count", "min", "max"):
                wanted.append((name, "sum" if agg.kind == "count" else agg.kind))
            elif agg.kind in ("sum", "mean"):
                if pa.types.is_integer(partials.schema.field(name).type):
                    # Summed exactly, so that a total beyond int64 is seen rather than wrapped.
                    partials = partials.set_column(
                        partials.schema.get_field_index(name), name, pc.cast(partials.column(name), decimal)
                    )
                wanted += [(name, "sum"), (name + "#n", "sum")]
                # A partial int sum that is null while it has values overflowed in phase 1.
                overflowed = pc.and_(pc.is_null(partials.column(name)), pc.greater(partials.column(name + "#n"), 0))
                partials = partials.append_column(name + "#overflow", pc.cast(overflowed, pa.int64()))
                wanted.append((name + "#overflow", "max"))
        grouped = partials.group_by("#session", use_threads=False).aggregate(wanted)
        return grouped.sort_by("#session")

    def _combine(self, name: str, agg: Agg, totals: pa.Table) -> pa.Array | pa.ChunkedArray:
        if agg.kind in ("count", "min", "max"):
            return totals.column(f"{name}_{'sum' if agg.kind == 'count' else agg.kind}")
        total, n = totals.column(f"{name}_sum"), totals.column(f"{name}#n_sum")
        overflow = pc.greater(totals.column(f"{name}#overflow_max"), 0)
        if agg.kind == "mean":
            mean = pc.divide(pc.cast(total, pa.float64()), pc.cast(n, pa.float64()))
            return pc.if_else(pc.greater(n, 0), mean, pa.scalar(None, pa.float64()))
        if pa.types.is_decimal(total.type):
            out_of_range = pc.or_(pc.less(total, INT64_MIN), pc.greater(total, INT64_MAX))
            bad = pc.fill_null(pc.or_(overflow, out_of_range), False)
            safe = pc.if_else(bad, pa.scalar(None, total.type), total)
            return pc.cast(safe, pa.int64())
        return total
