"""KafkaSource: a consumer group member that polls into Arrow record batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from fleetstream import _core
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError
from fleetstream.kafka._config import settings

#: (topic, partition)
Partition = tuple[str, int]
RebalanceCallback = Callable[[list[Partition]], None]

_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "str": pa.string(), "utf8": pa.string(),
    "int64": pa.int64(), "int": pa.int64(), "int32": pa.int32(),
    "float64": pa.float64(), "float": pa.float64(), "double": pa.float64(),
    "bool": pa.bool_(), "boolean": pa.bool_(),
    "timestamp[ms]": pa.timestamp("ms", tz="UTC"), "timestamp": pa.timestamp("ms", tz="UTC"),
}
_COLUMNS = ("topic", "partition", "offset", "timestamp", "key", "headers")


def _schema(schema: pa.Schema | Mapping[str, Any] | None) -> pa.Schema | None:
    if schema is None or isinstance(schema, pa.Schema):
        return schema
    fields = []
    for name, kind in schema.items():
        if isinstance(kind, str):
            if kind not in _TYPES:
                raise ConfigError(f"schema field {name!r}: unknown type {kind!r}; expected one of {sorted(_TYPES)}")
            kind = _TYPES[kind]
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def _by_partition(offsets: list[tuple[str, int, int]]) -> dict[Partition, int]:
    """The native layer's ``(topic, partition, offset)`` tuples as a dict by partition."""
    return {(t, p): o for t, p, o in offsets}


@dataclass(frozen=True)
class KafkaBatch:
    """One poll: decoded rows, rejected messages (topic, partition, offset, reason, payload), the
    next offset to read per partition once this batch is processed (what to :meth:`KafkaSource.commit`),
    and the offset of the batch's first message per partition it holds (where to :meth:`KafkaSource.seek`
    back to when the batch must be processed again).
    ``records.num_rows + rejects.num_rows == messages``."""

    records: pa.RecordBatch
    rejects: pa.RecordBatch
    offsets: dict[Partition, int]
    start_offsets: dict[Partition, int] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        """Messages in the batch: decoded rows plus rejected messages."""
        return int(self.records.num_rows + self.rejects.num_rows)


