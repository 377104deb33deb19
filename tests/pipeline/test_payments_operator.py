"""The payments operator (validate, exact money, merchant join, FX as of the payment's time) against
the plain-Python oracle in tests/payments_reference.py, on generated streams and hypothesis payloads."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import fleetstream as fs
from fleetstream import _core
from fleetstream.testing import PaymentStreamSpec, generate_payments
from tests.payments_reference import evaluate, expected_books, fx_versions

STREAM = generate_payments(PaymentStreamSpec(events=20_000, merchants=50, bad_share=0.05, seed=3))
MERCHANTS = fs.ReferenceTable(STREAM.merchants, "merchant_id")
FX = fs.ReferenceTable(STREAM.fx, "currency", effective="valid_from")


def run(messages: list[bytes | None]) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    op = _core.PaymentsOperator()
    n = len(messages)
    return op.process("pay", pa.array(messages, pa.binary()), pa.array([1] * n, pa.int32()),
                      pa.array(range(100, 100 + n), pa.int64()), MERCHANTS.native, FX.native)


def test_a_generated_stream_matches_the_oracle_row_for_row() -> None:
    rows, dead = run(list(STREAM.messages))
    assert rows.num_rows + dead.num_rows == len(STREAM.messages)
    expect, expect_dead = expected_books(STREAM.messages, STREAM.merchants, STREAM.fx)
    assert [o - 100 for o in dead.column("offset").to_pylist()] == expect_dead == sorted(STREAM.bad)
    got = rows.to_pylist()
    assert len(got) == len(STREAM.messages) - len(STREAM.bad)  # re-sent duplicates are rows (the sink dedups)
    for row in got:
        ref = expect[row["payment_id"]]
        assert (row["merchant_id"], row["amount_minor"], row["currency"], row["amount_usd_minor"], row["day"]) == \
            (ref.merchant_id, ref.amount_minor, ref.currency, ref.amount_base_minor, ref.day)
        assert int(row["ts"].timestamp() * 1000) == ref.ts_ms
    merchants = {m["merchant_id"]: m for m in STREAM.merchants.to_pylist()}
    assert all(r["merchant_name"] == merchants[r["merchant_id"]]["merchant_name"]
               and r["risk_tier"] == merchants[r["merchant_id"]]["risk_tier"] for r in got)
    # Every bad kind the generator makes is a dead letter with a reason, the raw payload kept.
    payloads = dead.column("payload").to_pylist()
    assert payloads == [STREAM.messages[o - 100] for o in dead.column("offset").to_pylist()]
    reasons = " | ".join(dead.column("reason").to_pylist())
    for fragment in ["malformed JSON", "missing field", "must be", "negative amount", "zero amount", "absurd amount",
                     "more than 2 decimals", "unknown merchant", "unknown currency", "no FX rate for CAD"]:
        assert fragment in reasons


valid_payment = st.fixed_dictionaries({
    "payment_id": st.text(alphabet="abcXYZ-_ 09é", min_size=1, max_size=10),
    "merchant_id": st.sampled_from(STREAM.merchants.column("merchant_id").to_pylist()[:5] + ["m-unknown"]),
    "amount": st.one_of(
        st.decimals(min_value=Decimal("-5"), max_value=Decimal("2000000"), places=3, allow_nan=False).map(str),
        st.integers(-5, 10**7), st.just("1e3"), st.just(".5"), st.just(True)),
    "currency": st.sampled_from(["USD", "EUR", "JPY", "KWD", "CAD", "XYZ"]),
    "ts": st.one_of(st.integers(1_767_225_600_000 - 10**8, 1_767_225_600_000 + 4 * 86_400_000),
                    st.just("2026-01-02T10:00:00.250Z"), st.just("2026-01-01T23:59:59+02:00"), st.just("yesterday")),
})


def mutate(doc: dict[str, Any], drop: str | None) -> bytes:
    if drop is not None:
        doc = {k: v for k, v in doc.items() if k != drop}
    return json.dumps(doc).encode()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(valid_payment, st.one_of(st.none(), st.sampled_from(["amount", "ts", "payment_id"]))), max_size=20),
       st.lists(st.binary(max_size=12), max_size=3))
def test_random_payloads_match_the_oracle(docs: list[tuple[dict[str, Any], str | None]], junk: list[bytes]) -> None:
    messages: list[bytes | None] = [mutate(dict(d), drop) for d, drop in docs] + list(junk) + [None]
    rows, dead = run(messages)
    merchants = set(STREAM.merchants.column("merchant_id").to_pylist())
    fx = fx_versions(STREAM.fx)
    expect = [evaluate(m, merchants, fx) for m in messages]
    assert [o - 100 for o in dead.column("offset").to_pylist()] == [i for i, r in enumerate(expect) if r is None]
    got = [(r["payment_id"], r["amount_minor"], r["amount_usd_minor"], r["day"]) for r in rows.to_pylist()]
    assert got == [(r.payment_id, r.amount_minor, r.amount_base_minor, r.day) for r in expect if r is not None]
