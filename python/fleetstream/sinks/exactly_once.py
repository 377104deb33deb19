"""ExactlyOnceSink: a micro-batch's rows, dead letters, read-model aggregates and input offsets in
ONE database transaction, with a fencing generation per partition.

The protocol, for a consumer of partitioned input (Kafka):

1. On assignment, :meth:`ExactlyOnceSink.claim` the partitions: each one's generation goes up by one
   (in the database) and its stored next offset comes back; seek there, not to Kafka's committed offset.
2. For each batch, :meth:`ExactlyOnceSink.write` rows + dead letters + the next offsets, with the
   generations the claim returned. In the same transaction the sink checks that every generation is
   still the stored one; if another consumer claimed a partition since, nothing is written and
   :class:`~fleetstream.exceptions.FencedError` is raised (this consumer is a zombie).
3. Rows are keyed by the business key: ``mode="insert"`` leaves a key already stored alone (events are
   immutable facts), ``mode="upsert"`` overwrites it. Either way a replayed batch changes nothing.

>>> import tempfile, pyarrow as pa, fleetstream as fs
>>> db = f"sqlite:///{tempfile.mkdtemp()}/books.db"
>>> sink = fs.ExactlyOnceSink(db, "payments", key=["payment_id"], mode="insert",
...                           read_model=fs.ReadModel("merchant_totals", group_by=["merchant"], sums=["cents"]))
>>> claims = sink.claim([("payments", 0)])
>>> claims[("payments", 0)]
Claim(next_offset=None, generation=1)
>>> rows = pa.table({"payment_id": ["p1", "p2", "p1"], "merchant": ["m1", "m1", "m1"], "cents": [100, 250, 100]})
>>> sink.write(rows, offsets={("payments", 0): 3}, generations={("payments", 0): 1})
WriteResult(applied=True, rows=3, written=2, duplicates=1, dead_letters=0)
>>> sink.write(rows, offsets={("payments", 0): 3}, generations={("payments", 0): 1}).written  # a replay
0
>>> sink.resume_offsets()
{('payments', 0): 3}
>>> sink.claim([("payments", 0)])[("payments", 0)]      # a new owner takes the partition over ...
Claim(next_offset=3, generation=2)
>>> sink.write(rows, offsets={("payments", 0): 3}, generations={("payments", 0): 1})  # ... the old one is fenced
Traceback (most recent call last):
...
fleetstream.exceptions.FencedError: payments: this writer's generation 1 for payments[0] is no longer current (stored: 2); another writer took the partition over, batch rolled back
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from fleetstream import _core

#: (topic, partition)
Partition = tuple[str, int]


@dataclass(frozen=True)
class ReadModel:
    """Per-group counts and exact integer sums of the rows actually inserted, kept in the same
    transaction: ``table(group_by..., row_count, sums...)``. Needs ``mode="insert"``."""

    table: str
    group_by: Sequence[str]
    sums: Sequence[str] = ()


class Claim(NamedTuple):
    """A partition's stored resume point (None: nothing committed yet) and this writer's generation."""

    next_offset: int | None
    generation: int


@dataclass(frozen=True)
class WriteResult:
    """``applied`` is False when the batch mark was already stored (nothing written).
    ``rows == written + duplicates``; ``dead_letters`` counts newly stored dead letters."""

    applied: bool
    rows: int
    written: int
    duplicates: int
    dead_letters: int


class ExactlyOnceSink:
    """Exactly-once writes of Arrow batches into ``table`` of a PostgreSQL or SQLite database.

    ``dsn``: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or ``postgresql://...``
    (a Unix socket directory as ``?host=/dir``). The tables ``table`` (primary key ``key``, created
    from the first batch's schema), ``table_offsets``, ``table_dead_letters``, ``table_batches`` and
    the read model are created if missing and checked if present. Identifiers are validated and
    quoted; every value is bound (SQLite) or streamed by COPY (PostgreSQL). Database work runs
    without the GIL. Errors: :class:`~fleetstream.exceptions.SinkError` (the transaction is rolled
    back), :class:`~fleetstream.exceptions.FencedError`, :class:`~fleetstream.exceptions.SchemaError`.
    """

    def __init__(self, dsn: str, table: str, key: Sequence[str] | str, mode: str = "upsert", *,
                 read_model: ReadModel | None = None) -> None:
        keys = [key] if isinstance(key, str) else list(key)
        spec = None if read_model is None else (read_model.table, list(read_model.group_by), list(read_model.sums))
        self.dsn = dsn
        self.read_model = read_model
        self._native = _core.ExactlyOnceSink(dsn, table, keys, mode, spec)

    @property
    def table(self) -> str:
        """The data table rows are written into."""
        return self._native.table

    @property
    def key(self) -> list[str]:
        """The key columns (a replayed row with the same key is a duplicate, not a second row)."""
        return self._native.key

    @property
    def mode(self) -> str:
        """``"insert"`` (a key already stored is left alone) or ``"upsert"`` (it is overwritten)."""
        return self._native.mode

    @property
    def tables(self) -> dict[str, str | None]:
        """Names of the ``data``, ``offsets``, ``dead_letters``, ``batches`` and ``read_model`` tables."""
        offsets, dead, batches, read_model = self._native.tables
        return {"data": self.table, "offsets": offsets, "dead_letters": dead, "batches": batches,
                "read_model": read_model}

    def claim(self, partitions: Sequence[Partition]) -> dict[Partition, Claim]:
        """Take ``partitions`` over: bump each generation; returns where to resume each."""
        got = self._native.claim([(t, int(p)) for t, p in partitions])
        return {(t, p): Claim(o, g) for t, p, o, g in got}

    def stored(self) -> dict[Partition, Claim]:
        """Every partition's stored next offset and generation."""
        return {(t, p): Claim(o, g) for t, p, o, g in self._native.stored()}

    def resume_offsets(self) -> dict[Partition, int]:
        """Stored next offset of every partition that has one (where a consumer must resume)."""
        return {tp: c.next_offset for tp, c in self.stored().items() if c.next_offset is not None}

    def write(self, rows: Any = None, dead_letters: Any = None, *, offsets: Mapping[Partition, int] | None = None,
              generations: Mapping[Partition, int] | None = None, batch: tuple[str, int] | None = None) -> WriteResult:
        """Write ``rows`` (any Arrow table/batch/stream) and ``dead_letters`` (topic, partition, offset,
        reason, payload) and store ``offsets`` (next offset per partition, each under its claimed
        generation), all in one transaction. ``batch=(query_id, batch_id)`` marks the batch applied
        in the same transaction; if it already was, nothing is written and ``applied`` is False."""
        offsets = dict(offsets or {})
        generations = dict(generations or {})
        missing = [tp for tp in offsets if tp not in generations]
        if missing:
            from fleetstream.exceptions import ConfigError

            raise ConfigError(f"offsets for {missing} have no claimed generation: claim() the partitions first")
        commits = [(t, int(p), int(o), int(generations[(t, p)])) for (t, p), o in offsets.items()]
        out = self._native.write(rows, dead_letters, commits, batch)
        return WriteResult(**out)

    def is_applied(self, query_id: str, batch_id: int) -> bool:
        """Whether batch ``batch_id`` of ``query_id`` was written."""
        return self._native.is_applied(query_id, batch_id)

    def __repr__(self) -> str:
        return f"ExactlyOnceSink(table={self.table!r}, key={self.key!r}, mode={self.mode!r})"
