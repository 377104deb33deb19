"""The exactly-once payments pipeline on the real broker, into SQLite and PostgreSQL: a clean run,
SIGKILL chaos (20+ kills at random moments and at chosen points around the database commit, each
followed by a restart), and a rebalance with one of two group members killed and replaced. After
each, the database reconciles exactly with the plain-Python oracle."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
from kafka_helpers import unique
from payments_helpers import Books, finish, produce, reconcile, start

import fleetstream as fs
from fleetstream.pipeline import PaymentsConfig, PaymentsPipeline
from fleetstream.testing import LocalBroker, PaymentStreamSpec, generate_payments
from tests.sinks.db import query


def test_clean_run_in_process_reconciles(broker: LocalBroker, tmp_path: Path, dsn: str) -> None:
    stream = generate_payments(PaymentStreamSpec(events=20_000, merchants=100, seed=11))
    books = Books.of(stream, partitions=3)
    topic = unique("pay")
    broker.create_topic(topic, 4)  # partition 3 stays empty: its offset stays unknown (NULL), never made up
    produce(broker, topic, stream, 3)
    config = PaymentsConfig(brokers=broker.bootstrap, topic=topic, group=unique("g"), db=dsn,
                            merchants=fs.ReferenceTable(stream.merchants, "merchant_id"),
                            fx=fs.ReferenceTable(stream.fx, "currency", effective="valid_from"),
                            batch_size=4_000, max_wait="200ms", idle_exit=2.0)
    counts = PaymentsPipeline(config).run()
    reconcile(dsn, books)
    # Counts reconcile too: consumed = rows (written + duplicates) + dead letters.
    assert counts["messages"] == len(stream.messages) == counts["rows"] + counts["dead_letters"]
    assert counts["written"] == len(books.rows) and counts["duplicates"] == len(stream.duplicates)
    # A second run of the same group resumes at the database's offsets: nothing more to do.
    config.group = unique("g")  # even a brand-new group: the database, not Kafka, says where to resume
    again = PaymentsPipeline(config).run()
    assert again["messages"] == 0
    reconcile(dsn, books)


CHAOS_PARTITIONS = 4
CHAOS_KILLS = 22


@pytest.fixture(scope="module")
def chaos_stream() -> tuple[Books, list[bytes]]:
    stream = generate_payments(PaymentStreamSpec(events=200_000, merchants=500, bad_share=0.01, seed=5))
    return Books.of(stream, CHAOS_PARTITIONS), []


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_chaos_then_exact_reconciliation(broker: LocalBroker, tmp_path: Path, backend: str,
                                                 chaos_stream: tuple[Books, list[bytes]], request: pytest.FixtureRequest) -> None:
    books = chaos_stream[0]
    db = request.getfixturevalue("sqlite_dsn" if backend == "sqlite" else "postgres_dsn")
    topic = unique("pay")
    broker.create_topic(topic, CHAOS_PARTITIONS)
    produce(broker, topic, books.stream, CHAOS_PARTITIONS)
    reference = books.stream.write_reference(tmp_path)
    rng = random.Random(backend)
    # Kill points: right after a commit (before anything else happens), just before a commit, right
    # after claiming partitions, and at random wall-clock moments.
    faults = ["after_commit:1", "after_commit:2", "before_commit:2", "before_commit:1", "after_claim:1", None, None]
    kills = 0
    log = []
    while kills < CHAOS_KILLS:
        fault = rng.choice(faults)
        # A fresh group each run: joining is fast, and where to resume comes from the database anyway.
        process = start(broker, topic, unique("g"), db, reference, "--batch-size", "5000", "--max-wait", "200ms",
                        "--idle-exit", "3", fault=fault)
        if fault is None:
            time.sleep(rng.uniform(0.5, 5.0))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        code, err = finish(process)
        assert code in (0, -signal.SIGKILL), err[-3000:]
        if code == -signal.SIGKILL:
            kills += 1
        log.append((fault, code, _rows(db)))
        if code == 0:
            break  # everything consumed before the planned kills ran out: the stream was too short
    assert kills >= 20, log
    final = start(broker, topic, unique("g"), db, reference, "--batch-size", "5000", "--max-wait", "200ms",
                  "--idle-exit", "3")
    code, err = finish(final, timeout=120)
    assert code == 0, err[-3000:]
    totals = reconcile(db, books)
    print(f"{backend}: {kills} kills ({log}), then reconciled {totals}")


@pytest.mark.slow
def test_rebalance_with_a_member_killed_and_replaced(broker: LocalBroker, tmp_path: Path, postgres_dsn: str) -> None:
    stream = generate_payments(PaymentStreamSpec(events=60_000, merchants=200, seed=9))
    books = Books.of(stream, 4)
    topic, group = unique("pay"), unique("g")
    broker.create_topic(topic, 4)
    produce(broker, topic, stream, 4)
    reference = stream.write_reference(tmp_path)
    args = ("--batch-size", "1000", "--max-wait", "200ms", "--idle-exit", "8", "--max-rate", "2500")
    first = start(broker, topic, group, postgres_dsn, reference, *args)
    second = start(broker, topic, group, postgres_dsn, reference, *args)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # both consuming: some rows committed
            rows = _rows(postgres_dsn)
            if rows > 8_000:
                break
            time.sleep(0.3)
        assert rows > 8_000, "the group did not start consuming"
        first.send_signal(signal.SIGKILL)
        finish(first)
        replacement = start(broker, topic, group, postgres_dsn, reference, *args)
        code_second, err_second = finish(second, timeout=150)
        code_replacement, err_replacement = finish(replacement, timeout=150)
    finally:
        for p in (first, second):
            if p.poll() is None:
                p.kill()
    assert code_second == 0, err_second[-3000:]
    assert code_replacement == 0, err_replacement[-3000:]
    reconcile(postgres_dsn, books)
    generations = query(postgres_dsn, "SELECT MIN(generation) FROM payments_offsets")[0][0]
    assert generations >= 2, "partitions changed owners (claims bumped the generations)"


def _rows(dsn: str) -> int:
    """Rows in the payments table so far (0 before the first batch created it)."""
    try:
        return int(query(dsn, "SELECT COUNT(*) FROM payments")[0][0])
    except Exception:  # no table yet: sqlite3.OperationalError / psycopg.errors.UndefinedTable
        return 0


def test_cli_payments_gen_then_payments(broker: LocalBroker, tmp_path: Path) -> None:
    import subprocess
    import sys

    topic = unique("pay")
    gen = subprocess.run([sys.executable, "-m", "fleetstream", "payments-gen", "--brokers", broker.bootstrap,
                          "--topic", topic, "--partitions", "2", "--events", "3000", "--bad-share", "0.05",
                          "--reference-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr
    bad, resent = (int(x.replace(",", "")) for x in
                   __import__("re").search(r"([\d,]+) bad, ([\d,]+) re-sent", gen.stdout).groups())
    db = f"sqlite:///{tmp_path / 'books.db'}"
    run = subprocess.run([sys.executable, "-m", "fleetstream", "payments", "--brokers", broker.bootstrap, "--topic", topic,
                          "--group", unique("g"), "--reference", str(tmp_path / "merchants.csv"), "--db", db,
                          "--batch-size", "500", "--idle-exit", "2", "--progress-every", "0"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "database offsets: none yet" in run.stderr
    rows = query(db, "SELECT COUNT(*) FROM payments")[0][0]
    dead = query(db, "SELECT COUNT(*) FROM payments_dead_letters")[0][0]
    assert dead == bad and rows + resent + dead == 3000
    offsets = [o for (o,) in query(db, "SELECT next_offset FROM payments_offsets")]
    # One partition may have got nothing (the producer's sticky partitioner): NULL, i.e. "from the beginning".
    assert sum(o or 0 for o in offsets) == 3000 and all(o is None or o > 0 for o in offsets), offsets
    lonely = tmp_path / "lonely" / "m.csv"  # a reference file with no fx_rates.csv beside it
    lonely.parent.mkdir()
    lonely.write_text("merchant_id,name\nm1,Shop\n")
    missing_fx = subprocess.run([sys.executable, "-m", "fleetstream", "payments", "--brokers", broker.bootstrap,
                                 "--group", "g", "--reference", str(lonely), "--db", db],
                                capture_output=True, text=True, timeout=60)
    assert missing_fx.returncode != 0 and "no FX rates: pass --fx" in missing_fx.stderr
