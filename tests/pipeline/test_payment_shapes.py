"""The payments operator on the payload shapes users have (fields at dotted paths, amounts in minor
units, lower-case currency codes, epoch seconds / micro- / nanoseconds or RFC 3339 times) and in any
base currency, with or without an FX table: against the plain-Python oracle in
tests/payments_reference.py, on hand-computed cases and on random payloads under random mappings."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fleetstream as fs
from fleetstream import _core
from fleetstream.exceptions import ConfigError
from fleetstream.pipeline import PaymentsWriter
from tests.payments_reference import DECIMALS, FIELDS, Shape, evaluate, fx_versions

MERCHANTS = fs.ReferenceTable(pa.table({"merchant_id": ["m1", "m2", "m3"], "tier": ["a", "b", "c"]}), "merchant_id")
DAY = 86_400_000
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
# Rates into each base; CAD only from the second day (earlier CAD payments have no rate).
FX_DATA = pa.table({
    "currency": ["USD", "EUR", "EUR", "JPY", "KWD", "CAD", "GBP"],
    "valid_from": pa.array([dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 1),
                            dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 1)], pa.date32()),
    "rate_to_usd": ["1", "1.08", "1.0912", "0.0067", "3.25", "0.73", "1.27"],
    "rate_to_eur": ["0.925", "1", "1", "0.00615", "3.01", "0.675", "1.176"],
    "rate_to_jpy": ["149.25", "161.5", "162.125", "1", "485.3", "109.1", "189.6"],
    "rate_to_kwd": ["0.308", "0.3325", "0.333", "0.00206", "1", "0.2247", "0.391"],
})
FX = fs.ReferenceTable(FX_DATA, "currency", effective="valid_from")


def run(messages: list[bytes | None], shape: Shape, with_fx: bool = True) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    op = _core.PaymentsOperator(fields=sorted(shape.fields.items()), amount_unit=shape.amount_unit,
                                ts_unit=shape.ts_unit, base_currency=shape.base,
                                max_amount=None if shape.max_base_minor is None
                                else str(Decimal(shape.max_base_minor).scaleb(-DECIMALS[shape.base])))
    n = len(messages)
    return op.process("pay", pa.array(messages, pa.binary()), pa.array([0] * n, pa.int32()), pa.array(range(n), pa.int64()),
                      MERCHANTS.native, FX.native if with_fx else None)


def check_against_oracle(messages: list[bytes | None], shape: Shape, with_fx: bool) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    rows, dead = run(messages, shape, with_fx)
    assert rows.num_rows + dead.num_rows == len(messages)
    fx = fx_versions(FX_DATA, shape.rate_column) if with_fx else None
    expect = [evaluate(m, {"m1", "m2", "m3"}, fx, shape) for m in messages]
    assert dead.column("offset").to_pylist() == [i for i, r in enumerate(expect) if r is None], \
        list(zip(dead.column("offset").to_pylist(), dead.column("reason").to_pylist()))
    got = [(r["payment_id"], r["merchant_id"], r["amount_minor"], r["currency"], r[shape.amount_column],
            int(r["ts"].timestamp() * 1000), r["day"]) for r in rows.to_pylist()]
    assert got == [(r.payment_id, r.merchant_id, r.amount_minor, r.currency, r.amount_base_minor, r.ts_ms, r.day)
                   for r in expect if r is not None]
    return rows, dead


def stripe(payment_id: str, amount: Any, currency: str, created: Any, merchant: str = "m1") -> bytes:
    return json.dumps({"id": "evt_1", "type": "payment_intent.succeeded", "created": created, "data": {"object": {
        "id": payment_id, "amount": amount, "currency": currency, "metadata": {"merchant_id": merchant}}}}).encode()


STRIPE = Shape(fields={"payment_id": "data.object.id", "merchant_id": "data.object.metadata.merchant_id",
                       "amount": "data.object.amount", "currency": "data.object.currency", "ts": "created"},
               amount_unit="minor", ts_unit="s", base="EUR")


def test_stripe_events_hand_computed() -> None:
    t = START // 1000 + 3600  # 2026-01-01T01:00:00Z, epoch seconds
    messages: list[bytes | None] = [
        stripe("pi_1", 1234, "eur", t),              # 12.34 EUR
        stripe("pi_2", 1000, "usd", t),              # 10.00 USD * 0.925 = 9.25 EUR
        stripe("pi_3", 1000, "jpy", t + DAY),        # 1000 JPY * 0.00615 = 6.15 EUR
        stripe("pi_4", 1001, "kwd", t),              # 1.001 KWD * 3.01 = 3.01301 -> 3.01 EUR
        stripe("pi_5", 12.5, "eur", t),              # minor units with a fraction
        stripe("pi_6", 500, "cad", t),               # no CAD rate on the first day
        stripe("pi_7", 500, "btc", t),               # unknown currency
        stripe("pi_8", "700", "EUR", "2026-01-01T10:00:00+01:00"),  # a string amount, RFC 3339 time
    ]
    rows, dead = check_against_oracle(messages, STRIPE, with_fx=True)
    assert rows.column("amount_eur_minor").to_pylist() == [1234, 925, 615, 301, 700]
    assert rows.column("amount_minor").to_pylist() == [1234, 1000, 1000, 1001, 700]
    assert rows.column("currency").to_pylist() == ["EUR", "USD", "JPY", "KWD", "EUR"]
    assert rows.column("ts").to_pylist()[4] == dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc)
    reasons = dead.column("reason").to_pylist()
    assert "amount 12.5 is in minor units of EUR and has a fractional part" in reasons[0]
    assert reasons[1] == "no FX rate for CAD on 2026-01-01"
    assert reasons[2] == 'unknown currency "btc"'
    # Without an FX table only euro payments become rows; every other one says why.
    rows, dead = check_against_oracle(messages, STRIPE, with_fx=False)
    assert rows.column("payment_id").to_pylist() == ["pi_1", "pi_8"]
    assert "no FX table given: cannot convert USD to EUR" in dead.column("reason").to_pylist()[0]


def test_reasons_name_the_mapped_path() -> None:
    messages: list[bytes | None] = [json.dumps({"created": 1, "data": {"object": {"id": "p"}}}).encode(),
                                    json.dumps({"created": True, "data": "gone"}).encode(), b"[1]"]
    _, dead = check_against_oracle(messages, STRIPE, with_fx=True)
    assert dead.column("reason").to_pylist() == [
        "missing field merchant_id (data.object.metadata.merchant_id)",
        "missing field payment_id (data.object.id)",
        "payload is a JSON array, not an object",
    ]


def test_base_currency_sets_the_column_rates_and_limit() -> None:
    one = json.dumps({"payment_id": "p", "merchant_id": "m1", "amount": "100", "currency": "USD", "ts": START}).encode()
    rows, _ = check_against_oracle([one], Shape(base="JPY"), with_fx=True)
    assert rows.column("amount_jpy_minor").to_pylist() == [14925]  # 100 USD * 149.25, JPY has no decimals
    # 1,000 KWD is about 3,010 EUR: over a limit of 3,000.00 EUR.
    big = json.dumps({"payment_id": "k", "merchant_id": "m1", "amount": "1000", "currency": "KWD", "ts": START}).encode()
    _, dead = check_against_oracle([big], Shape(base="EUR", max_base_minor=300_000), with_fx=True)
    assert dead.column("reason").to_pylist() == ["absurd amount 1000 KWD (about 3010.00 EUR; the limit is 3000.00 EUR)"]


def test_configuration_mistakes_are_config_errors_naming_them() -> None:
    with pytest.raises(ConfigError, match="unknown field 'amout'|unknown field \"amout\""):
        _core.PaymentsOperator(fields=[("amout", "x")])
    with pytest.raises(ConfigError, match="overlap"):
        _core.PaymentsOperator(fields=[("amount", "data"), ("currency", "data.currency")])
    with pytest.raises(ConfigError, match="base_currency \"EURO\""):
        _core.PaymentsOperator(base_currency="EURO")
    with pytest.raises(ConfigError, match="amount_unit \"cents\""):
        _core.PaymentsOperator(amount_unit="cents")
    with pytest.raises(ConfigError, match="ts_unit \"min\""):
        _core.PaymentsOperator(ts_unit="min")
    with pytest.raises(ConfigError, match="max_amount \"1.001\""):
        _core.PaymentsOperator(max_amount="1.001")
    with pytest.raises(fs.SchemaError, match="no rate column \"rate_to_chf\""):
        PaymentsWriter("sqlite:///:memory:", MERCHANTS, FX, base_currency="CHF").transform(
            "p", pa.array([b"{}"]), pa.array([0], pa.int32()), pa.array([0]))


def test_max_amount_usd_still_works_and_says_it_is_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="max_amount_usd is deprecated"):
        writer = PaymentsWriter("sqlite:///:memory:", MERCHANTS, FX, max_amount_usd=10)
    over = json.dumps({"payment_id": "p", "merchant_id": "m1", "amount": "10.01", "currency": "USD", "ts": START}).encode()
    _, dead = writer.transform("p", pa.array([over]), pa.array([0], pa.int32()), pa.array([0]))
    assert dead.column("reason").to_pylist() == ["absurd amount 10.01 USD (about 10.01 USD; the limit is 10.00 USD)"]
    with pytest.raises(ConfigError, match="max_amount_usd is a limit in USD"), pytest.warns(DeprecationWarning):
        PaymentsWriter("sqlite:///:memory:", MERCHANTS, FX, base_currency="EUR", max_amount_usd=10)


# -- random payloads under random mappings ------------------------------------------------------

PATHS = {
    "payment_id": ["payment_id", "id", "data.object.id", "meta.payment.ref"],
    "merchant_id": ["merchant_id", "merchant", "data.object.metadata.merchant_id", "meta.shop"],
    "amount": ["amount", "value", "data.object.amount", "meta.money.amount"],
    "currency": ["currency", "cur", "data.object.currency", "meta.money.currency"],
    "ts": ["ts", "created", "data.object.created_at", "meta.when"],
}


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    fields = {name: path for name in FIELDS if (path := draw(st.sampled_from(PATHS[name]))) != name}
    limit = draw(st.one_of(st.none(), st.none(), st.integers(1, 10**9)))
    return Shape(fields=fields, amount_unit=draw(st.sampled_from(["major", "minor"])),
                 ts_unit=draw(st.sampled_from(["s", "ms", "us", "ns"])), base=draw(st.sampled_from(["USD", "EUR", "JPY", "KWD"])),
                 max_base_minor=limit)


class Raw(str):
    """A JSON number written as this text (never through a float)."""


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def mostly(draw: st.DrawFn, valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
    """A valid value 7 times in 8, so that whole payloads are often rows."""
    return draw(invalid) if draw(st.integers(0, 7)) == 0 else draw(valid)


def amount(draw: st.DrawFn, unit: str, exponent: int) -> Any:
    junk = st.sampled_from([True, "1e3", ".5", " 12", None, [1], "12.", "-0", Raw("1E2")])
    if unit == "minor":
        cents = st.integers(-3, 10**11)
        fractional = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
        valid = st.one_of(cents.map(lambda v: Raw(str(v))), cents.map(str), st.integers(1, 10**6).map(lambda v: Raw(f"{v}.00")))
        return mostly(draw, valid, st.one_of(junk, fractional.map(lambda d: Raw(str(d))), fractional.map(str)))
    places = draw(st.sampled_from([0, exponent, exponent, exponent + 1]))  # exponent + 1: too many decimals, unless a zero
    number = st.decimals(min_value=-2, max_value=5_000_000, places=places, allow_nan=False, allow_infinity=False)
    return mostly(draw, st.one_of(number.map(str), number.map(lambda d: Raw(str(d)))), junk)


def timestamp(draw: st.DrawFn, unit: str) -> Any:
    at = draw(st.integers(START - DAY // 2, START + 3 * DAY))
    extra = draw(st.integers(0, 999_999))
    if draw(st.booleans()):
        numeric = {"s": f"{at // 1000}.{at % 1000:03d}{extra % 10}" if extra % 3 else str(at // 1000),
                   "ms": str(at) if extra % 3 else f"{at}.{extra % 1000}",
                   "us": str(at * 1000 + extra % 1000), "ns": str(at * 1_000_000 + extra)}[unit]
        valid: Any = Raw(numeric)
    else:
        offset_min = draw(st.sampled_from([0, 60, -330, 14 * 60]))
        local = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=at + offset_min * 60_000)
        zone = draw(st.sampled_from(["Z", "z"])) if offset_min == 0 else \
            f"{'+' if offset_min > 0 else '-'}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
        sep = draw(st.sampled_from(["T", "t", " "]))
        valid = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + f".{at % 1000:03d}{zone}"
    junk = st.sampled_from(["yesterday", "2026-02-30T00:00:00Z", "2026-01-01", Raw("1.7e9"), True, Raw("99999999999999999"),
                            str(at)])
    return mostly(draw, st.just(valid), junk)


@st.composite
def payloads(draw: st.DrawFn, shape: Shape) -> bytes:
    currency = mostly(draw, st.sampled_from(["USD", "usd", "EUR", "eur", "JPY", "jpy", "KWD", "kwd", "CAD", "GBP"]),
                      st.sampled_from(["Eur", "XYZ", "", "EURO", 978]))
    code = currency.upper() if isinstance(currency, str) and currency.upper() in DECIMALS else "USD"
    values = {
        "payment_id": mostly(draw, st.text(alphabet="abcXYZ-_ 09é", min_size=1, max_size=10), st.sampled_from([7, "", " "])),
        "merchant_id": mostly(draw, st.sampled_from(["m1", "m2", "m3"]), st.just("m-unknown")),
        "amount": amount(draw, shape.amount_unit, DECIMALS[code]),
        "currency": currency,
        "ts": timestamp(draw, shape.ts_unit),
    }
    dropped = draw(st.sampled_from(FIELDS)) if draw(st.integers(0, 9)) == 0 else None
    doc: dict[str, Any] = {"noise": {"amount": Raw("5"), "list": [1, {"currency": "EUR"}]}}
    if draw(st.integers(0, 19)) == 0:
        doc["data"] = "not an object"  # a path through it finds nothing
    for name in FIELDS:
        if name == dropped:
            continue
        *parents, leaf = shape.path(name)
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = values[name]
    text = dump(doc)
    top_level = [shape.path(name)[0] for name in FIELDS if len(shape.path(name)) == 1 and name != dropped]
    if top_level and draw(st.integers(0, 19)) == 0:  # the same key twice: which value? a dead letter
        text = "{" + json.dumps(top_level[0]) + ": \"dup\", " + text[1:]
    return text.encode()


@settings(max_examples=150, deadline=None)
@given(st.data(), shapes(), st.booleans())
def test_random_payloads_under_random_mappings_match_the_oracle(data: st.DataObject, shape: Shape, with_fx: bool) -> None:
    messages: list[bytes | None] = data.draw(st.lists(payloads(shape), max_size=25))
    messages += data.draw(st.lists(st.binary(max_size=12), max_size=2)) + [None]
    check_against_oracle(messages, shape, with_fx)
