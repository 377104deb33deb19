"""The error-log alerts pipeline on Kafka: raw log lines in, spike alerts out.

consume (KafkaSource, text) -> parse (LogParser) -> keep ERROR -> count per service in tumbling
windows (WindowAggregator) -> spike alerts (SpikeDetector) -> produce (KafkaSink, JSON keyed by
service). Every stage runs in the Rust core on whole Arrow batches; this module only composes them.

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

from fleetstream._time import Duration, duration_ms
from fleetstream.kafka import KafkaBatch, KafkaSink, KafkaSource
from fleetstream.kafka.source import Partition
from fleetstream.logs import LogParser
from fleetstream.pipeline.checkpoint import Checkpoint, CheckpointStore
from fleetstream.stream import SpikeDetector, Tumbling, WindowAggregator, count


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


@dataclass
class _PartitionState:
    agg: WindowAggregator
    detector: SpikeDetector


class AlertsPipeline:
    def __init__(self, config: AlertsConfig, metrics: Any | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.parser = LogParser.python_logging() if config.log_format == "python" else LogParser.json()
        self.store = CheckpointStore(config.state_dir, config.group)
        self.states: dict[Partition, _PartitionState] = {}
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
    def _fresh(self) -> _PartitionState:
        c = self.config
        agg = WindowAggregator(window=Tumbling(c.window), time="ts", key="service",
                               aggs={"errors": count()}, watermark=c.watermark)
        detector = SpikeDetector(value="errors", key="service", history=c.history, factor=c.factor, floor=c.floor)
        return _PartitionState(agg, detector)

    def _on_assign(self, partitions: list[Partition]) -> None:
        self._last_input = time.monotonic()  # idle time counts from the (re)assignment
        for topic, partition in partitions:
            checkpoint = self.store.load(topic, partition)
            if checkpoint is None:
                self.states[(topic, partition)] = self._fresh()
                continue
            agg_state, detector_state = checkpoint.parts
            self.states[(topic, partition)] = _PartitionState(
                WindowAggregator.restore(agg_state), SpikeDetector.restore(detector_state))
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
        positions = self.source.position()
        committed = {}
        for tp in partitions if partitions is not None else list(self.states):
            state = self.states.get(tp)
            if state is None or tp not in positions:
                continue
            self.store.save(tp[0], tp[1], Checkpoint(positions[tp], (state.agg.snapshot(), state.detector.snapshot())))
            committed[tp] = positions[tp]
        if committed:
            # The group's committed offsets follow the checkpoints (for lag tools); recovery uses the checkpoints.
            self.source.commit(committed)
            self.counts["checkpoints"] += 1

    # -- processing ------------------------------------------------------------------------------
    def _emit(self, windows: list[pa.Table], alerts: list[pa.Table]) -> None:
        windows = [w for w in windows if w.num_rows]
        alerts = [a for a in alerts if a.num_rows]
        if self.windows is not None and windows:
            self.windows.send(pa.concat_tables(windows))
        if alerts:
            table = pa.concat_tables(alerts)
            self.alerts.send(table)
            self.counts["alerts"] += table.num_rows
        self.counts["windows"] += sum(w.num_rows for w in windows)

    def process(self, batch: KafkaBatch) -> None:
        started = time.perf_counter()
        records = batch.records
        self.counts["messages"] += batch.messages
        windows: list[pa.Table] = []
        alerts: list[pa.Table] = []
        partitions = pc.unique(records["_partition"]).to_pylist() if records.num_rows else []
        for partition in partitions:
            tp = (self.config.topic, partition)
            state = self.states.get(tp)
            if state is None:  # not ours any more (revoked mid-poll): the new owner reads it
                continue
            lines = records.filter(pc.equal(records["_partition"], partition)).column("value")
            parsed = self.parser.parse(lines)
            self.counts["lines"] += len(lines)
            self.counts["parse_rejects"] += parsed.rejects.num_rows
            errors = parsed.records.filter(pc.equal(parsed.records["level"], "ERROR"))
            self.counts["errors"] += errors.num_rows
            closed = state.agg.push(errors)
            self.counts["late"] += state.agg.take_late().num_rows
            windows.append(closed)
            alerts.append(state.detector.push(closed))
        # Text the source could not decode is a reject too (counted, never silently dropped).
        self.counts["parse_rejects"] += batch.rejects.num_rows
        self._emit(windows, alerts)
        if self.metrics is not None:
            self.metrics.observe_batch(self, batch, time.perf_counter() - started)

    def flush(self) -> None:
        """Close every open window (end of input), emit, and checkpoint."""
        windows: list[pa.Table] = []
        alerts: list[pa.Table] = []
        for state in self.states.values():
            closed = state.agg.flush()
            windows.append(closed)
            alerts.append(state.detector.push(closed))
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
