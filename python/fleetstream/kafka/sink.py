"""KafkaSink: Arrow batches to Kafka messages."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

from fleetstream import _core
from fleetstream._arrow import as_arrow
from fleetstream._time import Duration, duration_ms
from fleetstream.kafka._config import settings
from fleetstream.kafka.source import KafkaSource, Partition


#: librdkafka's partitioners (see :class:`KafkaSink`).
Partitioner = Literal["consistent_random", "consistent", "murmur2_random", "murmur2", "fnv1a_random", "fnv1a", "random"]


class KafkaSink:
    """Send the rows of Arrow tables / batches to ``topic``, one message per row.

    ``format="json"`` sends each row as a JSON object, ``"raw"`` sends the ``value`` column (bytes or
    text); ``key`` names the column used as message key, ``partition`` an integer column naming each
    row's partition (null: the partitioner decides).

    ``partitioner`` is librdkafka's (default ``"consistent_random"``, as librdkafka):

    - keyed rows: ``consistent*`` hash the key with CRC32, ``murmur2*`` with the Java client's
      murmur2 (the same partition a Java or Kafka Streams producer picks), ``fnv1a*`` with FNV-1a,
      ``random`` ignores it;
    - unkeyed rows: ``random`` and the ``*_random`` variants use librdkafka's sticky partitioner: a
      random partition for ``sticky.partitioning.linger.ms`` at a time (by default twice
      ``linger.ms``, 10 ms here), so a short burst fills one partition; set
      ``config={"sticky.partitioning.linger.ms": 0}`` to choose one per message. ``consistent``,
      ``murmur2`` and ``fnv1a`` send every unkeyed row to one partition.

    >>> fs.KafkaSink("logs", brokers=broker.bootstrap, format="raw", partitioner="random",   # doctest: +SKIP
    ...              config={"sticky.partitioning.linger.ms": 0})                          # spread unkeyed rows

    The producer is idempotent by
    default; at most ``max_in_flight`` messages wait for acknowledgement, beyond that :meth:`send`
    blocks (Ctrl-C-able). Delivery failures raise :class:`~fleetstream.KafkaDeliveryError` (from
    :meth:`send` or :meth:`flush`); a missing topic or unreachable broker raises
    :class:`~fleetstream.KafkaError` when the sink is created.

    With ``config["transactional.id"]`` the sink is transactional: :meth:`begin_transaction`,
    :meth:`send`, :meth:`send_offsets_to_transaction`, :meth:`commit_transaction` /
    :meth:`abort_transaction`. A newer sink with the same id fences this one: its calls then raise
    :class:`~fleetstream.KafkaFencedError`.
    """

    def __init__(
        self,
        topic: str,
        config: Mapping[str, object] | None = None,
        *,
        brokers: str | None = None,
        format: str = "json",
        key: str | None = None,
        partition: str | None = None,
        partitioner: Partitioner | None = None,
        max_in_flight: int = 100_000,
        timeout: Duration = "10s",
    ) -> None:
        self.topic = topic
        self._native = _core.KafkaSink(
            topic, config=settings(config, brokers), format=format, key=key, max_in_flight=max_in_flight,
            timeout_ms=duration_ms(timeout, "timeout"), partition=partition, partitioner=partitioner,
        )

    def send(self, data: Any) -> int:
        """Send every row; returns how many messages were queued."""
        return self._native.send(as_arrow(data, "KafkaSink.send input"))

    def flush(self, timeout: Duration = "30s") -> None:
        """Wait until every message is acknowledged; raises delivery failures."""
        self._native.flush(duration_ms(timeout, "timeout"))

    def begin_transaction(self) -> None:
        """Starts a transaction (needs ``config["transactional.id"]``): messages sent until
        ``commit_transaction`` are seen by read-committed consumers all together or not at all."""
        self._native.begin_transaction()

    def send_offsets_to_transaction(self, offsets: Mapping[Partition, int], source: KafkaSource,
                                    timeout: Duration = "10s") -> None:
        """Commit ``source``'s consumed ``offsets`` atomically with this transaction's messages."""
        self._native.send_offsets_to_transaction(
            [(t, p, o) for (t, p), o in offsets.items()], source.native, duration_ms(timeout, "timeout"))

    def commit_transaction(self, timeout: Duration = "30s") -> None:
        """Commits the open transaction (its messages and any offsets sent with it) within ``timeout``."""
        self._native.commit_transaction(duration_ms(timeout, "timeout"))

    def abort_transaction(self, timeout: Duration = "30s") -> None:
        """Aborts the open transaction: consumers reading committed messages never see its messages."""
        self._native.abort_transaction(duration_ms(timeout, "timeout"))

    def stats(self) -> dict[str, Any]:
        """sent, bytes, delivered, failed, in_flight, and ``ends``: [(partition, last delivered offset + 1)]."""
        return dict(self._native.stats())

    def close(self, timeout: Duration = "30s") -> None:
        """Waits up to ``timeout`` until every message sent is acknowledged (as ``flush``); raises delivery failures."""
        self.flush(timeout)

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
