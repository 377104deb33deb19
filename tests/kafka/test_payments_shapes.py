"""`fleetstream payments` end to end on the real broker with a payload shape of its own: Stripe-like
events (fields at dotted paths, integer minor units, lower-case currency codes, epoch seconds)
converted into a euro base. The database reconciles exactly with the plain-Python oracle."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from kafka_helpers import unique
from payments_helpers import Books, produce, reconcile

from fleetstream.testing import LocalBroker, PaymentStream
from tests.payments_reference import Shape
from tests.sinks.db import query

START = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp())
STRIPE_FIELDS = {"payment_id": "data.object.id", "merchant_id": "data.object.metadata.merchant_id",
                 "amount": "data.object.amount", "currency": "data.object.currency", "ts": "created"}
SHAPE = Shape(fields=STRIPE_FIELDS, amount_unit="minor", ts_unit="s", base="EUR")


def stripe_stream(events: int, seed: int) -> PaymentStream:
    """Stripe-like payment events, a few bad ones of each kind and a few re-sent ones."""
    rng = random.Random(seed)
    merchants = pa.table({"merchant_id": [f"acct_{i:03d}" for i in range(40)], "country": ["DE", "FR"] * 20})
    fx = pa.table({"currency": ["USD", "GBP", "JPY", "USD", "CAD"],
                   "valid_from": pa.array([dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 2),
                                           dt.date(2026, 1, 2)], pa.date32()),
                   "rate_to_eur": ["0.9254", "1.1762", "0.006137", "0.9301", "0.6681"]})
    ids = merchants.column("merchant_id").to_pylist()
    messages: list[bytes] = []
    for i in range(events):
        if messages and rng.random() < 0.01:
            messages.append(rng.choice(messages))  # an at-least-once producer re-sends
            continue
        currency = rng.choice(["eur", "eur", "usd", "gbp", "jpy", "cad"])
        event = {"id": f"evt_{i}", "object": "event", "type": "payment_intent.succeeded",
                 "created": START + i * 100 + rng.randint(0, 99),
                 "data": {"object": {"id": f"pi_{seed}_{i}", "object": "payment_intent",
                                     "amount": rng.randint(50, 500_000), "currency": currency,
                                     "metadata": {"merchant_id": rng.choice(ids)}}}}
        bad = rng.random()
        payment = event["data"]["object"]  # type: ignore[index]
        if bad < 0.01:
            payment["amount"] = 1234.5  # a fractional minor-unit amount
        elif bad < 0.02:
            payment["currency"] = "xbt"
        elif bad < 0.03:
            del payment["metadata"]
        elif bad < 0.04:
            payment["metadata"]["merchant_id"] = "acct_unknown"
        elif bad < 0.05:
            event["created"] = "last tuesday"
        messages.append(json.dumps(event).encode()[: rng.randint(5, 40)] if 0.05 <= bad < 0.055 else json.dumps(event).encode())
    return PaymentStream(messages, merchants, fx)


def test_cli_maps_a_stripe_payload_into_a_euro_base(broker: LocalBroker, tmp_path: Path) -> None:
    stream = stripe_stream(4_000, seed=3)
    books = Books.of(stream, partitions=2, shape=SHAPE)
    # The stream holds every kind of outcome (else the test proves less than it claims).
    assert len(books.dead) > 150 and len(books.rows) > 3_000
    currencies = {row.currency for row in books.rows.values()}
    assert currencies == {"EUR", "USD", "GBP", "JPY", "CAD"}
    topic = unique("stripe")
    broker.create_topic(topic, 2)
    produce(broker, topic, stream, 2)
    pacsv.write_csv(stream.merchants, tmp_path / "accounts.csv")
    pacsv.write_csv(stream.fx, tmp_path / "fx_eur.csv")
    db = f"sqlite:///{tmp_path / 'books.db'}"
    mapping = [arg for name, path in STRIPE_FIELDS.items() for arg in ("--field", f"{name}={path}")]
    run = subprocess.run([sys.executable, "-m", "fleetstream", "payments", "--brokers", broker.bootstrap, "--topic", topic,
                          "--group", unique("g"), "--reference", str(tmp_path / "accounts.csv"), "--fx",
                          str(tmp_path / "fx_eur.csv"), "--db", db, *mapping, "--amount-unit", "minor", "--ts-unit", "s",
                          "--base-currency", "EUR", "--batch-size", "700", "--idle-exit", "2", "--progress-every", "0"],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "amounts in minor units, numeric ts in s; base currency EUR (amount_eur_minor)" in run.stderr
    reconcile(db, books)
    reasons = {r for (r,) in query(db, "SELECT reason FROM payments_dead_letters")}
    for fragment in ["has a fractional part", 'unknown currency "xbt"', "missing field merchant_id (data.object.metadata.merchant_id)",
                     'unknown merchant "acct_unknown"', "ts (created) \"last tuesday\" is not an RFC 3339", "malformed JSON",
                     "no FX rate for CAD on 2026-01-01"]:
        assert any(fragment in r for r in reasons), (fragment, sorted(reasons)[:20])


def test_cli_refuses_what_it_does_not_understand(tmp_path: Path, broker: LocalBroker) -> None:
    (tmp_path / "m.csv").write_text("merchant_id\nm1\n")
    base = [sys.executable, "-m", "fleetstream", "payments", "--brokers", broker.bootstrap, "--group", "g",
            "--reference", str(tmp_path / "m.csv"), "--db", f"sqlite:///{tmp_path / 'x.db'}", "--progress-every", "0"]
    for extra, message in [(["--no-fx", "--field", "amout=x"], "unknown field 'amout'"),
                           (["--no-fx", "--field", "amount"], "expected NAME=PATH"),
                           (["--no-fx", "--field", "amount=a", "--field", "amount=b"], "--field amount is given twice"),
                           (["--no-fx", "--base-currency", "EURO"], 'base_currency "EURO"'),
                           (["--fx", "f.csv", "--no-fx"], "--fx and --no-fx contradict"),
                           ([], "or --no-fx if every payment is in the base currency USD")]:
        run = subprocess.run(base + extra, capture_output=True, text=True, timeout=60)
        assert run.returncode == 1 and message in run.stderr, (extra, run.stderr[-2000:])
