"""A plain-Python oracle for the payments pipeline: find the fields by walking the decoded JSON,
validate, convert with ``decimal`` and join by scanning, one message at a time. Independent of the
Rust code it checks (no shared helpers).

``Shape`` says what the payloads look like (where each field is, the amount and time units) and
which base currency amounts are converted into; the default is the pipeline's default."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

# ISO 4217 minor units of the currencies the pipeline accepts.
DECIMALS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TWO = "USD EUR GBP CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF INR CNY HKD SGD MXN BRL ZAR TRY ILS AED SAR THB".split()
DECIMALS.update({c: 2 for c in TWO})
FIELDS = ("payment_id", "merchant_id", "amount", "currency", "ts")
#: nanoseconds per unit of a numeric ts
NANOS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
#: epoch ms of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59.999Z
MIN_MS, MAX_MS = -62_135_596_800_000, 253_402_300_799_999
#: room for every digit of the products here: decimal's default 28 digits would round them
EXACT = Context(prec=200)
PLAIN = re.compile(r"-?([0-9]+)(\.[0-9]+)?")
RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


@dataclass(frozen=True)
class Shape:
    fields: Mapping[str, str] = field(default_factory=dict)
    amount_unit: str = "major"
    ts_unit: str = "ms"
    base: str = "USD"
    #: in minor units of ``base``; None: 1,000,000 units of it
    max_base_minor: int | None = None

    def path(self, name: str) -> list[str]:
        return self.fields.get(name, name).split(".")

    @property
    def limit(self) -> int:
        return 1_000_000 * 10 ** DECIMALS[self.base] if self.max_base_minor is None else self.max_base_minor

    @property
    def rate_column(self) -> str:
        return f"rate_to_{self.base.lower()}"

    @property
    def amount_column(self) -> str:
        return f"amount_{self.base.lower()}_minor"


@dataclass(frozen=True)
class Row:
    payment_id: str
    merchant_id: str
    amount_minor: int
    currency: str
    amount_base_minor: int
    ts_ms: int
    day: date


class _Object(dict[str, Any]):
    """A decoded JSON object that remembers which keys it had more than once."""

    duplicates: set[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    seen: set[str] = set()
    obj.duplicates = {k for k, _ in pairs if k in seen or seen.add(k)}  # type: ignore[func-returns-value]
    return obj


_ABSENT = object()
_AMBIGUOUS = object()


def _find(doc: _Object, path: list[str]) -> Any:
    value: Any = doc
    for key in path:
        if not isinstance(value, _Object) or key not in value:
            return _ABSENT
        if key in value.duplicates:
            return _AMBIGUOUS
        value = value[key]
    return value


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value.encode()) > 128:
        return None
    return value


def _number_text(value: Any) -> str | None:
    """The text of a JSON number, or of a string holding one."""
    if isinstance(value, tuple):
        return str(value[1])
    if isinstance(value, str):
        return value
    return None


def _plain(text: str, decimals: int) -> int | None:
    """``text`` scaled by 10**decimals if it is a plain decimal whose extra decimals are zeros."""
    match = PLAIN.fullmatch(text)
    if match is None or len(match.group(1)) > 20:
        return None
    scaled = EXACT.scaleb(Decimal(text), decimals)
    return int(scaled) if scaled == scaled.to_integral_value() else None


def _ts_ms(value: Any, unit: str) -> int | None:
    if isinstance(value, tuple):
        nanos = _plain(value[1], {"s": 9, "ms": 6, "us": 3, "ns": 0}[unit])
        ms = None if nanos is None else nanos // 10**6
    elif isinstance(value, str):
        match = RFC3339.fullmatch(value)
        if match is None:
            return None
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        zone = match.group(8)
        sign = 1 if zone[0] == "+" else -1
        offset_ms = 0 if zone in "Zz" else sign * (int(zone[1:3]) * 60 + int(zone[4:])) * 60_000
        try:  # validates the calendar (no 30 February); a leap second (:60) is refused here, so never generated
            local = datetime(year, month, day, hour, minute, second)
        except ValueError:
            return None
        millis = int((match.group(7) or ".0")[1:4].ljust(3, "0"))
        ms = (local - datetime(1970, 1, 1)) // timedelta(milliseconds=1) + millis - offset_ms
    else:
        return None
    if ms is None or not MIN_MS <= ms <= MAX_MS:
        return None
    return ms


def _currency(value: Any) -> str | None:
    text = _text(value)
    if text is None or len(text) != 3 or not text.isascii() or not (text.isupper() or text.islower()) or not text.isalpha():
        return None
    code = text.upper()
    return code if code in DECIMALS else None


def evaluate(payload: bytes | None, merchants: set[str], fx: dict[str, list[tuple[int, str]]] | None,
             shape: Shape = Shape()) -> Row | None:
    """The row a payload becomes, or None for a dead letter. ``fx``: currency -> [(valid_from ms, rate
    text into the base currency)], or None (no FX table)."""
    if payload is None:
        return None
    try:
        doc = json.loads(payload.decode("utf-8"), parse_float=lambda s: ("number", s),
                         parse_int=lambda s: ("number", s), parse_constant=_refuse, object_pairs_hook=_object)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, _Object):
        return None
    found = {name: _find(doc, shape.path(name)) for name in FIELDS}
    if any(v is _AMBIGUOUS for v in found.values()):
        return None
    payment_id, merchant_id = _text(found["payment_id"]), _text(found["merchant_id"])
    currency = _currency(found["currency"])
    ts = _ts_ms(found["ts"], shape.ts_unit)
    amount_text = _number_text(found["amount"])
    if payment_id is None or merchant_id is None or currency is None or ts is None or amount_text is None:
        return None
    exponent = DECIMALS[currency]
    minor = _plain(amount_text, exponent if shape.amount_unit == "major" else 0)
    if minor is None or minor <= 0 or merchant_id not in merchants or minor > (2**63 - 1) // 1000:
        return None
    if currency == shape.base:
        base_minor = minor
    else:
        if fx is None:
            return None
        versions = [(start, rate) for start, rate in fx.get(currency, []) if start <= ts]
        if not versions:
            return None
        rate = Decimal(max(versions)[1])
        base_exponent = DECIMALS[shape.base]
        if minor * int(EXACT.scaleb(rate, 9)) * 10**base_exponent >= 2**127:  # the exact product would not fit: absurd
            return None
        value = EXACT.multiply(EXACT.scaleb(Decimal(minor), -exponent), rate)
        base_minor = int(EXACT.scaleb(value.quantize(Decimal(1).scaleb(-base_exponent), ROUND_HALF_EVEN, EXACT), base_exponent))
    if base_minor > shape.limit:
        return None
    day = EPOCH.date() + timedelta(days=ts // 86_400_000)
    return Row(payment_id, merchant_id, minor, currency, base_minor, ts, day)


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def fx_versions(fx_table: Any, rate_column: str = "rate_to_usd") -> dict[str, list[tuple[int, str]]]:
    """currency -> [(valid_from as epoch ms, rate text)] from a pyarrow FX table."""
    out: dict[str, list[tuple[int, str]]] = {}
    for row in fx_table.to_pylist():
        valid_from = row["valid_from"]
        start = int(datetime(valid_from.year, valid_from.month, valid_from.day, tzinfo=timezone.utc).timestamp() * 1000)
        out.setdefault(row["currency"], []).append((start, row[rate_column]))
    return out


def expected_books(messages: list[bytes], merchants_table: Any, fx_table: Any,
                   shape: Shape = Shape()) -> tuple[dict[str, Row], list[int]]:
    """(first row per payment id, positions of dead letters) for messages in order (``fx_table``
    None: no FX table)."""
    merchants = set(merchants_table.column("merchant_id").to_pylist())
    fx = None if fx_table is None else fx_versions(fx_table, shape.rate_column)
    rows: dict[str, Row] = {}
    dead = []
    for i, message in enumerate(messages):
        row = evaluate(message, merchants, fx, shape)
        if row is None:
            dead.append(i)
        else:
            rows.setdefault(row.payment_id, row)
    return rows, dead
