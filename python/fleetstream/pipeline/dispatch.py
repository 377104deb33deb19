"""The live dispatch pipeline on Kafka: orders and vehicle events in, plan changes out.

consume (KafkaSource over the orders and vehicle-event topics, raw bytes) -> the Rust operator
``src/pipeline/dispatch.rs`` (JSON decoding, event-time merge of the partitions, the dispatcher,
re-planning on the event clock) -> produce (KafkaSink): one message per changed vehicle route
(``{"type": "route", "vehicle", "version", "status", "departure", "end", "at", "stops": [...]}``,
keyed by vehicle) and one per order fate (``{"type": "order", "order_id", "status", "vehicle", "at",
"reason"}``, keyed by order id) to the plans topic; input that cannot be used goes to the rejects
topic with the reason (topic, partition, offset, reason, payload).

One process runs the fleet's dispatcher (a fleet's day is one sequence of decisions): give each
input topic one partition, so the group's range assignor hands both to the same member; a second
member with the same group is a standby. The state is checkpointed with the input offsets (the
dispatcher with, per partition, the next offset not yet applied) after every output it caused has
been acknowledged; a restart restores it and reads on from there. Because the operator applies
messages in an order fixed by the logs (event time, then topic, partition, offset) and re-plans on
the event clock with an iteration budget, a restart after ``kill -9`` makes the same decisions: no
order is lost or applied twice, and the route and order messages emitted after the last checkpoint
are emitted again, identical (deduplicate routes on ``(vehicle, version)``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from fleetstream import _core
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError
from fleetstream.kafka import KafkaBatch, KafkaSink, KafkaSource
from fleetstream.kafka.source import Partition
from fleetstream.pipeline import _faults
from fleetstream.pipeline.checkpoint import Checkpoint, CheckpointStore
from fleetstream.routing._dispatcher import Dispatcher
from fleetstream.routing._model import Model, Span, span


@dataclass
class DispatchConfig:
    brokers: str
    orders_topic: str
    vehicle_topic: str
    plans_topic: str
    group: str
    fleet: Model | str
    state_dir: str = ".fleetstream-state"
    rejects_topic: str | None = None
    freeze: Span = "15m"
    stability: float = 1.0
    buffer: Span = 0
    seed: int = 1
    threads: int = 1
    #: re-plan every this much event time (the day's clock as the messages carry it)
    improve_every: Span = "10s"
    improve_iterations: int = 200
    #: a wall-clock cap per re-plan (None: the iteration budget alone, deterministic)
    improve_time_limit: float | None = None
    origin: str | None = None
    checkpoint_every: Duration = "2s"
    #: a partition no fetch response has reported on for this long since assignment counts as
    #: caught up (a broker that never answers for it must not stall the fleet's day forever)
    merge_wait: float = 30.0
    batch_size: int = 5_000
    max_wait: Duration = "200ms"
    idle_exit: float | None = None
    max_rate: float | None = None
    consumer_config: Mapping[str, object] = field(default_factory=dict)
    producer_config: Mapping[str, object] = field(default_factory=dict)


class DispatchPipeline:
    def __init__(self, config: DispatchConfig, metrics: Any | None = None) -> None:
        from fleetstream.routing._fleet import read_fleet

        if config.orders_topic == config.vehicle_topic:
            raise ConfigError("--orders-topic and --vehicle-topic must be different topics")
        self.config = config
        self.metrics = metrics
        model = config.fleet if isinstance(config.fleet, Model) else read_fleet(config.fleet)
        self._fresh = Dispatcher(model, freeze=span(config.freeze, "freeze"), stability=config.stability,
                                 seed=config.seed, threads=config.threads, buffer=span(config.buffer, "buffer"),
                                 origin=config.origin).snapshot()
        self._every = span(config.improve_every, "improve_every")
        self.store = CheckpointStore(config.state_dir, config.group)
        self.operator: Any = None
        self.owned: set[Partition] = set()
        self._assigned_at: dict[Partition, float] = {}
        self.counts = {"messages": 0, "routes": 0, "fates": 0, "dead_letters": 0, "checkpoints": 0, "restored": 0,
                       "polls": 0}
        #: the operator's event clock and merge backlog after the last batch (for progress lines and
        #: metrics read from other threads: the operator itself is only touched by the polling thread)
        self.clock: int | None = None
        self.waiting = 0
        self._saved: list[tuple[str, int, int]] | None = None
        self.stop_event = threading.Event()
        self._last_input = time.monotonic()
        consumer: dict[str, object] = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                                       "auto.offset.reset": "earliest", "enable.auto.commit": False}
        consumer.update(config.consumer_config)
        self.source = KafkaSource([config.orders_topic, config.vehicle_topic], config.group, consumer,
                                  brokers=config.brokers, format="raw", columns=["topic", "partition", "offset"],
                                  batch_size=config.batch_size, max_wait=config.max_wait,
                                  on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.plans = KafkaSink(config.plans_topic, config.producer_config, brokers=config.brokers, format="raw", key="key")
        self.rejects = (KafkaSink(config.rejects_topic, config.producer_config, brokers=config.brokers, format="json")
                        if config.rejects_topic else None)

    @property
    def _checkpoint_key(self) -> tuple[str, int]:
        return (f"{self.config.orders_topic}+{self.config.vehicle_topic}", 0)

    # -- ownership and state -----------------------------------------------------------------------
    def _on_assign(self, partitions: list[Partition]) -> None:
        self._last_input = time.monotonic()
        for tp in partitions:
            self.owned.add(tp)
            self._assigned_at[tp] = time.monotonic()
        topics = {t for t, _ in self.owned}
        if self.operator is None and {self.config.orders_topic, self.config.vehicle_topic} <= topics:
            self._start()
        elif self.operator is not None:
            self._seek(partitions)

    def _start(self) -> None:
        checkpoint = self.store.load(*self._checkpoint_key)
        options: dict[str, Any] = dict(orders_topic=self.config.orders_topic, vehicle_topic=self.config.vehicle_topic,
                       improve_every=self._every, improve_iterations=self.config.improve_iterations,
                       improve_time_ms=None if self.config.improve_time_limit is None else int(self.config.improve_time_limit * 1000))
        if checkpoint is not None:
            self.operator = _core.DispatchOperator(**options, checkpoint=checkpoint.parts[0])
            self.counts["restored"] += 1
        else:
            self.operator = _core.DispatchOperator(**options, dispatcher=self._fresh)
        self._saved = self.operator.resume_offsets()
        self._observe()
        self._seek(sorted(self.owned))

    def _observe(self) -> None:
        self.clock, self.waiting = self.operator.now, self.operator.waiting

    def _seek(self, partitions: list[Partition]) -> None:
        resume = {(t, p): o for t, p, o in self.operator.resume_offsets()}
        for tp in partitions:
            self.source.seek(tp[0], tp[1], resume.get(tp, "beginning"))

    def _on_revoke(self, partitions: list[Partition]) -> None:
        if self.operator is not None:
            self.checkpoint()
            self.operator = None
        for tp in partitions:
            self.owned.discard(tp)

    def checkpoint(self) -> None:
        """Acknowledge every output, then save the operator (dispatcher + applied offsets); nothing
        to do when no message was applied since the last checkpoint."""
        if self.operator is None:
            return
        applied = self.operator.resume_offsets()
        if applied == self._saved:
            return
        self.plans.flush()
        if self.rejects is not None:
            self.rejects.flush()
        _faults.reach("before_checkpoint")
        state = self.operator.checkpoint()
        self.store.save(*self._checkpoint_key, Checkpoint(0, (state,)))
        self._saved = applied
        resume = {(t, p): o for t, p, o in applied}
        if resume:  # the group's committed offsets follow (for lag tools); recovery uses the checkpoint
            self.source.commit(resume)
        self.counts["checkpoints"] += 1

    def dispatcher(self) -> Dispatcher | None:
        """The dispatcher as it stands (a copy)."""
        return None if self.operator is None else Dispatcher.restore(self.operator.dispatcher())

    # -- processing --------------------------------------------------------------------------------
    def _open(self) -> list[Partition]:
        """Owned partitions the merge must wait for: those whose last fetch response reported
        messages beyond what was handed out, and those no fetch response has reported on yet (for
        ``merge_wait`` s after assignment). Only fetch responses say a partition is caught up: a
        partition just sought to its resume offset is not, whatever its position says, and a slow
        first fetch on a loaded machine must not let the merge run ahead of it (that changed the
        decisions of a restart)."""
        marks = self.source.fetch_watermarks()
        position = self.source.position()
        now = time.monotonic()
        out = []
        for tp in sorted(self.owned):
            if tp in marks:
                low, high = marks[tp]
                if max(position.get(tp, low), low) < high:
                    out.append(tp)
            elif now - self._assigned_at.get(tp, now) < self.config.merge_wait:
                out.append(tp)
        return out

    def _behind(self) -> bool:
        """Whether a fetch response reported messages not handed out yet (no idle exit then)."""
        marks, position = self.source.fetch_watermarks(), self.source.position()
        return any(max(position.get(tp, low), low) < high for tp, (low, high) in marks.items() if tp in self.owned)

    def process(self, batch: KafkaBatch, flush: bool = False) -> None:
        started = time.perf_counter()
        records = batch.records
        messages, dead = self.operator.push(records["_topic"], records["_partition"], records["_offset"],
                                            records["value"], self._open(), flush)
        self._observe()
        if batch.rejects.num_rows:  # oversize or unreadable at the source: dead letters too
            dead = pa.concat_tables([dead, _source_rejects(batch.rejects, dead.schema)])
        self._send(messages, dead)
        self.counts["messages"] += batch.messages
        if self.metrics is not None:
            self.metrics.observe_batch(self, batch, time.perf_counter() - started)
        _faults.reach("after_batch")

    def _send(self, messages: pa.Table, dead: pa.Table) -> None:
        if messages.num_rows:
            self.plans.send(messages)
            values = messages.column("value").to_pylist()
            routes = sum(1 for v in values if '"type":"route"' in v)
            self.counts["routes"] += routes
            self.counts["fates"] += len(values) - routes
        if dead.num_rows:
            self.counts["dead_letters"] += dead.num_rows
            if self.rejects is not None:
                self.rejects.send(dead.set_column(4, "payload", pa.array(
                    [p.decode("utf-8", "replace") for p in dead.column("payload").to_pylist()], pa.string())))

    def flush(self) -> None:
        """End of input: apply every waiting message, then checkpoint."""
        if self.operator is None:
            return
        empty = pa.array([], pa.string())
        messages, dead = self.operator.push(empty, pa.array([], pa.int32()), pa.array([], pa.int64()),
                                            pa.array([], pa.binary()), [], True)
        self._observe()
        self._send(messages, dead)
        self.checkpoint()

    def run(self) -> dict[str, int]:
        """Process until :meth:`stop`, Ctrl-C, or ``idle_exit`` seconds without input."""
        every = duration_ms(self.config.checkpoint_every, "checkpoint_every") / 1000
        last_checkpoint = self._last_input = time.monotonic()
        try:
            while not self.stop_event.is_set():
                batch = self.source.poll()
                self.counts["polls"] += 1
                now = time.monotonic()
                if self.operator is not None:
                    if batch.messages:
                        self.process(batch)
                        self._last_input = now
                        if self.config.max_rate:
                            time.sleep(max(0.0, batch.messages / self.config.max_rate - (time.monotonic() - now)))
                    elif self.operator.waiting:
                        self.process(batch)  # partitions went quiet: the merge may go on
                    if (self.config.idle_exit is not None and not batch.messages
                            and now - self._last_input >= self.config.idle_exit and not self._behind()):
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
            if self.metrics is not None:
                self.metrics.observe_idle(self)  # what the end of input applied counts too
        finally:
            self.source.close()  # on_revoke checkpoints what is still owned


def _source_rejects(rejects: pa.RecordBatch, schema: pa.Schema) -> pa.Table:
    table = pa.Table.from_batches([rejects])
    payload = table.column("payload") if "payload" in table.column_names else pa.array([b""] * table.num_rows, pa.binary())
    return pa.table({"topic": table.column("topic").cast(pa.string()), "partition": table.column("partition").cast(pa.int32()),
                     "offset": table.column("offset").cast(pa.int64()), "reason": table.column("reason").cast(pa.string()),
                     "payload": payload.cast(pa.binary())}, schema=schema)
