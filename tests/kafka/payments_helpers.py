"""Shared by the payments pipeline tests: produce a generated stream with known partitions and
offsets, run the CLI pipeline as a subprocess, and reconcile the database exactly with the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetstream.testing import LocalBroker, PaymentStream
from tests.payments_reference import Shape, expected_books
from tests.sinks.db import query


@dataclass
class Books:
    """What the database must hold after consuming ``stream`` from ``partitions`` partitions."""

    stream: PaymentStream
    partitions: int
    rows: dict[str, Any]
    dead: list[int]
    shape: Shape = Shape()

    @classmethod
    def of(cls, stream: PaymentStream, partitions: int, shape: Shape = Shape()) -> Books:
        rows, dead = expected_books(stream.messages, stream.merchants, stream.fx, shape)
        return cls(stream, partitions, rows, dead, shape)

    def where(self, position: int) -> tuple[int, int]:
        """(partition, offset) of message ``position`` as :func:`produce` sends it."""
        return position % self.partitions, position // self.partitions


def produce(broker: LocalBroker, topic: str, stream: PaymentStream, partitions: int) -> None:
    """Message i goes to partition i % partitions (so its offset is i // partitions), in order."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20, "enable.idempotence": True})
    for i, message in enumerate(stream.messages):
        while True:
            try:
                producer.produce(topic, message, partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 20_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def start(broker: LocalBroker, topic: str, group: str, db: str, reference: tuple[Path, Path], *extra: str,
          fault: str | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("FLEETSTREAM_FAULT", None)
    if fault:
        env["FLEETSTREAM_FAULT"] = fault
    command = [sys.executable, "-m", "fleetstream", "payments", "--brokers", broker.bootstrap, "--topic", topic,
               "--group", group, "--db", db, "--reference", str(reference[0]), "--fx", str(reference[1]),
               "--progress-every", "0", *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"pipeline did not finish within {timeout} s: {err[-2000:]}") from None
    return process.returncode, err


def reconcile(db: str, books: Books, table: str = "payments") -> dict[str, int]:
    """Exact reconciliation; returns a few totals for the test's log."""
    got_ids = query(db, f"SELECT payment_id FROM {table}")
    assert len(got_ids) == len(books.rows), "every valid payment exactly once"
    assert {r[0] for r in got_ids} == set(books.rows)
    by_currency: dict[str, int] = defaultdict(int)
    base = 0
    amount = books.shape.amount_column
    for row in books.rows.values():
        by_currency[row.currency] += row.amount_minor
        base += row.amount_base_minor
    got_by_currency = {c: int(s) for c, s in query(db, f"SELECT currency, SUM(amount_minor) FROM {table} GROUP BY currency")}
    assert got_by_currency == dict(by_currency), "sum of amounts exact per currency"
    assert int(query(db, f"SELECT SUM({amount}) FROM {table}")[0][0]) == base
    dead = query(db, f'SELECT partition, "offset" FROM {table}_dead_letters')
    assert len(dead) == len(books.dead), "every bad event exactly once in the dead letters"
    assert {(p, o) for p, o in dead} == {books.where(i) for i in books.dead}
    ends = defaultdict(int)
    for i in range(len(books.stream.messages)):
        p, o = books.where(i)
        ends[p] = max(ends[p], o + 1)
    stored = {p: o for p, o in query(db, f"SELECT partition, next_offset FROM {table}_offsets")}
    assert {p: o for p, o in stored.items() if o is not None} == dict(ends), "offsets at the end of the topic"
    assert all(stored[p] is None for p in stored.keys() - ends.keys()), "a partition never read has no offset"
    model = query(db, f"SELECT SUM(row_count), SUM({amount}) FROM {table}_merchant_daily")[0]
    assert (int(model[0]), int(model[1])) == (len(books.rows), base), "read model totals"
    per_group = {(m, str(d)): (int(n), int(s)) for m, d, n, s in query(
        db, f"SELECT merchant_id, day, row_count, {amount} FROM {table}_merchant_daily")}
    from_rows = {(m, str(d)): (int(n), int(s)) for m, d, n, s in query(
        db, f"SELECT merchant_id, day, COUNT(*), SUM({amount}) FROM {table} GROUP BY merchant_id, day")}
    assert per_group == from_rows, "read model per merchant and day"
    return {"rows": len(books.rows), "dead_letters": len(books.dead), amount: base}
