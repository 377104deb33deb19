"""A plain-Python oracle for the payments pipeline: validate, convert with ``decimal`` and join by
scanning, one message at a time. Independent of the Rust code it checks (no shared helpers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

# ISO 4217 minor units of the currencies the pipeline accepts.
DECIMALS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TWO = "USD EUR GBP CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF INR CNY HKD SGD MXN BRL ZAR TRY ILS AED SAR THB".split()
DECIMALS.update({c: 2 for c in TWO})


@dataclass(frozen=True)
class Row:
    payment_id: str
    merchant_id: str
    amount_minor: int
    currency: str
    amount_usd_minor: int
    ts_ms: int
    day: date


def _ts_ms(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return (parsed - EPOCH) // timedelta(milliseconds=1)
    return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value.encode()) > 128:
        return None
    return value


def evaluate(payload: bytes | None, merchants: set[str], fx: dict[str, list[tuple[int, str]]],
             max_usd_minor: int = 100_000_000) -> Row | None:
    """The row a payload becomes, or None for a dead letter. ``fx``: currency -> [(valid_from ms, rate text)]."""
    if payload is None:
        return None
    try:
        doc = json.loads(payload.decode("utf-8"), parse_float=lambda s: ("number", s), parse_int=lambda s: ("number", s))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    payment_id, merchant_id, currency = (_text(doc.get(k)) for k in ("payment_id", "merchant_id", "currency"))
    raw_ts = doc.get("ts")
    ts = int(raw_ts[1]) if isinstance(raw_ts, tuple) and raw_ts[1].lstrip("-").isdigit() else _ts_ms(raw_ts)
    amount = doc.get("amount")
    if payment_id is None or merchant_id is None or currency is None or ts is None:
        return None
    if isinstance(amount, tuple):
        amount_text = amount[1]
    elif isinstance(amount, str):
        amount_text = amount
    else:
        return None
    if currency not in DECIMALS or "e" in amount_text.lower() or amount_text.startswith("+") or amount_text.strip() != amount_text:
        return None
    try:
        value = Decimal(amount_text)
    except InvalidOperation:
        return None
    if not value.is_finite() or amount_text.startswith(".") or amount_text.endswith(".") or amount_text.startswith("-."):
        return None
    exponent = DECIMALS[currency]
    minor = value * (10 ** exponent)
    if minor != minor.to_integral_value() or value <= 0:
        return None
    if merchant_id not in merchants:
        return None
    versions = [(start, rate) for start, rate in fx.get(currency, []) if start <= ts]
    if not versions:
        return None
    rate = Decimal(max(versions)[1])
    usd = (value * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    usd_minor = int(usd * 100)
    if usd_minor > max_usd_minor or int(minor) > (2**63 - 1) // 1000:
        return None
    day = datetime.fromtimestamp(ts // 1000, timezone.utc).date()
    return Row(payment_id, merchant_id, int(minor), currency, usd_minor, ts, day)


def fx_versions(fx_table: Any) -> dict[str, list[tuple[int, str]]]:
    """currency -> [(valid_from as epoch ms, rate text)] from a pyarrow FX table."""
    out: dict[str, list[tuple[int, str]]] = {}
    for row in fx_table.to_pylist():
        valid_from = row["valid_from"]
        start = int(datetime(valid_from.year, valid_from.month, valid_from.day, tzinfo=timezone.utc).timestamp() * 1000)
        out.setdefault(row["currency"], []).append((start, row["rate_to_usd"]))
    return out


def expected_books(messages: list[bytes], merchants_table: Any, fx_table: Any) -> tuple[dict[str, Row], list[int]]:
    """(first row per payment id, positions of dead letters) for messages in order."""
    merchants = set(merchants_table.column("merchant_id").to_pylist())
    fx = fx_versions(fx_table)
    rows: dict[str, Row] = {}
    dead = []
    for i, message in enumerate(messages):
        row = evaluate(message, merchants, fx)
        if row is None:
            dead.append(i)
        else:
            rows.setdefault(row.payment_id, row)
    return rows, dead
