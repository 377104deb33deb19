"""A realistic, deterministic payment stream with its reference data, for demos, tests and benchmarks.

Valid payments use merchants and currencies of the generated reference tables; a chosen share are
bad events of known kinds (malformed JSON, missing or mistyped fields, negative, zero or absurd
amounts, too many decimals, unknown merchant or currency, no FX rate yet on that day), and a few
valid messages are delivered twice (identical bytes, as an at-least-once producer would).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

_CURRENCIES = {"USD": (2, "1"), "EUR": (2, "1.08"), "GBP": (2, "1.27"), "JPY": (0, "0.0067"), "CHF": (2, "1.12"),
               "SEK": (2, "0.095"), "KWD": (3, "3.25"), "CAD": (2, "0.73")}
_CURRENCY_WEIGHTS = {"USD": 40, "EUR": 25, "GBP": 10, "JPY": 8, "CHF": 5, "SEK": 5, "KWD": 2, "CAD": 5}
#: CAD rates only start on the second day: earlier CAD payments have no FX rate (dead letters).
_LATE_CURRENCY = "CAD"
_CATEGORIES = ["groceries", "electronics", "travel", "restaurants", "fuel", "fashion", "games", "pharmacy"]
_COUNTRIES = ["US", "DE", "FR", "GB", "JP", "CH", "SE", "KW", "CA", "NL"]
BAD_KINDS = ("malformed", "missing_field", "mistyped", "negative", "zero", "absurd", "decimals",
             "unknown_merchant", "unknown_currency", "no_fx_rate")


@dataclass(frozen=True)
class PaymentStreamSpec:
    events: int = 200_000
    merchants: int = 500
    bad_share: float = 0.01
    duplicate_share: float = 0.005
    start: date = date(2026, 1, 1)
    days: int = 3
    seed: int = 7


@dataclass
class PaymentStream:
    """Messages in send order, the reference tables, and the ground truth."""

    messages: list[bytes]
    merchants: pa.Table
    fx: pa.Table
    #: positions of the bad messages in ``messages``, with their kind
    bad: dict[int, str] = field(default_factory=dict)
    #: positions of re-sent valid messages
    duplicates: list[int] = field(default_factory=list)

    @property
    def valid_ids(self) -> set[str]:
        bad = set(self.bad)
        return {json.loads(m)["payment_id"] for i, m in enumerate(self.messages) if i not in bad}

    def write_reference(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``merchants.csv`` and ``fx_rates.csv`` into ``directory``; returns their paths."""
        import pyarrow.csv as pacsv

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        merchants, fx = directory / "merchants.csv", directory / "fx_rates.csv"
        pacsv.write_csv(self.merchants, merchants)
        pacsv.write_csv(self.fx, fx)
        return merchants, fx


def _merchants(count: int, rng: random.Random) -> pa.Table:
    import pyarrow as pa

    ids = [f"m-{i:05d}" for i in range(count)]
    return pa.table({
        "merchant_id": ids,
        "merchant_name": [f"{rng.choice(['Blue', 'Red', 'North', 'Urban', 'Happy', 'Swift'])} "
                          f"{rng.choice(['Market', 'Store', 'Kitchen', 'Works', 'Air', 'Shop'])} {i}" for i in range(count)],
        "category": [rng.choice(_CATEGORIES) for _ in ids],
        "risk_tier": [rng.choices(["low", "medium", "high"], [70, 25, 5])[0] for _ in ids],
        "country": [rng.choice(_COUNTRIES) for _ in ids],
    })


def _fx(spec: PaymentStreamSpec, rng: random.Random) -> pa.Table:
    import pyarrow as pa

    currencies, days, rates = [], [], []
    for code, (_, base) in _CURRENCIES.items():
        base_value = float(base)
        first = 1 if code == _LATE_CURRENCY else 0
        for d in range(first, spec.days + 1):
            currencies.append(code)
            days.append(spec.start + timedelta(days=d))
            # Rates are given as exact decimal text with up to 6 decimals.
            value = base_value if code == "USD" else base_value * (1 + rng.uniform(-0.02, 0.02))
            rates.append(f"{value:.6f}".rstrip("0").rstrip("."))
    return pa.table({"currency": currencies, "valid_from": pa.array(days, pa.date32()), "rate_to_usd": rates})


