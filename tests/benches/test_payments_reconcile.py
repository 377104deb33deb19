"""The payments benchmark publishes figures only for runs that reconcile: its reconciliation
(benches/_payments_reconcile.py) accepts exactly the expected books and names every kind of
difference (rows, sums, dead letters, offsets, read model) by raising."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pyarrow as pa
import pytest

import fleetstream as fs
from fleetstream.pipeline import PaymentsWriter
from fleetstream.testing import PaymentStreamSpec, generate_payments

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))
from _payments_reconcile import Expected, NotReconciled, reconcile  # noqa: E402

TABLES = {"data": "payments", "dead_letters": "payments_dead_letters", "offsets": "payments_offsets",
          "read_model": "payments_merchant_daily"}
PARTITIONS = 2


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    """A database the payments writer filled with a generated stream, as the benchmark sends it."""
    stream = generate_payments(PaymentStreamSpec(events=3_000, merchants=50, bad_share=0.05, seed=4))
    path = tmp_path_factory.mktemp("books") / "books.db"
    writer = PaymentsWriter(f"sqlite:///{path}", fs.ReferenceTable(stream.merchants, "merchant_id"),
                            fs.ReferenceTable(stream.fx, "currency", effective="valid_from"))
    writer.claim([("payments", p) for p in range(PARTITIONS)])
    for p in range(PARTITIONS):
        messages = stream.messages[p::PARTITIONS]
        writer.write("payments", pa.array(messages, pa.binary()), pa.array([p] * len(messages), pa.int32()),
                     pa.array(range(len(messages)), pa.int64()), {("payments", p): len(messages)})
    return path, Expected.of(stream.messages, stream.merchants, stream.fx, PARTITIONS)


FIRST_ROW = "payment_id = (SELECT MIN(payment_id) FROM payments)"
FIRST_DEAD = "\"offset\" = (SELECT MIN(\"offset\") FROM payments_dead_letters)"


@pytest.mark.parametrize("tamper, named", [
    (f"UPDATE payments SET amount_usd_minor = amount_usd_minor + 1 WHERE {FIRST_ROW}", "sum of amount_usd_minor"),
    (f"UPDATE payments SET amount_minor = amount_minor - 1 WHERE {FIRST_ROW}", "sum of amount_minor per currency"),
    (f"UPDATE payments SET payment_id = payment_id || 'x' WHERE {FIRST_ROW}", "rows:"),
    (f"DELETE FROM payments_dead_letters WHERE {FIRST_DEAD}", "dead letters:"),
    (f"UPDATE payments_dead_letters SET \"offset\" = -1 WHERE {FIRST_DEAD}", "dead letters:"),
    ("UPDATE payments_offsets SET next_offset = next_offset - 1 WHERE partition = 1", "next offsets"),
    ("UPDATE payments_merchant_daily SET row_count = row_count + 1 WHERE day = (SELECT MIN(day) FROM payments_merchant_daily)",
     "read model totals"),
])
def test_every_difference_is_named_and_raises(books: tuple[Path, Expected], tmp_path: Path, tamper: str, named: str) -> None:
    path, expected = books
    assert reconcile(f"sqlite:///{path}", expected, TABLES).startswith("OK: ")
    copy = tmp_path / "copy.db"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
        target.execute(tamper)
    with pytest.raises(NotReconciled, match=named):
        reconcile(f"sqlite:///{copy}", expected, TABLES)
