"""The exactly-once payments pipeline: Kafka (JSON payment events) -> validate + enrich (Rust) ->
PostgreSQL or SQLite, with the offsets in the same transaction.

consume (KafkaSource, raw bytes) -> ``_core.PaymentsOperator`` (exact money, merchant join, FX as of
the payment's time; every invalid message a dead letter with the reason) -> :class:`ExactlyOnceSink`
(rows + dead letters + per-merchant per-day read model + offsets, one transaction, fenced by the
partition's generation).

On every assignment the pipeline claims the partitions in the database (bumping their generation)
and seeks to the offsets stored *there*; Kafka's committed offsets are never used. A crash at any
moment therefore resumes exactly after the last committed batch, and a replay (after a rebalance
race) inserts nothing twice: rows are keyed by ``payment_id`` and only inserted rows reach the read
model. A consumer that lost a partition but still writes gets :class:`FencedError` for that batch,
drops what it no longer owns and re-reads the rest from the database's offsets.

The payload shape is configurable: ``fields`` maps each of ``payment_id``, ``merchant_id``, ``amount``,
``currency`` and ``ts`` to a dotted path (``{"amount": "data.object.amount"}``); ``amount_unit`` says
whether amounts are major units (``"12.34"`` or ``12.34``) or integer minor units (``1234``);
``ts_unit`` gives the unit of numeric times (RFC 3339 text is always read as such). Currency codes
may come in upper or lower case (``eur``). Amounts are converted into ``base_currency``
(``amount_<base>_minor``, e.g. ``amount_usd_minor``) with the FX table's ``rate_to_<base>`` rates; without
an FX table, payments in another currency become dead letters saying so.

>>> import pyarrow as pa, fleetstream as fs
>>> from fleetstream.pipeline import PaymentsWriter
>>> merchants = fs.ReferenceTable(pa.table({"merchant_id": ["m1"], "category": ["books"]}), "merchant_id")
>>> writer = PaymentsWriter("sqlite:///:memory:", merchants, None, base_currency="EUR", amount_unit="minor",
...                         ts_unit="s", fields={"amount": "data.amount", "currency": "data.currency"})
>>> events = [b'{"payment_id": "p1", "merchant_id": "m1", "ts": 1767261600, "data": {"amount": 1234, "currency": "eur"}}',
...           b'{"payment_id": "p2", "merchant_id": "m1", "ts": 1767261600, "data": {"amount": 500, "currency": "usd"}}']
>>> rows, dead = writer.transform("payments", pa.array(events), pa.array([0, 0], pa.int32()), pa.array([0, 1]))
>>> rows.select(["payment_id", "amount_minor", "currency", "amount_eur_minor", "category"]).to_pylist()
[{'payment_id': 'p1', 'amount_minor': 1234, 'currency': 'EUR', 'amount_eur_minor': 1234, 'category': 'books'}]
>>> dead.column("reason").to_pylist()
['no FX table given: cannot convert USD to EUR (without one only EUR payments are accepted)']
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fleetstream import _core
from fleetstream._time import Duration
from fleetstream.enrich import ReferenceTable
from fleetstream.exceptions import ConfigError, FencedError
from fleetstream.kafka import KafkaBatch, KafkaSource
from fleetstream.kafka.source import Partition
from fleetstream.pipeline import _faults
from fleetstream.sinks import ExactlyOnceSink, ReadModel, WriteResult


#: The payment fields a payload must carry (``fields`` maps them to dotted paths).
PAYMENT_FIELDS = ("payment_id", "merchant_id", "amount", "currency", "ts")


@dataclass
class PaymentsConfig:
    """Where to read, what the payloads look like, and where to write. ``fx`` may be None when
    every payment is in ``base_currency`` (the others become dead letters); ``max_amount`` is in
    major units of ``base_currency`` (``max_amount_usd`` is its old, USD-only name)."""

    brokers: str
    topic: str
    group: str
    db: str
    merchants: ReferenceTable | str
    fx: ReferenceTable | str | None = None
    table: str = "payments"
    read_model: str | None = "payments_merchant_daily"
    batch_size: int = 10_000
    max_wait: Duration = "500ms"
    idle_exit: float | None = None  # seconds without input (while owning partitions) after which run() ends
    max_amount_usd: int | None = None  # deprecated: max_amount (with base_currency="USD")
    refresh_every: float | None = None  # seconds between reference reloads (file sources)
    max_rate: float | None = None  # messages per second at most (replays, demos, tests); None: as fast as possible
    consumer_config: Mapping[str, object] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)  # payment field -> dotted path in the payload
    amount_unit: str = "major"  # "major" (12.34) or "minor" (1234)
    ts_unit: str = "ms"  # unit of numeric times: "s", "ms", "us" or "ns"
    base_currency: str = "USD"
    fx_rate_column: str | None = None  # default: rate_to_<base currency, lower case>
    max_amount: int | str | Decimal = 1_000_000


def _max_amount(max_amount: int | str | Decimal, max_amount_usd: int | None, base_currency: str) -> str:
    """The limit as decimal text, accepting the old USD-only option."""
    if max_amount_usd is None:
        return str(max_amount)
    warnings.warn("max_amount_usd is deprecated: use max_amount (in the base currency)", DeprecationWarning, stacklevel=3)
    if base_currency != "USD":
        raise ConfigError(f"max_amount_usd is a limit in USD but the base currency is {base_currency}: use max_amount")
    return str(max_amount_usd)


def load_references(merchants: ReferenceTable | str, fx: ReferenceTable | str | None,
                    refresh_every: float | None = None, *,
                    rate_column: str = "rate_to_usd") -> tuple[ReferenceTable, ReferenceTable | None]:
    """Merchants (key ``merchant_id``) and FX rates (``currency``, ``valid_from``, ``rate_column``; None:
    no FX table) from tables or CSV / Parquet paths."""
    def load(source: ReferenceTable | str, fx_table: bool) -> ReferenceTable:
        if isinstance(source, ReferenceTable):
            return source
        path = str(source)
        if path.endswith(".parquet"):
            return ReferenceTable.from_parquet(path, "currency" if fx_table else "merchant_id",
                                               effective="valid_from" if fx_table else None, refresh_every=refresh_every)
        if fx_table:
            return ReferenceTable.fx_rates_csv(path, rate_column=rate_column, refresh_every=refresh_every)
        return ReferenceTable.from_csv(path, "merchant_id", refresh_every=refresh_every)

    return load(merchants, False), None if fx is None else load(fx, True)


class PaymentsWriter:
    """Validate, enrich and write batches of raw payment payloads for partitions it has claimed
    (the part of the pipeline that does not know Kafka; the demo drives it directly)."""

    def __init__(self, db: str, merchants: ReferenceTable, fx: ReferenceTable | None = None, *, table: str = "payments",
                 read_model: str | None = "payments_merchant_daily", fields: Mapping[str, str] | None = None,
                 amount_unit: str = "major", ts_unit: str = "ms", base_currency: str = "USD",
                 fx_rate_column: str | None = None, max_amount: int | str | Decimal = 1_000_000,
                 max_amount_usd: int | None = None) -> None:
        self.merchants = merchants
        self.fx = fx
        self.operator = _core.PaymentsOperator(
            fields=sorted((fields or {}).items()), amount_unit=amount_unit, ts_unit=ts_unit, base_currency=base_currency,
            rate_column=fx_rate_column, max_amount=_max_amount(max_amount, max_amount_usd, base_currency))
        #: the output column of amounts in the base currency, e.g. ``amount_usd_minor``
        self.amount_column = self.operator.amount_column
        self.sink = ExactlyOnceSink(
            db, table, key=["payment_id"], mode="insert",
            read_model=ReadModel(read_model, group_by=["merchant_id", "day"], sums=[self.amount_column]) if read_model else None,
        )
        self.generations: dict[Partition, int] = {}
        self.counts = {"messages": 0, "rows": 0, "written": 0, "duplicates": 0, "dead_letters": 0, "batches": 0,
                       "fenced": 0, "claims": 0}

    def claim(self, partitions: Iterable[Partition]) -> dict[Partition, int | None]:
        """Take partitions over; returns the stored next offset of each (None: from the beginning)."""
        claims = self.sink.claim(list(partitions))
        for tp, claim in claims.items():
            self.generations[tp] = claim.generation
        self.counts["claims"] += len(claims)
        _faults.reach("after_claim")
        return {tp: claim.next_offset for tp, claim in claims.items()}

    def release(self, partitions: Iterable[Partition]) -> None:
        for tp in partitions:
            self.generations.pop(tp, None)

    def transform(self, topic: str, payloads: Any, partitions: Any, offsets: Any) -> tuple[pa.RecordBatch, pa.RecordBatch]:
        """(rows, dead letters) of raw payloads: the Rust operator, no database."""
        fx = None if self.fx is None else self.fx.native
        return self.operator.process(topic, payloads, partitions, offsets, self.merchants.native, fx)

    def write(self, topic: str, payloads: Any, partitions: Any, offsets: Any, next_offsets: Mapping[Partition, int],
              extra_dead_letters: pa.RecordBatch | None = None) -> WriteResult:
        """Transform and commit one batch with ``next_offsets`` (all partitions must be claimed)."""
        rows, dead = self.transform(topic, payloads, partitions, offsets)
        if extra_dead_letters is not None and extra_dead_letters.num_rows:
            dead = pa.Table.from_batches([dead, extra_dead_letters.select(dead.schema.names).cast(dead.schema)])
        _faults.reach("before_commit")
        result = self.sink.write(rows, dead, offsets=next_offsets, generations=self.generations)
        _faults.reach("after_commit")
        self.counts["messages"] += len(payloads) + (extra_dead_letters.num_rows if extra_dead_letters is not None else 0)
        self.counts["rows"] += result.rows
        self.counts["written"] += result.written
        self.counts["duplicates"] += result.duplicates
        self.counts["dead_letters"] += result.dead_letters
        self.counts["batches"] += 1
        return result

    def maybe_refresh(self) -> None:
        self.merchants.maybe_refresh()
        if self.fx is not None:
            self.fx.maybe_refresh()


class PaymentsPipeline:
    """Run :class:`PaymentsConfig`: until :meth:`stop`, Ctrl-C, or ``idle_exit`` seconds without input."""

    def __init__(self, config: PaymentsConfig, metrics: Any | None = None) -> None:
        if config.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {config.batch_size}")
        self.config = config
        self.metrics = metrics
        rate_column = config.fx_rate_column or f"rate_to_{config.base_currency.lower()}"
        merchants, fx = load_references(config.merchants, config.fx, config.refresh_every, rate_column=rate_column)
        self.writer = PaymentsWriter(config.db, merchants, fx, table=config.table, read_model=config.read_model,
                                     fields=config.fields, amount_unit=config.amount_unit, ts_unit=config.ts_unit,
                                     base_currency=config.base_currency, fx_rate_column=rate_column,
                                     max_amount=_max_amount(config.max_amount, config.max_amount_usd, config.base_currency))
        self.stop_event = threading.Event()
        self._last_input = time.monotonic()
        #: monotonic times of the first non-empty poll and of the last committed batch (for throughput)
        self.first_batch_at: float | None = None
        self.last_commit_at: float | None = None
        consumer: dict[str, object] = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                                       "auto.offset.reset": "earliest", "enable.auto.commit": False}
        consumer.update(config.consumer_config)
        self.source = KafkaSource(
            config.topic, config.group, consumer, brokers=config.brokers, format="raw",
            columns=["partition", "offset"], batch_size=config.batch_size, max_wait=config.max_wait,
            on_assign=self._on_assign, on_revoke=self._on_revoke,
        )

    @property
    def counts(self) -> dict[str, int]:
        return self.writer.counts

    @property
    def sink(self) -> ExactlyOnceSink:
        return self.writer.sink

    def _on_assign(self, partitions: list[Partition]) -> None:
        self._last_input = time.monotonic()
        for tp, next_offset in self.writer.claim(partitions).items():
            # The database decides where to resume, never Kafka's committed offsets.
            self.source.seek(tp[0], tp[1], "beginning" if next_offset is None else next_offset)

    def _on_revoke(self, partitions: list[Partition]) -> None:
        self.writer.release(partitions)  # everything processed is already committed: nothing to flush

    def _reseek_after_fence(self) -> None:
        """After a fenced batch: forget partitions another writer claimed; re-read the rest from the
        database (the batch was rolled back, the consumer's positions are past it)."""
        stored = self.writer.sink.stored()
        for tp, generation in list(self.writer.generations.items()):
            claim = stored.get(tp)
            if claim is None or claim.generation != generation:
                self.writer.generations.pop(tp)
                continue
            self.source.seek(tp[0], tp[1], "beginning" if claim.next_offset is None else claim.next_offset)

    def process(self, batch: KafkaBatch) -> WriteResult | None:
        started = time.perf_counter()
        records, rejects = batch.records, batch.rejects
        owned = self.writer.generations
        offsets = {tp: o for tp, o in batch.offsets.items() if tp in owned}
        if len(offsets) < len(batch.offsets):  # revoked mid-poll: the new owner reads those
            keep = pa.array([p for t, p in offsets], pa.int32())
            records = records.filter(pc.is_in(records["_partition"], value_set=keep))
            rejects = rejects.filter(pc.is_in(rejects["partition"], value_set=keep))
        if not offsets:
            return None
        try:
            result = self.writer.write(self.config.topic, records["value"], records["_partition"], records["_offset"],
                                       offsets, rejects)
        except FencedError:
            self.writer.counts["fenced"] += 1
            self._reseek_after_fence()
            return None
        if self.metrics is not None:
            self.metrics.observe_batch(self, batch, time.perf_counter() - started)
        return result

    def run(self) -> dict[str, int]:
        try:
            while not self.stop_event.is_set():
                polled_at = time.monotonic()
                batch = self.source.poll()
                now = time.monotonic()
                if batch.messages:
                    if self.first_batch_at is None:  # conservative: includes this poll's wait
                        self.first_batch_at = polled_at
                    if self.process(batch) is not None:
                        self.last_commit_at = time.monotonic()
                    self._last_input = now
                    if self.config.max_rate:
                        time.sleep(max(0.0, batch.messages / self.config.max_rate - (time.monotonic() - now)))
                elif (self.config.idle_exit is not None and self.writer.generations
                      and now - self._last_input >= self.config.idle_exit):
                    break
                self.writer.maybe_refresh()
                if self.metrics is not None:
                    self.metrics.observe_idle(self)
        finally:
            self.close()
        return dict(self.counts)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        self.source.close()
