"""A realistic delivery day for the live dispatcher (deterministic per seed): a fleet of vans doing
waves of trips from one or more depots, orders arriving over the day around the depots with
delivery windows that open a while after the order, some cancelled before their window.

Used by the ``dispatch-sim`` command, the live-dispatch notebook, the benchmark and the tests.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from fleetstream.routing._fleet import write_fleet
from fleetstream.routing._model import Model


@dataclass(frozen=True)
class DaySpec:
    """What :func:`generate_day` produces. Times are seconds of the day."""

    orders: int = 2000
    vans: int = 50
    #: trips per van: the working day split into this many waves, each a vehicle of its own
    waves: int = 3
    depots: int = 1
    center: tuple[float, float] = (52.52, 13.405)  # Berlin
    radius_km: float = 8.0
    #: orders arrive over [first_order, first_order + hours)
    first_order: int = 8 * 3600
    hours: float = 10.0
    #: vans work from work_start to work_end
    work_start: int = 8 * 3600
    work_end: int = 22 * 3600
    #: a window opens this many hours after the order (uniform) and lasts this many hours
    lead_hours: tuple[float, float] = (0.5, 3.0)
    window_hours: tuple[float, float] = (1.0, 3.0)
    cancel_share: float = 0.10
    pickup_share: float = 0.05
    capacity: int = 40
    demand: tuple[int, int] = (1, 4)
    service_s: tuple[int, int] = (120, 300)
    speed_kmh: float = 25.0
    seed: int = 7


@dataclass
class Day:
    spec: DaySpec
    depots: list[tuple[float, float]]
    #: fleet.csv rows: one per van and wave
    fleet: list[dict[str, Any]]
    #: order messages in arrival order: ts (when it was placed), order_id, lat, lon, demand,
    #: pickup, service, tw_start, tw_end
    orders: list[dict[str, Any]]
    #: cancellations in time order: ts, order_id
    cancels: list[dict[str, Any]] = field(default_factory=list)

    def model(self) -> Model:
        """The fleet as a routing model (no clients)."""
        from fleetstream.routing._fleet import fleet_model

        return fleet_model(self.fleet, "generated fleet")

    def write_fleet(self, path: str) -> None:
        write_fleet(self.fleet, path)

    def messages(self) -> list[dict[str, Any]]:
        """Orders and cancellations for the orders topic, in time order (a cancellation carries
        ``kind: "cancel"``)."""
        cancels = [{"kind": "cancel", **c} for c in self.cancels]
        return sorted(self.orders + cancels, key=lambda m: (m["ts"], m.get("kind", "") == "cancel"))


def _clock(t: int) -> str:
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def offset(center: tuple[float, float], km: float, bearing: float) -> tuple[float, float]:
    """The point ``km`` from ``center`` in direction ``bearing`` (radians), rounded to 1e-5 degrees."""
    lat = center[0] + km / 111.32 * math.cos(bearing)
    lon = center[1] + km / (111.32 * math.cos(math.radians(center[0]))) * math.sin(bearing)
    return (round(lat, 5), round(lon, 5))


def generate_day(spec: DaySpec = DaySpec()) -> Day:
    rng = random.Random(spec.seed)
    depots = [spec.center] if spec.depots == 1 else [
        offset(spec.center, spec.radius_km * 0.6, 2 * math.pi * k / spec.depots) for k in range(spec.depots)]
    wave = (spec.work_end - spec.work_start) // spec.waves
    fleet = []
    for v in range(spec.vans):
        lat, lon = depots[v % len(depots)]
        for w in range(spec.waves):
            start = spec.work_start + w * wave
            fleet.append({"vehicle_id": f"van{v + 1:02d}-{w + 1}", "lat": lat, "lon": lon, "capacity": spec.capacity,
                          "shift_start": _clock(start), "shift_end": _clock(start + wave), "speed_kmh": spec.speed_kmh})
    orders = []
    cancels = []
    span = int(spec.hours * 3600)
    for i in range(spec.orders):
        ts = spec.first_order + int(i * span / spec.orders) + rng.randint(0, max(0, span // spec.orders - 1))
        depot = depots[rng.randrange(len(depots))]
        lat, lon = offset(depot, spec.radius_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi))
        opens = ts + int(rng.uniform(*spec.lead_hours) * 3600)
        closes = min(opens + int(rng.uniform(*spec.window_hours) * 3600), spec.work_end - 1800)
        opens = min(opens, closes - 1800)
        demand = rng.randint(*spec.demand)
        pickup = 0
        if rng.random() < spec.pickup_share:
            demand, pickup = 0, rng.randint(*spec.demand)
        order = {"ts": ts, "order_id": f"o{i:05d}", "lat": lat, "lon": lon, "demand": demand, "pickup": pickup,
                 "service": rng.randint(*spec.service_s), "tw_start": opens, "tw_end": closes}
        orders.append(order)
        if rng.random() < spec.cancel_share:
            cancels.append({"ts": rng.randint(ts + 60, max(ts + 60, opens - 60)), "order_id": order["order_id"]})
    cancels.sort(key=lambda c: (c["ts"], c["order_id"]))
    return Day(spec, depots, fleet, orders, cancels)
