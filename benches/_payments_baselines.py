"""The plain-Python contenders of the payments benchmark: the same exactly-once design as
fleetstream's (offsets stored with the rows in one transaction, a generation per partition fencing
zombies, rows keyed by payment_id, a per-merchant per-day read model of the rows actually inserted),
written as a competent Python user would, twice:

* ``PerMessageBaseline``: one message, one transaction (bound by one durable commit per message).
* ``BatchedBaseline``: batches of 10,000 as fleetstream takes them (confluent-kafka
  ``consume(num_messages=...)``), one transaction per batch holding the rows, dead letters, read
  model and offsets: PostgreSQL ``COPY`` into a temporary staging table then ``INSERT ... SELECT ...
  ON CONFLICT DO NOTHING RETURNING`` feeding the read model in the same statement; SQLite
  ``executemany`` into a staging table then the same insert, the read model from its ``RETURNING`` rows.

Both validate with ``json.loads`` and ``decimal`` (no floats), and look merchants and FX rates up in
dicts (bisect for the rate in force on the payment's time).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

DECIMALS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CHF": 2, "SEK": 2, "KWD": 3, "CAD": 2}
CONSUMER = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "auto.offset.reset": "earliest",
            "enable.auto.commit": False}
MAX_USD_MINOR = 100_000_000
#: b_payments, b_dead_letters, b_offsets and b_daily: the same columns as fleetstream's tables
TABLES = {"data": "b_payments", "dead_letters": "b_dead_letters", "offsets": "b_offsets", "read_model": "b_daily"}


class Fenced(Exception):
    """Another consumer claimed a partition of this batch: the transaction was rolled back."""


class Baseline:
    """Connection, tables, claims and validation shared by both baselines."""

    def __init__(self, db: str, stream: Any) -> None:
        self.merchants = {m["merchant_id"]: m for m in stream.merchants.to_pylist()}
        self.fx: dict[str, tuple[list[int], list[Decimal]]] = {}
        for row in sorted(stream.fx.to_pylist(), key=lambda r: (r["currency"], r["valid_from"])):
            d = row["valid_from"]
            starts, rates = self.fx.setdefault(row["currency"], ([], []))
            starts.append(int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() * 1000))
            rates.append(Decimal(row["rate_to_usd"]))
        self.pg = not db.startswith("sqlite")
        if self.pg:
            import psycopg

            self.conn: Any = psycopg.connect(db)
        else:
            self.conn = sqlite3.connect(db[len("sqlite:///"):], isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
        ts_type, blob = ("TIMESTAMPTZ", "BYTEA") if self.pg else ("TEXT", "BLOB")
        for ddl in [
            "CREATE TABLE IF NOT EXISTS b_offsets (topic TEXT, partition INTEGER, next_offset BIGINT, generation BIGINT, PRIMARY KEY (topic, partition))",
            f"CREATE TABLE IF NOT EXISTS b_payments (payment_id TEXT PRIMARY KEY, merchant_id TEXT, amount_minor BIGINT, currency TEXT, "
            f"amount_usd_minor BIGINT, ts {ts_type}, day TEXT, merchant_name TEXT, category TEXT, risk_tier TEXT, country TEXT, "
            "source_partition INTEGER, source_offset BIGINT)",
            f"CREATE TABLE IF NOT EXISTS b_dead_letters (topic TEXT, partition INTEGER, \"offset\" BIGINT, reason TEXT, payload {blob}, "
            "PRIMARY KEY (topic, partition, \"offset\"))",
            "CREATE TABLE IF NOT EXISTS b_daily (merchant_id TEXT, day TEXT, row_count BIGINT, amount_usd_minor BIGINT, PRIMARY KEY (merchant_id, day))",
        ]:
            self.conn.execute(ddl)
        if self.pg:
            self.conn.commit()
        self.generations: dict[tuple[str, int], int] = {}

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.pg else text

    def claim(self, topic: str, partition: int) -> int | None:
        row = self.conn.execute(self.sql(
            "INSERT INTO b_offsets VALUES (?, ?, NULL, 1) ON CONFLICT (topic, partition) DO UPDATE "
            "SET generation = b_offsets.generation + 1 RETURNING next_offset, generation"), (topic, partition)).fetchone()
        if self.pg:
            self.conn.commit()
        self.generations[(topic, partition)] = row[1]
        return row[0]

    def validate(self, payload: bytes) -> tuple[Any, ...] | str:
        """The row's values (without source partition and offset), or the dead letter's reason."""
        try:
            doc = json.loads(payload, parse_float=Decimal)
        except ValueError as exc:
            return f"malformed JSON: {exc}"
        if not isinstance(doc, dict):
            return "not an object"
        for name in ("payment_id", "merchant_id", "currency"):
            if not isinstance(doc.get(name), str) or not doc[name].strip():
                return f"missing or mistyped {name}"
        ts = doc.get("ts")
        if isinstance(ts, str):
            try:
                ts = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
            except ValueError:
                return "bad ts"
        elif not isinstance(ts, int) or isinstance(ts, bool):
            return "bad ts"
        currency = doc["currency"]
        if currency not in DECIMALS:
            return "unknown currency"
        raw = doc.get("amount")
        if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
            return "bad amount"
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            return "bad amount"
        minor = amount.scaleb(DECIMALS[currency])
        if minor != minor.to_integral_value():
            return "too many decimals"
        if amount <= 0:
            return "not positive"
        merchant = self.merchants.get(doc["merchant_id"])
        if merchant is None:
            return "unknown merchant"
        starts, rates = self.fx.get(currency, ([], []))
        at = bisect.bisect_right(starts, ts) - 1
        if at < 0:
            return "no FX rate"
        usd = int((amount * rates[at]).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) * 100)
        if usd > MAX_USD_MINOR:
            return "absurd amount"
        when = datetime.fromtimestamp(ts / 1000, timezone.utc)
        return (doc["payment_id"], doc["merchant_id"], int(minor), currency, usd, when if self.pg else when.isoformat(),
                when.date().isoformat(), merchant["merchant_name"], merchant["category"], merchant["risk_tier"], merchant["country"])

    def fence(self, cur: Any, ends: dict[tuple[str, int], int]) -> None:
        """Store each partition's next offset under this consumer's generation, or raise Fenced."""
        for (topic, partition), next_offset in ends.items():
            cur.execute(self.sql("UPDATE b_offsets SET next_offset = ? WHERE topic = ? AND partition = ? AND generation = ?"),
                        (next_offset, topic, partition, self.generations[(topic, partition)]))
            if cur.rowcount != 1:
                raise Fenced(f"{topic}[{partition}] was claimed by another consumer")


class PerMessageBaseline(Baseline):
    """One transaction per message."""

    def handle(self, messages: list[Any]) -> None:
        for message in messages:
            self.handle_one(message.topic(), message.partition(), message.offset(), message.value())

    def handle_one(self, topic: str, partition: int, offset: int, payload: bytes) -> None:
        verdict = self.validate(payload)
        cur = self.conn.cursor()
        try:
            if not self.pg:
                cur.execute("BEGIN IMMEDIATE")
            self.fence(cur, {(topic, partition): offset + 1})
            if isinstance(verdict, str):
                cur.execute(self.sql('INSERT INTO b_dead_letters VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
                            (topic, partition, offset, verdict, payload))
            else:
                cur.execute(self.sql("INSERT INTO b_payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                            verdict + (partition, offset))
                if cur.rowcount == 1:
                    cur.execute(self.sql("INSERT INTO b_daily VALUES (?, ?, 1, ?) ON CONFLICT (merchant_id, day) DO UPDATE SET "
                                         "row_count = b_daily.row_count + 1, amount_usd_minor = b_daily.amount_usd_minor + excluded.amount_usd_minor"),
                                (verdict[1], verdict[6], verdict[4]))
        except BaseException:
            self.conn.rollback() if self.pg else cur.execute("ROLLBACK")
            raise
        self.conn.commit() if self.pg else cur.execute("COMMIT")


class BatchedBaseline(Baseline):
    """One transaction per polled batch."""

    def __init__(self, db: str, stream: Any) -> None:
        super().__init__(db, stream)
        if self.pg:
            self.conn.execute("CREATE TEMPORARY TABLE b_stage (LIKE b_payments) ON COMMIT DELETE ROWS")
            self.conn.commit()
        else:
            self.conn.execute("CREATE TEMPORARY TABLE b_stage AS SELECT * FROM b_payments WHERE 0")

    def handle(self, messages: list[Any]) -> None:
        rows: list[tuple[Any, ...]] = []
        dead: list[tuple[Any, ...]] = []
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            topic, partition, offset, payload = message.topic(), message.partition(), message.offset(), message.value()
            verdict = self.validate(payload)
            if isinstance(verdict, str):
                dead.append((topic, partition, offset, verdict, payload))
            else:
                rows.append(verdict + (partition, offset))
            ends[(topic, partition)] = offset + 1
        if self.pg:
            self._write_pg(rows, dead, ends)
        else:
            self._write_sqlite(rows, dead, ends)

    def _write_pg(self, rows: list[tuple[Any, ...]], dead: list[tuple[Any, ...]], ends: dict[tuple[str, int], int]) -> None:
        try:
            with self.conn.cursor() as cur:
                self.fence(cur, ends)
                with cur.copy("COPY b_stage FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                # Only rows actually inserted (not re-sent duplicates) reach the read model.
                cur.execute("WITH inserted AS (INSERT INTO b_payments SELECT * FROM b_stage ON CONFLICT DO NOTHING "
                            "RETURNING merchant_id, day, amount_usd_minor) "
                            "INSERT INTO b_daily SELECT merchant_id, day, COUNT(*), SUM(amount_usd_minor) FROM inserted "
                            "GROUP BY merchant_id, day ON CONFLICT (merchant_id, day) DO UPDATE SET "
                            "row_count = b_daily.row_count + excluded.row_count, "
                            "amount_usd_minor = b_daily.amount_usd_minor + excluded.amount_usd_minor")
                cur.executemany("INSERT INTO b_dead_letters VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", dead)
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def _write_sqlite(self, rows: list[tuple[Any, ...]], dead: list[tuple[Any, ...]], ends: dict[tuple[str, int], int]) -> None:
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            self.fence(cur, ends)
            cur.executemany("INSERT INTO b_stage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            inserted = cur.execute("INSERT INTO b_payments SELECT * FROM b_stage WHERE true ON CONFLICT DO NOTHING "
                                   "RETURNING merchant_id, day, amount_usd_minor").fetchall()
            totals: Counter[tuple[str, str]] = Counter()
            counts: Counter[tuple[str, str]] = Counter()
            for merchant, day, usd in inserted:
                counts[(merchant, day)] += 1
                totals[(merchant, day)] += usd
            cur.executemany("INSERT INTO b_daily VALUES (?, ?, ?, ?) ON CONFLICT (merchant_id, day) DO UPDATE SET "
                            "row_count = b_daily.row_count + excluded.row_count, "
                            "amount_usd_minor = b_daily.amount_usd_minor + excluded.amount_usd_minor",
                            [(m, d, n, totals[(m, d)]) for (m, d), n in counts.items()])
            cur.executemany("INSERT INTO b_dead_letters VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", dead)
            cur.execute("DELETE FROM b_stage")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")


def run_baseline(kind: type[Baseline], bootstrap: str, topic: str, db: str, stream: Any,
                 ends: dict[int, int], batch_size: int = 10_000) -> dict[str, Any]:
    """Consume ``topic`` until every partition reached its end (``ends``: partition -> message count);
    timed from the poll that first returned data to the last commit, as fleetstream is."""
    from confluent_kafka import Consumer

    baseline = kind(db, stream)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-py-{uuid.uuid4().hex[:8]}", **CONSUMER})

    def on_assign(c: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            stored = baseline.claim(tp.topic, tp.partition)
            tp.offset = stored if stored is not None else -2  # -2: the beginning
        c.assign(partitions)

    consumer.subscribe([topic], on_assign=on_assign)
    positions = {p: 0 for p in ends}
    seen = 0
    first = last = None
    cpu = time.process_time()
    deadline = time.monotonic() + 3600
    while any(positions[p] < ends[p] for p in ends) and time.monotonic() < deadline:
        polled_at = time.monotonic()
        if kind is PerMessageBaseline:
            message = consumer.poll(0.5)
            messages = [] if message is None else [message]
        else:
            messages = consumer.consume(num_messages=batch_size, timeout=0.5)
        messages = [m for m in messages if m.error() is None]
        if not messages:
            continue
        if first is None:
            first = polled_at
        baseline.handle(messages)
        seen += len(messages)
        for m in messages:
            positions[m.partition()] = max(positions[m.partition()], m.offset() + 1)
        last = time.monotonic()
    cpu = time.process_time() - cpu
    consumer.close()
    baseline.conn.close()
    if first is None or last is None or seen != sum(ends.values()):
        raise RuntimeError(f"{kind.__name__} consumed {seen:,} of {sum(ends.values()):,} messages before its deadline")
    return {"messages": seen, "seconds": last - first, "cpu": cpu}
