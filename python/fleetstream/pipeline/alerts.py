"""The error-log alerts pipeline on Kafka: raw log lines in, window counts and spike alerts out,
whatever the input topic's keys.

Two stages, both in the Rust core (``src/pipeline/alerts/``); this module only wires Kafka to them:

1. per input partition, ``_core.AlertsPartials``: parse (JSON or Python logging's layout, per line),
   count ERROR lines per service in tumbling windows with the partition's own watermark, and send
   every closed partial count, numbered, keyed by service, to the internal topic
   ``<group>-alerts-repartition`` (created with the input's partition count when missing), followed
   by a watermark marker to each of its partitions;
2. per repartition partition, ``_core.AlertsMerge``: add partials into complete counts (dropping
   replays by their numbers), close a window once every input partition's watermark has passed its
   end, run the spike detector, and produce windows and alerts (JSON, keyed by service).

A service's lines may be spread over any number of input partitions (unkeyed producers, keys by host
or request id): its counts meet in one place before the detector sees them. The result is the one a
single partition would give, as long as lines are no later than the watermark delay within their own
input partition.

An input partition that is caught up (fetch responses say its end is reached) and quiet for
``idle_partition`` is marked idle: its open windows are sent early and it no longer holds the others
back, until it has data again (rows it then brings for windows already published are *late
contributions*: counted, logged, in no window).

Checkpoints (:class:`CheckpointStore`, shared by the group's processes): each stage's state with its
own next input offset, written after every message it produced was acknowledged. After ``kill -9``
nothing is lost or counted twice: the input is read again from the checkpoint, replayed partials carry
the numbers they had and stage 2 drops them, and windows and alerts emitted after stage 2's last
checkpoint are emitted again, identical (at-least-once delivery of idempotent rows: the same
``(service, window_start)`` always has the same content). Decisions taken on the wall clock (idle,
end of input) are written to the checkpoint before their effects are sent, and replayed from it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from fleetstream import _core
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError, KafkaError
from fleetstream.kafka import KafkaBatch, KafkaSink, KafkaSource
from fleetstream.kafka._config import settings
from fleetstream.kafka.source import Partition
from fleetstream.pipeline._alerts_report import RejectWatch, log, rejects_rows, report_late_contributions
from fleetstream.pipeline.checkpoint import Checkpoint, CheckpointStore

LOG_FORMATS = ("auto", "python", "json")
_NO_OFFSET = -1  # checkpoint header of a partition never read from


@dataclass
class AlertsConfig:
    """Options of :class:`AlertsPipeline` (the ``fleetstream alerts`` command's, by the same names)."""

    brokers: str
    topic: str
    alerts_topic: str
    group: str
    state_dir: str
    windows_topic: str | None = None
    rejects_topic: str | None = None  # unreadable lines: topic, partition, offset, reason, line (JSON)
    log_format: str = "auto"  # "auto" (per line: JSON object or Python logging's layout), "python" or "json"
    window: Duration = "1m"
    watermark: Duration = "5s"
    history: int = 10
    factor: float = 3.0
    floor: float = 20
    checkpoint_every: Duration = "2s"
    batch_size: int = 20_000
    max_wait: Duration = "200ms"
    idle_exit: float | None = None  # seconds without input after which the run flushes and ends
    idle_partition: Duration | None = "30s"  # caught up and quiet this long: an input partition holds nothing back
    max_reject_share: float = 0.1  # warn when more of the lines than this cannot be read
    max_rate: float | None = None  # messages per second at most (replays, demos); None: as fast as possible
    consumer_config: Mapping[str, object] = field(default_factory=dict)
    producer_config: Mapping[str, object] = field(default_factory=dict)

    @property
    def repartition_topic(self) -> str:
        """The internal topic between the two stages."""
        return f"{self.group}-alerts-repartition"


class AlertsPipeline:
    """Runs the alerts pipeline in this process, as one member of ``config.group`` (start more
    processes with the same group and state directory to share the partitions).

    :meth:`run` processes until :meth:`stop`, Ctrl-C or the end of input (``idle_exit``) and returns
    the counts: ``messages`` and ``lines`` of the input, ``parse_rejects``, ``errors``, ``late`` (error
    lines later than their partition's watermark), ``windows``, ``alerts``, ``late_contributions``
    (counts for windows already published), ``duplicates`` (replayed partials dropped), ...

    >>> pipeline = AlertsPipeline(AlertsConfig(brokers=broker.bootstrap, topic="logs",      # doctest: +SKIP
    ...                                        alerts_topic="alerts", windows_topic="windows",
    ...                                        group="alerts", state_dir="/var/lib/alerts", idle_exit=5))
    >>> pipeline.run()["alerts"]                                                             # doctest: +SKIP
    2
    """

    def __init__(self, config: AlertsConfig, metrics: Any | None = None) -> None:
        self.config = config
        self.metrics = metrics
        if config.log_format not in LOG_FORMATS:
            raise ConfigError(f"log_format must be one of {', '.join(LOG_FORMATS)}; got {config.log_format!r}")
        if not 0 <= config.max_reject_share <= 1:
            raise ConfigError(f"max_reject_share must be between 0 and 1, got {config.max_reject_share}")
        self._options: dict[str, Any] = dict(
            log_format=config.log_format, window_ms=duration_ms(config.window, "window"),
            watermark_ms=duration_ms(config.watermark, "watermark"), history=config.history,
            factor=float(config.factor), floor=float(config.floor))
        self._idle_after = (None if config.idle_partition is None
                            else duration_ms(config.idle_partition, "idle_partition") / 1000)
        self.store = CheckpointStore(config.state_dir, config.group)
        self.partials: dict[Partition, _core.AlertsPartials] = {}
        self.merges: dict[Partition, _core.AlertsMerge] = {}
        self.counts = {"messages": 0, "lines": 0, "parse_rejects": 0, "errors": 0, "late": 0, "partials": 0,
                       "windows": 0, "alerts": 0, "late_contributions": 0, "repartition_rejects": 0,
                       "duplicates": 0, "json_lines": 0, "python_lines": 0, "idle_marks": 0, "checkpoints": 0,
                       "restored": 0}
        self.rejects_watch = RejectWatch(config.max_reject_share)
        self.stop_event = threading.Event()
        self._last_data: dict[Partition, float] = {}
        self._last_input = self._last_message = time.monotonic()
        self._late_logged = 0

        admin = settings(config.producer_config, config.brokers)
        self.input_partitions, self.repartition_partitions = self._topics(admin)
        consumer: dict[str, object] = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
        consumer.update(config.consumer_config)
        self.source = KafkaSource(
            [config.topic, config.repartition_topic], config.group, consumer, brokers=config.brokers, format="raw",
            columns=["topic", "partition", "offset"], batch_size=config.batch_size, max_wait=config.max_wait,
            on_assign=self._on_assign, on_revoke=self._on_revoke,
        )
        # murmur2: a service's partials always meet in one repartition partition, whatever else runs.
        self.repartition = KafkaSink(config.repartition_topic, config.producer_config, brokers=config.brokers,
                                     format="raw", key="key", partition="partition", partitioner="murmur2")
        self.alerts = KafkaSink(config.alerts_topic, config.producer_config, brokers=config.brokers, key="service")
        self.windows = (KafkaSink(config.windows_topic, config.producer_config, brokers=config.brokers, key="service")
                        if config.windows_topic else None)
        self.rejects = (KafkaSink(config.rejects_topic, config.producer_config, brokers=config.brokers)
                        if config.rejects_topic else None)

    def _topics(self, admin: list[tuple[str, str]]) -> tuple[int, int]:
        """Partition counts of the input and of the repartition topic (created like the input when missing)."""
        topic, internal = self.config.topic, self.config.repartition_topic
        counts = dict(_core.kafka_partition_counts(admin, [topic, internal], 10_000))
        inputs = counts[topic]
        if inputs is None:
            raise KafkaError(f"input topic {topic!r} does not exist", "UnknownTopicOrPartition")
        if counts[internal] is None:
            _core.kafka_ensure_topics(admin, [(internal, inputs)], 10_000)
            counts = dict(_core.kafka_partition_counts(admin, [internal], 10_000))
        internal_count = counts[internal]
        if internal_count is None:
            raise KafkaError(f"the internal topic {internal!r} could not be created", "UnknownTopicOrPartition")
        return inputs, internal_count

    # -- state per partition -------------------------------------------------------------------
    def _on_assign(self, partitions: list[Partition]) -> None:
        now = time.monotonic()
        self._last_input = self._last_message = now  # idle time counts from the (re)assignment
        for tp in partitions:
            topic, partition = tp
            checkpoint = self.store.load(topic, partition)
            state = checkpoint.parts[0] if checkpoint is not None else None
            if topic == self.config.topic:
                op = _core.AlertsPartials(**self._options, source=partition, input_partitions=self.input_partitions,
                                          repartition_partitions=self.repartition_partitions, checkpoint=state)
                self.partials[tp] = op
                self._last_data[tp] = now
                # The intent written with the checkpoint (if any) again, and this partition's marker.
                messages, _, _ = op.resume()
                self.repartition.send(messages)
            else:
                self.merges[tp] = _core.AlertsMerge(**self._options, checkpoint=state)
            if checkpoint is not None:
                if checkpoint.next_offset != _NO_OFFSET:
                    self.source.seek(topic, partition, checkpoint.next_offset)
                self.counts["restored"] += 1

    def _on_revoke(self, partitions: list[Partition]) -> None:
        self.checkpoint(partitions)
        for tp in partitions:
            self.partials.pop(tp, None)
            self.merges.pop(tp, None)
            self._last_data.pop(tp, None)

    def _flush_outputs(self) -> None:
        for sink in (self.repartition, self.alerts, self.windows, self.rejects):
            if sink is not None:
                sink.flush()

    def _save(self, tp: Partition, next_offset: int | None, state: bytes) -> None:
        self.store.save(tp[0], tp[1], Checkpoint(_NO_OFFSET if next_offset is None else next_offset, (state,)))

    def checkpoint(self, partitions: list[Partition] | None = None) -> None:
        """Acknowledge outputs, then write state + offsets of ``partitions`` (default: all owned)."""
        self._flush_outputs()
        committed = {}
        owned = list(self.partials) + list(self.merges)
        for tp in partitions if partitions is not None else owned:
            op: _core.AlertsPartials | _core.AlertsMerge | None = self.partials.get(tp) or self.merges.get(tp)
            if op is None:
                continue
            self._save(tp, op.next_offset, op.checkpoint())
            if op.next_offset is not None:
                committed[tp] = op.next_offset
        if committed:
            # The group's committed offsets follow the checkpoints (for lag tools); recovery uses the checkpoints.
            self.source.commit(committed)
        self.counts["checkpoints"] += 1

    def _decide(self, tp: Partition, intent: Literal["drain", "finish"]) -> None:
        """Apply a wall-clock decision to input partition ``tp``, written ahead to its checkpoint so
        that a crash replays it rather than numbering other partials the same."""
        op = self.partials[tp]
        self._flush_outputs()
        self._save(tp, op.next_offset, op.checkpoint(intent))
        messages, _, _ = op.drain() if intent == "drain" else op.finish()
        self.repartition.send(messages)

    # -- processing ------------------------------------------------------------------------------
    def _count(self, counts: Mapping[str, int]) -> None:
        for name, value in counts.items():
            if name in self.counts:
                self.counts[name] += value

    def _stage1(self, tp: Partition, rows: pa.RecordBatch, unread: pa.RecordBatch, next_offset: int,
                now: float) -> None:
        """``rows``: the partition's messages; ``unread``: those the source could not hand over
        (over ``max_message_bytes``), rejects too."""
        op = self.partials.get(tp)
        if op is None:  # not ours any more (revoked mid-poll): the new owner reads it
            return
        messages, rejects, counts = op.push(rows.column("value"), rows.column("_offset"), next_offset)
        self._count(counts)
        if unread.num_rows:
            unread_rows = pa.record_batch({
                "line": pa.array([None] * unread.num_rows, pa.string()),
                "offset": unread.column("offset"),
                "reason": unread.column("reason"),
            })
            rejects = pa.concat_batches([rejects, unread_rows]) if rejects.num_rows else unread_rows
            self.counts["lines"] += unread.num_rows
            self.counts["parse_rejects"] += unread.num_rows
        self._last_data[tp] = now
        self.repartition.send(messages)
        if rejects.num_rows and self.rejects is not None:
            self.rejects.send(rejects_rows(rejects, tp[0], tp[1]))
        self.rejects_watch.observe(rows.num_rows + unread.num_rows, rejects, tp[1], now)

    def _stage2(self, tp: Partition, rows: pa.RecordBatch, next_offset: int) -> None:
        op = self.merges.get(tp)
        if op is None:
            return
        windows, alerts, late, rejects, counts = op.push(rows.column("value"), rows.column("_offset"), next_offset)
        self._count(counts)
        if windows.num_rows:
            self.counts["windows"] += windows.num_rows
            if self.windows is not None:
                self.windows.send(windows)
        if alerts.num_rows:
            self.counts["alerts"] += alerts.num_rows
            self.alerts.send(alerts)
        if late.num_rows:
            self._late_logged += report_late_contributions(late, self._late_logged)
        for row in rejects.to_pylist()[:3]:
            log.warning("%s[%s] offset %s is not an alerts repartition message: %s", tp[0], tp[1], row["offset"],
                        row["reason"])

    def process(self, batch: KafkaBatch) -> None:
        started = now = time.monotonic()
        records, unread = batch.records, batch.rejects
        self._last_message = now
        # Every partition the batch holds messages of, even when all of them were unreadable.
        for tp in batch.start_offsets:
            topic, partition = tp
            next_offset = batch.offsets[tp]
            rows = records.filter(pc.and_(pc.equal(records["_topic"], topic), pc.equal(records["_partition"], partition)))
            bad = unread.filter(pc.and_(pc.equal(unread["topic"], topic), pc.equal(unread["partition"], partition)))
            if topic == self.config.topic:
                self.counts["messages"] += rows.num_rows + bad.num_rows
                self._last_input = now
                self._stage1(tp, rows, bad, next_offset, now)
            else:
                self._stage2(tp, rows, next_offset)
                self.counts["repartition_rejects"] += bad.num_rows
        if self.metrics is not None:
            self.metrics.observe_batch(self, batch, time.monotonic() - started)

    def _caught_up(self, tp: Partition, op: _core.AlertsPartials, marks: Mapping[Partition, tuple[int, int]]) -> bool:
        """Whether the fetch responses say ``tp`` has nothing more to read (ListOffsets is not trusted)."""
        if tp not in marks:
            return False
        low, high = marks[tp]
        return low == high if op.next_offset is None else op.next_offset >= high

    def _mark_idle(self, now: float) -> None:
        if self._idle_after is None:
            return
        quiet = [tp for tp, op in self.partials.items()
                 if not op.idle and not op.finished and now - self._last_data.get(tp, now) >= self._idle_after]
        if not quiet:
            return
        marks = self.source.fetch_watermarks()
        for tp in quiet:
            if self._caught_up(tp, self.partials[tp], marks):
                self._decide(tp, "drain")
                self.counts["idle_marks"] += 1

    def _end_of_input(self, now: float) -> bool:
        """``idle_exit``: end the input partitions owned once no input came for that long; the run is
        over when every owned merge has seen all input partitions end (or nothing came at all for
        that long, when some input partition is owned by a process that does not end)."""
        idle_exit = self.config.idle_exit
        if idle_exit is None or not (self.partials or self.merges) or now - self._last_input < idle_exit:
            return False
        ending = [tp for tp, op in self.partials.items() if not op.finished]
        for tp in ending:
            self._decide(tp, "finish")
        if ending:
            self._last_message = now
            return False
        if all(op.complete for op in self.merges.values()):
            return True
        if now - self._last_message >= idle_exit:
            waiting = sorted({p for op in self.merges.values() for p in op.waiting_for()})
            log.warning("ending with windows still open: input partitions %s have not ended (owned by a process "
                        "without --idle-exit?); the checkpoint keeps them for the next run", waiting)
            return True
        return False

    def waiting_for(self) -> list[int]:
        """Input partitions that hold back the closing of windows in the merges this process owns."""
        return sorted({p for op in self.merges.values() for p in op.waiting_for()})

    def run(self) -> dict[str, int]:
        """Process until :meth:`stop`, Ctrl-C, or the end of input (``idle_exit``)."""
        every = duration_ms(self.config.checkpoint_every, "checkpoint_every") / 1000
        last_checkpoint = self._last_input = self._last_message = time.monotonic()
        try:
            while not self.stop_event.is_set():
                batch = self.source.poll()
                now = time.monotonic()
                if batch.messages:
                    self.process(batch)
                    if self.config.max_rate:
                        time.sleep(max(0.0, batch.messages / self.config.max_rate - (time.monotonic() - now)))
                self._mark_idle(now)
                if self._end_of_input(now):
                    break
                if now - last_checkpoint >= every:
                    self.checkpoint()
                    last_checkpoint = now
                if self.metrics is not None:
                    self.metrics.observe_idle(self)
        finally:
            self.close()
        self.rejects_watch.finish()
        return dict(self.counts)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self.source.close()  # on_revoke checkpoints what is still owned