class KafkaSource:
    """Consume ``topics`` as member of consumer group ``group_id``, in Arrow record batches.

    ``config`` takes librdkafka settings (``"bootstrap.servers"``, ``"session.timeout.ms"``, ...).
    ``format="json"`` decodes each payload (a JSON object) in Rust into the typed columns of
    ``schema`` (a pyarrow schema or ``{"ts": "timestamp[ms]", "level": "string", ...}``); payloads that
    are not JSON, not objects, or have wrongly typed fields become reject rows naming the partition,
    offset and reason. ``format="raw"`` gives a binary ``value`` column, ``"text"`` a string one.
    ``columns`` adds metadata columns: any of ``topic, partition, offset, timestamp, key, headers``
    (named ``_partition``, ``_offset``, ...).

    Offsets are never committed automatically: call :meth:`commit` with what you have processed,
    ideally together with your operator state. ``on_assign(partitions)`` runs after partitions are
    assigned (restore state, :meth:`seek`), ``on_revoke(partitions)`` before they are taken away
    (snapshot state, :meth:`commit`); both run inside :meth:`poll`.

    Backpressure: the source is pulled; between polls librdkafka prefetches at most
    ``queued.max.messages.kbytes`` (16 MiB by default here) per consumer, so memory stays bounded
    when producers are faster. :meth:`pause` / :meth:`resume` stop fetching chosen partitions while
    :meth:`poll` keeps serving the group.
    """

    def __init__(
        self,
        topics: str | Sequence[str],
        group_id: str,
        config: Mapping[str, object] | None = None,
        *,
        brokers: str | None = None,
        format: str = "json",
        schema: pa.Schema | Mapping[str, Any] | None = None,
        columns: Sequence[str] = (),
        batch_size: int = 10_000,
        max_wait: Duration = "500ms",
        max_message_bytes: int = 1 << 20,
        on_assign: RebalanceCallback | None = None,
        on_revoke: RebalanceCallback | None = None,
    ) -> None:
        topic_list = [topics] if isinstance(topics, str) else list(topics)
        unknown = [c for c in columns if c not in _COLUMNS]
        if unknown:
            raise ConfigError(f"columns: unknown metadata column(s) {unknown}; expected any of {list(_COLUMNS)}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.topics = topic_list
        self.group_id = group_id
        self.batch_size = batch_size
        self.max_wait_ms = duration_ms(max_wait, "max_wait")
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._closed = False
        self._native = _core.KafkaSource(
            topic_list, group_id, config=settings(config, brokers), format=format, schema=_schema(schema),
            columns=list(columns), max_message_bytes=max_message_bytes,
        )
        self._native.set_rebalance_callback(self._rebalance)

    def _rebalance(self, kind: str, partitions: list[Partition]) -> None:
        callback = self._on_assign if kind == "assigned" else self._on_revoke
        if callback is not None:
            callback(list(partitions))

    @property
    def native(self) -> _core.KafkaSource:
        """The native consumer (for ``KafkaSink.send_offsets_to_transaction`` and fleetstream's pipelines)."""
        return self._native

    @property
    def schema(self) -> pa.Schema:
        """Schema of :attr:`KafkaBatch.records`."""
        return self._native.schema

    def poll(self, batch_size: int | None = None, max_wait: Duration | None = None) -> KafkaBatch:
        """Up to ``batch_size`` messages, waiting at most ``max_wait`` (Ctrl-C interrupts promptly)."""
        wait = self.max_wait_ms if max_wait is None else duration_ms(max_wait, "max_wait")
        records, rejects, offsets, starts = self._native.poll(batch_size or self.batch_size, wait)
        return KafkaBatch(records, rejects, _by_partition(offsets), _by_partition(starts))

    def __iter__(self) -> Iterator[KafkaBatch]:
        """Batches forever (empty ones skipped); stop with ``break`` or Ctrl-C."""
        while not self._closed:
            batch = self.poll()
            if batch.messages:
                yield batch

    def commit(self, offsets: Mapping[Partition, int] | None = None) -> None:
        """Commit next-offsets per partition (default: :meth:`position`, all handed-out batches)."""
        if offsets is None:
            offsets = self.position()
        self._native.commit([(t, p, o) for (t, p), o in offsets.items()])

    def committed(self, partitions: Sequence[Partition] | None = None, timeout: Duration = "10s") -> dict[Partition, int]:
        """The group's committed offsets (the next offset to read) of ``partitions`` (default: the
        whole assignment), asked of the broker within ``timeout``; partitions with none are left out."""
        parts = list(partitions) if partitions is not None else self.assignment()
        got = self._native.committed(parts, duration_ms(timeout, "timeout"))
        return _by_partition(got)

    def seek(self, topic: str, partition: int, offset: int | Literal["beginning", "end"],
             timeout: Duration = "10s") -> None:
        """Read ``partition`` from ``offset`` on (it must be assigned, e.g. inside ``on_assign``).

        ``offset`` is the next offset to read (at least 0), ``"beginning"`` (the first message the broker
        still holds, whatever the group committed) or ``"end"`` (only new messages). After a
        ``"beginning"``/``"end"`` seek the partition has no :meth:`position` until one of its messages
        is read."""
        self._native.seek(topic, partition, offset, duration_ms(timeout, "timeout"))

    def position(self) -> dict[Partition, int]:
        """Next offset to read per partition, counting every batch handed out so far."""
        return _by_partition(self._native.position())

    def fetch_watermarks(self) -> dict[Partition, tuple[int, int]]:
        """``(low, high)`` watermarks of each assigned partition as the last fetch responses reported
        them (no request is sent, and ListOffsets, which some brokers answer wrongly, is not used). A
        partition is caught up when its :meth:`position` reaches ``high``, or when ``low == high``
        (nothing to read). Partitions not fetched from yet are left out."""
        return {(t, p): (low, high) for t, p, low, high in self._native.fetch_watermarks()}

    def assignment(self) -> list[Partition]:
        """The (topic, partition) pairs this consumer is assigned now."""
        return list(self._native.assignment())

    def pause(self, partitions: Sequence[Partition] | None = None) -> None:
        """Stop fetching ``partitions`` (default: the whole assignment); keep polling to stay in the group."""
        self._native.pause(list(partitions) if partitions is not None else self.assignment())

    def resume(self, partitions: Sequence[Partition] | None = None) -> None:
        """Fetch ``partitions`` (default: the whole assignment) again after ``pause``."""
        self._native.resume(list(partitions) if partitions is not None else self.assignment())

    def stats(self) -> dict[str, Any]:
        """Counters (messages, bytes, rows, rejected, batches, rebalances) and per-partition
        ``(topic, partition, next_offset, high_watermark)``; lag is ``high_watermark - next_offset``."""
        return dict(self._native.stats())

    def close(self) -> None:
        """Leave the group cleanly (``on_revoke`` runs first). Idempotent."""
        if not self._closed:
            self._closed = True
            self._native.close()

    def __enter__(self) -> KafkaSource:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
