"""The error-log alerts pipeline on Kafka: raw log lines in, spike alerts out.

consume (KafkaSource, text) -> per partition, the Rust operator ``src/pipeline/alerts.rs`` (parse,
keep ERROR, count per service in tumbling windows, spike alerts) -> produce (KafkaSink, JSON keyed by
service). Every stage runs in the Rust core on whole Arrow batches; this module wires Kafka to it.

State is kept per input partition (one aggregator and one detector each), so the result does not
depend on which group member owns which partition: members split the partitions, and state moves
with a partition through the shared :class:`CheckpointStore`. A checkpoint stores a partition's
operator state with the next offset to read, after every alert it caused has been acknowledged by the
broker; on assignment the member restores the checkpoint and seeks to its offset. A crash therefore
never loses an event nor counts one twice; alerts and windows emitted after the last checkpoint are
emitted again, identical, on restart (at-least-once delivery of idempotent outputs: deduplicate on
``(service, window_start)``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fleetstream import _core
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError
from fleetstream.kafka import KafkaBatch, KafkaSink, KafkaSource
from fleetstream.kafka.source import Partition
from fleetstream.pipeline.checkpoint import Checkpoint, CheckpointStore


@dataclass
class AlertsConfig:
    brokers: str
    topic: str
    alerts_topic: str
    group: str
    state_dir: str
    windows_topic: str | None = None
    log_format: str = "python"  # "python" (logging's default layout) or "json"
    window: Duration = "1m"
    watermark: Duration = "5s"
    history: int = 10
    factor: float = 3.0
    floor: float = 20
    checkpoint_every: Duration = "2s"
    batch_size: int = 20_000
    max_wait: Duration = "200ms"
    idle_exit: float | None = None  # seconds without input after which the run flushes and ends
    max_rate: float | None = None  # messages per second at most (replays, demos); None: as fast as possible
    consumer_config: Mapping[str, object] = field(default_factory=dict)
    producer_config: Mapping[str, object] = field(default_factory=dict)


class AlertsPipeline:
    def __init__(self, config: AlertsConfig, metrics: Any | None = None) -> None:
        self.config = config
        self.metrics = metrics
        if config.log_format not in ("python", "json"):
            raise ConfigError(f"log_format must be \"python\" or \"json\", got {config.log_format!r}")
        self._operator_options: dict[str, Any] = dict(
            log_format=config.log_format, window_ms=duration_ms(config.window, "window"),
            watermark_ms=duration_ms(config.watermark, "watermark"), history=config.history,
            factor=float(config.factor), floor=float(config.floor))
        self.store = CheckpointStore(config.state_dir, config.group)
        self.states: dict[Partition, _core.AlertsOperator] = {}
        self.counts = {"messages": 0, "lines": 0, "parse_rejects": 0, "errors": 0, "late": 0, "windows": 0,
                       "alerts": 0, "checkpoints": 0, "restored": 0}
        self.stop_event = threading.Event()
        self._last_input = time.monotonic()
        consumer: dict[str, object] = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
        consumer.update(config.consumer_config)
        self.source = KafkaSource(
            config.topic, config.group, consumer, brokers=config.brokers, format="text", columns=["partition"],
            batch_size=config.batch_size, max_wait=config.max_wait,
            on_assign=self._on_assign, on_revoke=self._on_revoke,
        )
        self.alerts = KafkaSink(config.alerts_topic, config.producer_config, brokers=config.brokers, key="service")
        self.windows = (KafkaSink(config.windows_topic, config.producer_config, brokers=config.brokers, key="service")
                        if config.windows_topic else None)

    # -- state per partition -------------------------------------------------------------------
    def _operator(self, checkpoint: bytes | None = None) -> _core.AlertsOperator:
        return _core.AlertsOperator(**self._operator_options, checkpoint=checkpoint)

    def _on_assign(self, partitions: list[Partition]) -> None:
        self._last_input = time.monotonic()  # idle time counts from the (re)assignment
        for topic, partition in partitions:
            checkpoint = self.store.load(topic, partition)
            if checkpoint is None:
                self.states[(topic, partition)] = self._operator()
                continue
            self.states[(topic, partition)] = self._operator(checkpoint.parts[0])
            self.source.seek(topic, partition, checkpoint.next_offset)
            self.counts["restored"] += 1

    def _on_revoke(self, partitions: list[Partition]) -> None:
        self.checkpoint(partitions)
        for tp in partitions:
            self.states.pop(tp, None)

    def checkpoint(self, partitions: list[Partition] | None = None) -> None:
        """Acknowledge outputs, then write state + offsets of ``partitions`` (default: all owned)."""
        self.alerts.flush()
        if self.windows is not None:
            self.windows.flush()
        committed = {}
        for tp in partitions if partitions is not None else list(self.states):
            operator = self.states.get(tp)
            if operator is None or operator.next_offset is None:
                continue
            # The operator's blob holds its state and next offset together; the header repeats the offset.
            self.store.save(tp[0], tp[1], Checkpoint(operator.next_offset, (operator.checkpoint(),)))
            committed[tp] = operator.next_offset
        if committed:
            # The group's committed offsets follow the checkpoints (for lag tools); recovery uses the checkpoints.
            self.source.commit(committed)
            self.counts["checkpoints"] += 1

    # -- processing ------------------------------------------------------------------------------
    def _emit(self, windows: list[pa.RecordBatch], alerts: list[pa.RecordBatch]) -> None:
        for batch in windows:
            if batch.num_rows:
                self.counts["windows"] += batch.num_rows
                if self.windows is not None:
                    self.windows.send(batch)
        for batch in alerts:
            if batch.num_rows:
                self.counts["alerts"] += batch.num_rows
                self.alerts.send(batch)

    def _count(self, counts: Mapping[str, int]) -> None:
        for name, value in counts.items():
            self.counts[name] += value

    def process(self, batch: KafkaBatch) -> None:
        started = time.perf_counter()
        records = batch.records
        self.counts["messages"] += batch.messages
        windows: list[pa.RecordBatch] = []
        alerts: list[pa.RecordBatch] = []
        partitions = pc.unique(records["_partition"]).to_pylist() if records.num_rows else []
        for partition in partitions:
            tp = (self.config.topic, partition)
            operator = self.states.get(tp)
            if operator is None:  # not ours any more (revoked mid-poll): the new owner reads it
                continue
            lines = records.filter(pc.equal(records["_partition"], partition)).column("value")
            closed, raised, counts = operator.push(lines, batch.offsets[tp])
            self._count(counts)
            windows.append(closed)
            alerts.append(raised)
        # Text the source could not decode (invalid UTF-8) is a reject too: counted, never silently dropped.
        self.counts["lines"] += batch.rejects.num_rows
        self.counts["parse_rejects"] += batch.rejects.num_rows
        self._emit(windows, alerts)
        if self.metrics is not None:
            self.metrics.observe_batch(self, batch, time.perf_counter() - started)

    def flush(self) -> None:
        """Close every open window (end of input), emit, and checkpoint."""
        windows: list[pa.RecordBatch] = []
        alerts: list[pa.RecordBatch] = []
        for operator in self.states.values():
            closed, raised, _ = operator.flush()
            windows.append(closed)
            alerts.append(raised)
        self._emit(windows, alerts)
        self.checkpoint()

    def run(self) -> dict[str, int]:
        """Process until :meth:`stop`, Ctrl-C, or ``idle_exit`` seconds without input."""
        every = duration_ms(self.config.checkpoint_every, "checkpoint_every") / 1000
        last_checkpoint = self._last_input = time.monotonic()
        try:
            while not self.stop_event.is_set():
                batch = self.source.poll()
                now = time.monotonic()
                if batch.messages:
                    self.process(batch)
                    self._last_input = now
                    if self.config.max_rate:
                        time.sleep(max(0.0, batch.messages / self.config.max_rate - (time.monotonic() - now)))
                elif (self.config.idle_exit is not None and self.states
                      and now - self._last_input >= self.config.idle_exit):
                    self.flush()
                    break
                if now - last_checkpoint >= every:
                    self.checkpoint()
                    last_checkpoint = now
                if self.metrics is not None:
                    self.metrics.observe_idle(self)
        finally:
            self.close()
        return dict(self.counts)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self.source.close()  # on_revoke checkpoints what is still owned
