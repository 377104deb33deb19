"""The ``payments``, ``payments-gen`` commands and the payments part of ``demo``: a module of its own,
which ``cli.py`` only registers (``add_commands``)."""

from __future__ import annotations

import argparse
import sys
import time

from fleetstream._cli_args import add_parser, count, duration, positive, seconds


def field_mapping(items: list[str] | None) -> dict[str, str]:
    """``--field NAME=PATH`` options as a mapping; anything else is a ConfigError naming it."""
    from fleetstream.exceptions import ConfigError
    from fleetstream.pipeline.payments import PAYMENT_FIELDS

    mapping: dict[str, str] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise ConfigError(f"--field {item!r}: expected NAME=PATH, e.g. amount=data.object.amount")
        if name not in PAYMENT_FIELDS:
            raise ConfigError(f"--field {item!r}: unknown field {name!r}; the fields are {', '.join(PAYMENT_FIELDS)}")
        if name in mapping:
            raise ConfigError(f"--field {name} is given twice ({mapping[name]!r} and {path!r})")
        mapping[name] = path
    return mapping


def clipped(text: str, width: int = 200) -> str:
    """``text`` whole when it fits in ``width`` characters, else cut at a word boundary, saying how much is left out.

    >>> clipped("no FX rate for CAD on 2026-01-01")
    'no FX rate for CAD on 2026-01-01'
    >>> clipped("absurd amount 250000000.00 USD (about 250000000.00 USD)", 30)
    'absurd amount 250000000.00 USD…(25 more characters)'
    """
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width + 1)
    cut = cut if cut > 0 else width
    return f"{text[:cut]}…({len(text) - cut} more characters)"


def payments(args: argparse.Namespace) -> int:
    import signal
    from pathlib import Path

    from fleetstream._cli_progress import run_reporting_progress
    from fleetstream.exceptions import ConfigError
    from fleetstream.pipeline.payments import PAYMENT_FIELDS, PaymentsConfig, PaymentsPipeline

    fields = field_mapping(args.field)
    if args.no_fx and args.fx is not None:
        raise ConfigError("--fx and --no-fx contradict each other: give one")
    for option, path in (("--reference", args.reference), ("--fx", args.fx)):
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"{option} {path}: {'no such file' if not Path(path).exists() else 'not a file'}")
    fx: str | None = None
    if not args.no_fx:
        fx = args.fx or str(Path(args.reference).with_name("fx_rates.csv"))
        if args.fx is None and not Path(fx).exists():
            raise ConfigError(f"no FX rates: pass --fx (no fx_rates.csv next to {args.reference}), or --no-fx if every "
                              f"payment is in the base currency {args.base_currency}")
    config = PaymentsConfig(
        brokers=args.brokers, topic=args.topic, group=args.group, db=args.db, merchants=args.reference, fx=fx,
        table=args.table, read_model=None if args.no_read_model else args.read_model, batch_size=args.batch_size,
        max_wait=args.max_wait, idle_exit=args.idle_exit, refresh_every=args.refresh_every, max_rate=args.max_rate,
        fields=fields, amount_unit=args.amount_unit, ts_unit=args.ts_unit, base_currency=args.base_currency,
        fx_rate_column=args.fx_rate_column, max_amount=args.max_amount,
    )
    pipeline = PaymentsPipeline(config)
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    resume = pipeline.sink.resume_offsets()
    print(f"payments: {args.brokers} {args.topic} -> {args.db.split('@')[-1]} table {args.table} (group {args.group}); "
          f"database offsets: {dict(sorted(resume.items())) or 'none yet'}", file=sys.stderr, flush=True)
    shape = ", ".join(f"{name}={fields.get(name, name)}" for name in PAYMENT_FIELDS)
    fx_note = f"FX {fx} ({config.fx_rate_column or 'rate_to_' + args.base_currency.lower()})" if fx else \
        f"no FX table: payments not in {args.base_currency} become dead letters"
    print(f"payload: {shape}; amounts in {args.amount_unit} units, numeric ts in {args.ts_unit}; base currency "
          f"{args.base_currency} ({pipeline.writer.amount_column}); {fx_note}", file=sys.stderr, flush=True)

    def progress() -> str:
        c = pipeline.counts
        return (f"{c['messages']:,} messages, {c['written']:,} written, {c['duplicates']:,} duplicates, "
                f"{c['dead_letters']:,} dead letters, {c['batches']:,} batches, partitions "
                f"{sorted(p for _, p in pipeline.writer.generations)}")

    run_reporting_progress(pipeline.run, progress, args.progress_every)
    return 0


