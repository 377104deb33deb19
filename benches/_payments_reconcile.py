"""Reconciliation of a payments benchmark run against the plain-Python oracle
(tests/payments_reference.py): every contender's database must hold exactly the expected rows
(ids, sums per currency and in USD), dead letters (their partitions and offsets), the read model's
totals, and each partition's next offset at the end of what it consumed. Any difference raises."""

from __future__ import annotations

import sqlite3
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.payments_reference import expected_books  # noqa: E402  (the oracle of the test suite)


class NotReconciled(AssertionError):
    """A contender's database does not hold what it consumed: its figures must not be published."""


@dataclass
class Expected:
    """What a database must hold after consuming ``messages`` sent as message i -> partition i % partitions."""

    messages: int
    ids: set[str]
    dead: set[tuple[int, int]]
    amount_by_currency: dict[str, int]
    usd: int
    ends: dict[int, int]

    @classmethod
    def of(cls, messages: list[bytes], merchants: Any, fx: Any, partitions: int) -> Expected:
        rows, dead = expected_books(messages, merchants, fx)
        by_currency: dict[str, int] = defaultdict(int)
        for row in rows.values():
            by_currency[row.currency] += row.amount_minor
        ends = {p: len(range(p, len(messages), partitions)) for p in range(partitions) if p < len(messages)}
        return cls(len(messages), set(rows), {(i % partitions, i // partitions) for i in dead}, dict(by_currency),
                   sum(r.amount_base_minor for r in rows.values()), ends)


def _query(db: str) -> Callable[[str], list[tuple[Any, ...]]]:
    if db.startswith("sqlite"):
        conn = sqlite3.connect(db[len("sqlite:///"):])
        return lambda sql: conn.execute(sql).fetchall()
    import psycopg

    pg = psycopg.connect(db, autocommit=True)
    return lambda sql: pg.execute(sql).fetchall()  # type: ignore[arg-type]


def reconcile(db: str, expected: Expected, tables: dict[str, str]) -> str:
    """Check everything or raise NotReconciled naming each difference; returns a one-line summary."""
    q = _query(db)
    data, dead_table, offsets, model = tables["data"], tables["dead_letters"], tables["offsets"], tables["read_model"]
    problems = []
    ids = [r[0] for r in q(f"SELECT payment_id FROM {data}")]
    if len(ids) != len(set(ids)) or set(ids) != expected.ids:
        problems.append(f"rows: {len(ids):,} stored ({len(set(ids)):,} distinct), expected {len(expected.ids):,}; "
                        f"{len(set(ids) - expected.ids):,} unexpected, {len(expected.ids - set(ids)):,} missing")
    by_currency = {c: int(s) for c, s in q(f"SELECT currency, SUM(amount_minor) FROM {data} GROUP BY currency")}
    if by_currency != expected.amount_by_currency:
        problems.append(f"sum of amount_minor per currency {by_currency} != expected {expected.amount_by_currency}")
    usd = int(q(f"SELECT COALESCE(SUM(amount_usd_minor), 0) FROM {data}")[0][0])
    if usd != expected.usd:
        problems.append(f"sum of amount_usd_minor {usd:,} != expected {expected.usd:,}")
    dead = [(int(p), int(o)) for p, o in q(f'SELECT partition, "offset" FROM {dead_table}')]
    if len(dead) != len(set(dead)) or set(dead) != expected.dead:
        problems.append(f"dead letters: {len(dead):,} stored, expected {len(expected.dead):,} "
                        f"({len(set(dead) ^ expected.dead):,} positions differ)")
    stored = {int(p): o for p, o in q(f"SELECT partition, next_offset FROM {offsets}")}
    if {p: o for p, o in stored.items() if o is not None} != expected.ends:
        problems.append(f"next offsets {dict(sorted(stored.items()))} != ends of the partitions {expected.ends}")
    model_rows, model_usd = q(f"SELECT COALESCE(SUM(row_count), 0), COALESCE(SUM(amount_usd_minor), 0) FROM {model}")[0]
    if (int(model_rows), int(model_usd)) != (len(expected.ids), expected.usd):
        problems.append(f"read model totals {int(model_rows):,} rows / {int(model_usd):,} USD minor != "
                        f"{len(expected.ids):,} / {expected.usd:,}")
    if problems:
        raise NotReconciled(f"{db.split('@')[-1]} ({data}) does not reconcile:\n  " + "\n  ".join(problems))
    return (f"OK: {len(ids):,} rows, {len(dead):,} dead letters, sums per currency and {usd / 100:,.2f} USD, "
            f"offsets {sum(expected.ends.values()):,}, read model")