def _amount_text(rng: random.Random, exponent: int) -> str:
    major = min(rng.lognormvariate(3.5, 1.2), 20_000.0)
    if exponent == 0:
        major *= 150
    minor = max(1, int(major * 10**exponent))
    return str(minor) if exponent == 0 else f"{minor // 10**exponent}.{minor % 10**exponent:0{exponent}d}"


def _iso(ts_ms: int) -> str:
    stamp = datetime.fromtimestamp(ts_ms // 1000, timezone.utc)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{ts_ms % 1000:03d}Z"


def generate_payments(spec: PaymentStreamSpec = PaymentStreamSpec()) -> PaymentStream:
    """Payments in send order over ``spec.days`` days from ``spec.start`` (deterministic per seed)."""
    rng = random.Random(spec.seed)
    merchants = _merchants(spec.merchants, rng)
    fx = _fx(spec, rng)
    merchant_ids = merchants.column("merchant_id").to_pylist()
    merchant_cum = list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(len(merchant_ids))))
    codes = list(_CURRENCY_WEIGHTS)
    code_cum = list(itertools.accumulate(_CURRENCY_WEIGHTS.values()))
    start = datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=timezone.utc)
    start_ms = int(start.timestamp() * 1000)
    step_ms = spec.days * 86_400_000 / max(spec.events, 1)
    stream = PaymentStream([], merchants, fx)
    valid_sent: list[int] = []
    for i in range(spec.events):
        ts_ms = start_ms + int(i * step_ms) + rng.randint(0, 2_000)
        if valid_sent and rng.random() < spec.duplicate_share:
            stream.duplicates.append(len(stream.messages))
            stream.messages.append(stream.messages[rng.choice(valid_sent[-1000:])])
            continue
        currency = rng.choices(codes, cum_weights=code_cum)[0]
        if currency == _LATE_CURRENCY and ts_ms < start_ms + 86_400_000:
            currency = "USD"
        exponent = _CURRENCIES[currency][0]
        payment: dict[str, Any] = {
            "payment_id": f"pay-{spec.seed}-{i:09d}",
            "merchant_id": rng.choices(merchant_ids, cum_weights=merchant_cum)[0],
            "amount": _amount_text(rng, exponent),
            "currency": currency,
            "ts": _iso(ts_ms) if rng.random() < 0.5 else ts_ms,
            "method": rng.choice(["card", "card", "card", "wallet", "bank_transfer"]),
        }
        if rng.random() < 0.1 and exponent == 2:
            payment["amount"] = json.loads(payment["amount"])  # some producers send JSON numbers
            if isinstance(payment["amount"], float) and len(repr(payment["amount"]).split(".")[-1]) > 2:
                payment["amount"] = _amount_text(rng, 2)
        kind = rng.choice(BAD_KINDS) if rng.random() < spec.bad_share else None
        if kind is None:
            valid_sent.append(len(stream.messages))
            stream.messages.append(json.dumps(payment).encode())
            continue
        stream.bad[len(stream.messages)] = kind
        stream.messages.append(_spoil(payment, kind, rng, spec, start_ms))
    return stream


def _spoil(payment: dict[str, Any], kind: str, rng: random.Random, spec: PaymentStreamSpec, start_ms: int) -> bytes:
    if kind == "malformed":
        return json.dumps(payment).encode()[: rng.randint(1, 30)]
    if kind == "missing_field":
        del payment[rng.choice(["payment_id", "merchant_id", "amount", "currency", "ts"])]
    elif kind == "mistyped":
        field_name = rng.choice(["payment_id", "amount", "currency", "ts"])
        payment[field_name] = rng.choice([True, [1, 2], {"value": 1}])
    elif kind == "negative":
        payment["amount"] = "-" + str(payment["amount"])
    elif kind == "zero":
        payment["amount"] = "0"
    elif kind == "absurd":
        payment["amount"] = "250000000.00" if payment["currency"] != "JPY" else "90000000000"
    elif kind == "decimals":
        payment["currency"] = "USD"
        payment["amount"] = "12.345"
    elif kind == "unknown_merchant":
        payment["merchant_id"] = f"m-x{rng.randint(0, 99999)}"
    elif kind == "unknown_currency":
        payment["currency"] = rng.choice(["XYZ", "BTC", "Usd", ""])  # "usd" is USD (as Stripe writes it)
    elif kind == "no_fx_rate":
        payment["currency"] = _LATE_CURRENCY
        payment["amount"] = "10.00"
        payment["ts"] = start_ms + rng.randint(0, 86_399_000)
    return json.dumps(payment).encode()