def payments_gen(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from fleetstream import _core
    from fleetstream.kafka import KafkaSink
    from fleetstream.testing import PaymentStreamSpec, generate_payments

    spec = PaymentStreamSpec(events=args.events, merchants=args.merchants, bad_share=args.bad_share,
                             duplicate_share=args.duplicate_share, days=args.days, seed=args.seed)
    stream = generate_payments(spec)
    merchants_csv, fx_csv = stream.write_reference(args.reference_dir)
    if args.partitions:
        _core.kafka_create_topics(args.brokers, [(args.topic, args.partitions)], 10_000)
    sink = KafkaSink(args.topic, {"linger.ms": 20}, brokers=args.brokers, format="raw")
    started = time.perf_counter()
    chunk = 50_000
    for begin in range(0, len(stream.messages), chunk):
        sink.send(pa.table({"value": pa.array(stream.messages[begin:begin + chunk], pa.binary())}))
    sink.flush()
    elapsed = time.perf_counter() - started
    print(f"produced {len(stream.messages):,} payments to {args.topic} in {elapsed:.1f} s: {len(stream.bad):,} bad, "
          f"{len(stream.duplicates):,} re-sent duplicates; reference data: {merchants_csv}, {fx_csv}")
    return 0


def demo_payments(args: argparse.Namespace) -> None:
    """Generated payments through the same validate/enrich/exactly-once path into SQLite, no broker:
    the messages are fed as if read from 4 partitions, with a simulated crash and replay."""
    import tempfile
    from pathlib import Path

    import pyarrow as pa

    from fleetstream.enrich import ReferenceTable
    from fleetstream.pipeline.payments import PaymentsWriter
    from fleetstream.testing import PaymentStreamSpec, generate_payments

    stream = generate_payments(PaymentStreamSpec(events=args.payments, seed=args.seed))
    print(f"\nexactly-once payments: {len(stream.messages):,} generated payment events "
          f"({len(stream.bad):,} bad, {len(stream.duplicates):,} re-sent) into SQLite, 4 partitions, batches of 10,000 ...")
    workdir = Path(tempfile.mkdtemp(prefix="fleetstream-demo-"))
    db = f"sqlite:///{workdir / 'payments.db'}"
    merchants = ReferenceTable(stream.merchants, "merchant_id")
    fx = ReferenceTable(stream.fx, "currency", effective="valid_from")
    partitions = 4
    per_partition: list[list[bytes]] = [stream.messages[p::partitions] for p in range(partitions)]
    started = time.perf_counter()

    def run(writer: PaymentsWriter, stop_after: int | None = None) -> int:
        starts = writer.claim([("payments", p) for p in range(partitions)])
        batches = 0
        for p in range(partitions):
            offset = starts[("payments", p)] or 0
            messages = per_partition[p]
            while offset < len(messages):
                if stop_after is not None and batches >= stop_after:
                    return batches
                chunk = messages[offset:offset + 10_000]
                writer.write("payments", pa.array(chunk, pa.binary()), pa.array([p] * len(chunk), pa.int32()),
                             pa.array(range(offset, offset + len(chunk)), pa.int64()),
                             {("payments", p): offset + len(chunk)})
                offset += len(chunk)
                batches += 1
        return batches

    first = PaymentsWriter(db, merchants, fx)
    run(first, stop_after=3)  # "crash": this writer is abandoned after 3 batches
    second = PaymentsWriter(db, merchants, fx)
    run(second)
    elapsed = time.perf_counter() - started
    import sqlite3

    with sqlite3.connect(workdir / "payments.db") as conn:
        rows, usd = conn.execute("SELECT COUNT(*), SUM(amount_usd_minor) FROM payments").fetchone()
        dead = conn.execute("SELECT COUNT(*) FROM payments_dead_letters").fetchone()[0]
        model_rows, model_usd = conn.execute("SELECT SUM(row_count), SUM(amount_usd_minor) FROM payments_merchant_daily").fetchone()
        offsets = dict(conn.execute("SELECT partition, next_offset FROM payments_offsets").fetchall())
        reasons = conn.execute("SELECT reason, COUNT(*) FROM payments_dead_letters GROUP BY 1 ORDER BY 2 DESC LIMIT 3").fetchall()
    valid = len(stream.valid_ids)
    consumed = sum(o for o in offsets.values() if o is not None)  # NULL: a partition that got no message
    print(f"restarted after 3 batches; in {elapsed:.2f} s: {rows:,} payments (expected {valid:,} unique: "
          f"{rows == valid}), {dead:,} dead letters (expected {len(stream.bad):,}: {dead == len(stream.bad)}), "
          f"USD total {usd / 100:,.2f}")
    print(f"reconciliation: offsets {consumed:,} = messages {len(stream.messages):,}: {consumed == len(stream.messages)}; "
          f"rows + re-sent duplicates + dead letters = {rows + len(stream.duplicates) + dead:,}; "
          f"read model {model_rows:,} payments / {model_usd / 100:,.2f} USD matches the table: "
          f"{model_rows == rows and model_usd == usd}")
    # One reason a line, whole: a reason cut at a fixed width read as a sentence that stopped in the middle.
    print("top dead-letter reasons:" + ("".join(f"\n  {n:,} x {clipped(r)}" for r, n in reasons) or " none"))


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = add_parser(commands, "payments", "exactly-once payments: Kafka topic -> validated, enriched rows in "
                                           "PostgreSQL or SQLite (resumes where the database says)")
    run.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    run.add_argument("--topic", default="payments", help="topic of payment events (JSON)")
    run.add_argument("--group", required=True, help="consumer group; run more processes with it to scale out")
    run.add_argument("--reference", required=True, help="merchants CSV or Parquet (merchant_id, ...)")
    run.add_argument("--fx", default=None, help="FX rates CSV or Parquet (currency, valid_from, rate_to_<base>: units of the "
                                                 "base currency per unit); default: fx_rates.csv next to --reference "
                                                 "(what payments-gen writes)")
    run.add_argument("--no-fx", action="store_true", help="no FX table: every payment must be in the base currency "
                                                          "(the others become dead letters)")
    run.add_argument("--base-currency", default="USD", help="ISO 4217 code amounts are converted into "
                                                             "(column amount_<base>_minor; default USD)")
    run.add_argument("--fx-rate-column", default=None, help="the FX table's rate column (default rate_to_<base>, "
                                                            "e.g. rate_to_usd)")
    run.add_argument("--field", action="append", metavar="NAME=PATH",
                     help="where a payment field is in the payload, as a dotted path, e.g. --field "
                          "amount=data.object.amount (fields: payment_id, merchant_id, amount, currency, ts; "
                          "default: each at its own name); repeat for each mapped field")
    run.add_argument("--amount-unit", choices=["major", "minor"], default="major",
                     help="major: decimal text or number (12.34); minor: integer minor units (1234, as Stripe sends)")
    run.add_argument("--ts-unit", choices=["s", "ms", "us", "ns"], default="ms",
                     help="unit of numeric epoch times (RFC 3339 text is always accepted; default ms)")
    run.add_argument("--max-amount", default="1000000",
                     help="payments worth more (in the base currency, major units) are dead letters (default 1000000)")
    run.add_argument("--db", required=True, help="sqlite:///path.db or postgresql://...")
    run.add_argument("--table", default="payments", help="table the valid payments are written to "
                                                          "(dead letters go to TABLE_dead_letters)")
    run.add_argument("--read-model", default="payments_merchant_daily", help="per-merchant per-day aggregates table")
    run.add_argument("--no-read-model", action="store_true", help="write no read model table")
    run.add_argument("--batch-size", type=positive, default=10_000, help="most messages per batch (one database transaction)")
    run.add_argument("--max-wait", type=duration, default="500ms", help="longest wait to fill a batch (a bare number is seconds)")
    run.add_argument("--idle-exit", type=seconds, default=None, help="exit after this long without input (a duration or seconds)")
    run.add_argument("--refresh-every", type=seconds, default=None,
                     help="reload the reference files this often (a duration or seconds; default: never)")
    run.add_argument("--max-rate", type=float, default=None, help="consume at most this many messages per second")
    run.add_argument("--progress-every", type=seconds, default="10s", help="progress line interval, a duration or seconds (0: off)")
    run.set_defaults(run=payments)
    gen = add_parser(commands, "payments-gen", "produce a realistic payment stream (with bad events) to a topic, "
                                               "and write the merchants and FX reference files")
    gen.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    gen.add_argument("--topic", default="payments", help="topic the payment events are produced to")
    gen.add_argument("--partitions", type=count, default=0, help="create the topic with this many partitions first (0: do not create it)")
    gen.add_argument("--events", type=count, default=100_000, help="payment events to produce")
    gen.add_argument("--merchants", type=positive, default=500, help="merchants in the reference file")
    gen.add_argument("--bad-share", type=float, default=0.01, help="share of invalid events")
    gen.add_argument("--duplicate-share", type=float, default=0.005, help="share of re-sent valid events")
    gen.add_argument("--days", type=positive, default=3, help="days the payment times spread over")
    gen.add_argument("--seed", type=int, default=7, help="random seed of the generator")
    gen.add_argument("--reference-dir", default=".", help="where merchants.csv and fx_rates.csv are written")
    gen.set_defaults(run=payments_gen)
