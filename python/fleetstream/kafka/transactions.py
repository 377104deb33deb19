"""Exactly-once Kafka-to-Kafka: a transactional read-process-write loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import KafkaFencedError
from fleetstream.kafka.sink import KafkaSink
from fleetstream.kafka.source import KafkaBatch, KafkaSource


class TransactionalLoop:
    """Read from ``source``, ``process`` each batch, write the result to ``sink``, and commit the
    output messages together with the consumed offsets in one Kafka transaction per batch.

    ``sink`` must be transactional (``config["transactional.id"]``); ``source`` should use
    ``isolation.level=read_committed`` when it reads transactional output. A second instance
    started with the same ``transactional.id`` fences the first: the zombie's next transaction call
    raises :class:`~fleetstream.KafkaFencedError`, its open transaction is aborted, and :meth:`run`
    re-raises it so the zombie stops. Any other failure aborts the batch's transaction and rewinds
    the source to the batch's first offsets, so the batch is processed again.
    """

    def __init__(self, source: KafkaSource, sink: KafkaSink,
                 process: Callable[[KafkaBatch], Any], *, timeout: Duration = "30s") -> None:
        self.source = source
        self.sink = sink
        self.process = process
        self.timeout = timeout
        self.transactions = 0
        self.aborted = 0

    def step(self, batch: KafkaBatch) -> int:
        """One transaction for one batch; returns the number of messages written."""
        if not batch.messages:
            return 0
        self.sink.begin_transaction()
        try:
            output = self.process(batch)
            sent = self.sink.send(output) if output is not None else 0
            self.sink.send_offsets_to_transaction(batch.offsets, self.source, self.timeout)
            self.sink.commit_transaction(self.timeout)
        except KafkaFencedError:
            raise
        except BaseException:
            self._abort_and_rewind(batch)
            raise
        self.transactions += 1
        return sent

    def _abort_and_rewind(self, batch: KafkaBatch) -> None:
        """Abort, and read the batch again from its own first offsets: the group's committed offsets
        are the same place when there are any, and a partition read for the first time has none."""
        self.aborted += 1
        self.sink.abort_transaction(self.timeout)
        for (topic, partition), offset in batch.start_offsets.items():
            self.source.seek(topic, partition, offset, self.timeout)

    def run(self, *, max_batches: int | None = None, idle_timeout: Duration | None = None) -> int:
        """Process batches until ``max_batches`` were committed or nothing arrived for ``idle_timeout``;
        returns the number of messages written."""
        import time

        written = 0
        batches = 0
        idle_ms = None if idle_timeout is None else duration_ms(idle_timeout, "idle_timeout")
        last_data = time.monotonic()
        while max_batches is None or batches < max_batches:
            batch = self.source.poll()
            if not batch.messages:
                if idle_ms is not None and (time.monotonic() - last_data) * 1000 >= idle_ms:
                    break
                continue
            last_data = time.monotonic()
            written += self.step(batch)
            batches += 1
        return written
