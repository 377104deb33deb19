"""A fleet from a CSV file: one row per van, with the depot it starts from.

Columns: ``vehicle_id``, the depot's place (``lat``/``lon`` or ``x``/``y``), ``capacity``, and
optionally ``shift_start``, ``shift_end`` ("08:00"), ``speed_kmh``, ``cost_per_km``, ``cost_per_hour``,
``fixed_cost``, ``max_duration`` ("9h"), ``skills`` (names separated by ``;``). Vans at the same
place share a depot. A van doing several trips a day (waves) is listed once per trip, each with the
trip's shift: ``van07-1`` 08:00-13:00, ``van07-2`` 13:00-17:30.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "fleet.csv")
>>> _ = open(path, "w").write("vehicle_id,lat,lon,capacity,shift_start,shift_end\\nvan1,52.52,13.40,40,08:00,18:00\\n")
>>> m = read_fleet(path)
>>> m.num_depots, [vt.name for vt in m._vehicle_types]
(1, ['van1'])
"""

from __future__ import annotations

import csv
import os
from typing import Any

from fleetstream.exceptions import ConfigError
from fleetstream.routing._model import Model

_COLUMNS = {"vehicle_id", "lat", "lon", "x", "y", "capacity", "shift_start", "shift_end", "speed_kmh", "cost_per_km",
            "cost_per_hour", "fixed_cost", "max_duration", "skills"}


def read_fleet(path: str | os.PathLike[str]) -> Model:
    """A ``Model`` with one depot per distinct place and one vehicle type (count 1, named by its
    ``vehicle_id``) per row; errors name the file, line and column."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            unknown = set(reader.fieldnames or []) - _COLUMNS
            if unknown:
                raise ConfigError(f"{path}: unknown column(s) {sorted(unknown)}; the columns are {sorted(_COLUMNS)}")
            rows = list(reader)
    except OSError as error:
        raise ConfigError(f"cannot read the fleet file {path}: {error}") from None
    return fleet_model(rows, str(path))


def fleet_model(rows: list[dict[str, Any]], source: str = "fleet") -> Model:
    """``read_fleet`` for rows already read (values as text or numbers)."""
    if not rows:
        raise ConfigError(f"{source}: no vans")
    model = Model()
    depots: dict[tuple[str, float, float], int] = {}

    def text(row: dict[str, Any], name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    for line, row in enumerate(rows, start=2):
        where = f"{source} line {line}"

        def number(name: str, default: Any = None) -> Any:
            value = text(row, name)
            if not value:
                if default is None:
                    raise ConfigError(f"{where}: {name} is missing")
                return default
            try:
                return float(value)
            except ValueError:
                raise ConfigError(f"{where}: {name} {value!r} is not a number") from None

        vid = text(row, "vehicle_id")
        if not vid:
            raise ConfigError(f"{where}: vehicle_id is missing")
        kind = "latlon" if text(row, "lat") else "planar"
        a, b = (number("lat"), number("lon")) if kind == "latlon" else (number("x"), number("y"))
        key = (kind, a, b)
        if key not in depots:
            depots[key] = model.add_depot(**({"lat": a, "lon": b} if kind == "latlon" else {"x": a, "y": b}),
                                          name=f"depot {len(depots)}")
        shift = None
        if text(row, "shift_start") or text(row, "shift_end"):
            shift = (text(row, "shift_start") or "00:00", text(row, "shift_end") or "23:59")
        capacity = number("capacity")
        if capacity != int(capacity) or capacity < 0:
            raise ConfigError(f"{where}: capacity must be a whole number >= 0, got {capacity}")
        try:
            model.add_vehicle_type(
                count=1, capacity=[int(capacity)], start=depots[key], shift=shift, name=vid,
                speed_kmh=number("speed_kmh", 30.0), cost_per_km=number("cost_per_km", 1.0),
                cost_per_hour=number("cost_per_hour", 0.0), fixed_cost=number("fixed_cost", 0.0),
                max_duration=text(row, "max_duration") or None,
                skills=[s.strip() for s in text(row, "skills").split(";") if s.strip()])
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    return model


def write_fleet(model_rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Writes fleet rows (dicts with the columns above) as CSV."""
    columns = [c for c in ["vehicle_id", "lat", "lon", "x", "y", "capacity", "shift_start", "shift_end", "speed_kmh",
                           "cost_per_km", "cost_per_hour", "fixed_cost", "max_duration", "skills"]
               if any(c in r for r in model_rows)]
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(model_rows)
