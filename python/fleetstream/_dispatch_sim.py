"""A simulated fleet that follows a dispatcher's published plan and reports what it does, with the
delays of real streets: each leg takes its planned time times a random factor (and now and then
much longer), service takes longer or shorter than planned, a few stops fail, vans leave a little
late. Deterministic per seed. ``simulate_day`` runs a whole day in-process: orders and
cancellations arrive on time, the fleet reports, the dispatcher re-plans on a timer.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from fleetstream._dispatch_day import Day

EARTH_RADIUS_M = 6_371_008.8  # geo's mean radius, as the dispatcher uses


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b[1] - a[1]) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass
class _Van:
    id: str
    depot: tuple[float, float]
    speed_ms: float
    phase: str = "depot"  # depot, driving, stop, home, done
    place: tuple[float, float] = (0.0, 0.0)
    since: int = 0
    target: str | None = None
    leg: int = 0
    stop_end: int = 0
    stop_start: int = 0
    last_position: int = 0
    distance: float = 0.0


@dataclass
class FleetStats:
    """What the simulated fleet did: metres driven, stops served on time or late, failed."""

    distance_m: float = 0.0
    served: int = 0
    on_time: int = 0
    late: int = 0
    failed: int = 0
    lateness_s: list[int] = field(default_factory=list)


class FleetSimulator:
    """Vans following the published plan (``step``); reports are dicts for ``vehicle_event``."""

    def __init__(self, day: Day, *, seed: int = 1, delay_sigma: float = 0.15, incident_share: float = 0.05,
                 fail_share: float = 0.01, position_every: int = 300) -> None:
        self.day = day
        self.rng = random.Random(seed)
        self.delay_sigma = delay_sigma
        self.incident_share = incident_share
        self.fail_share = fail_share
        self.position_every = position_every
        self.orders = {o["order_id"]: o for o in day.orders}
        self.vans = {r["vehicle_id"]: _Van(r["vehicle_id"], (float(r["lat"]), float(r["lon"])), float(r["speed_kmh"]) / 3.6)
                     for r in day.fleet}
        for van in self.vans.values():
            van.place = van.depot
        self.stats = FleetStats()
        #: stops served or failed: plans read within a step may still list them
        self.done: set[str] = set()

    def _leg(self, a: tuple[float, float], b: tuple[float, float], speed_ms: float) -> int:
        planned = haversine_m(a, b) / speed_ms
        factor = math.exp(self.rng.gauss(0.0, self.delay_sigma))
        if self.rng.random() < self.incident_share:
            factor *= self.rng.uniform(1.5, 2.5)
        return max(1, round(planned * factor))

    def _where(self, van: _Van, t: int) -> tuple[float, float]:
        assert van.target is not None
        goal = self._place(van.target) if van.target != "" else van.depot
        f = min(1.0, max(0.0, (t - van.since) / max(1, van.leg)))
        return (round(van.place[0] + f * (goal[0] - van.place[0]), 6), round(van.place[1] + f * (goal[1] - van.place[1]), 6))

    def _place(self, order_id: str) -> tuple[float, float]:
        o = self.orders[order_id]
        return (o["lat"], o["lon"])

    def _drive(self, van: _Van, target: str, t: int) -> None:
        """Van leaves its place at ``t`` towards ``target`` ("": its depot)."""
        goal = self._place(target) if target else van.depot
        van.phase, van.target, van.since, van.last_position = ("driving" if target else "home"), target, t, t
        van.leg = self._leg(van.place, goal, van.speed_ms)

    def step(self, plan: dict[str, list[dict[str, Any]]], until: int, now: int) -> list[dict[str, Any]]:
        """Reports of every van from ``now`` up to ``until``, following ``plan`` (rows by vehicle,
        times in seconds of the day), in time order."""
        events: list[dict[str, Any]] = []
        for van in self.vans.values():
            rows = [r for r in plan.get(van.id, []) if r["order_id"] not in self.done]
            for _ in range(100):  # a van does at most a few things per step; bound the loop anyway
                if not self._advance(van, rows, until, now, events):
                    break
        events.sort(key=lambda e: (e["ts"], e["vehicle_id"]))
        return events

    def _advance(self, van: _Van, rows: list[dict[str, Any]], until: int, now: int, events: list[dict[str, Any]]) -> bool:
        def report(ts: int, kind: str, stop: str | None = None, place: tuple[float, float] | None = None) -> None:
            e: dict[str, Any] = {"vehicle_id": van.id, "ts": ts, "kind": kind, "stop": stop, "lat": None, "lon": None}
            if place is not None:
                e["lat"], e["lon"] = place
            events.append(e)

        if van.phase == "done":
            return False
        rows = [r for r in rows if r["order_id"] not in self.done]
        if van.phase == "depot":
            if not rows:
                return False
            first = rows[0]
            leave = int(first["eta"]) - round(haversine_m(van.depot, self._place(first["order_id"])) / van.speed_ms)
            leave += self.rng.choice([0, 0, 0, 60, 120, 300])  # drivers leave a little late now and then
            if leave > until:
                return False
            t = max(leave, now)
            report(t, "departed")
            self._drive(van, first["order_id"], t)
            return True
        if van.phase in ("driving", "home"):
            wanted = rows[0]["order_id"] if rows else ""
            if wanted != van.target:  # the plan changed the next stop (a cancellation): turn there
                t = max(now, van.since)
                here = self._where(van, t)
                van.distance += haversine_m(van.place, here)
                van.place = here
                self._drive(van, wanted, t)
            arrive = van.since + van.leg
            if arrive > until:
                t = van.last_position + self.position_every
                if t <= until and t > now:
                    report(t, "position", place=self._where(van, t))
                    van.last_position = t
                return t + self.position_every <= until
            goal = self._place(van.target) if van.target else van.depot
            van.distance += haversine_m(van.place, goal)
            self.stats.distance_m += haversine_m(van.place, goal)
            van.place = goal
            if not van.target:
                report(arrive, "arrived")
                van.phase = "done"
                return False
            report(arrive, "arrived", van.target)
            o = self.orders[van.target]
            van.stop_start = max(arrive, o["tw_start"])
            van.stop_end = van.stop_start + round(o["service"] * self.rng.uniform(0.8, 1.4))
            van.phase = "stop"
            return True
        if van.phase == "stop":
            if van.stop_end > until:
                return False
            assert van.target is not None
            o = self.orders[van.target]
            self.done.add(van.target)
            if self.rng.random() < self.fail_share:
                report(van.stop_end, "failed", van.target)
                self.stats.failed += 1
            else:
                report(van.stop_end, "served", van.target)
                self.stats.served += 1
                late = van.stop_start - o["tw_end"]
                if late > 0:
                    self.stats.late += 1
                    self.stats.lateness_s.append(late)
                else:
                    self.stats.on_time += 1
            rest = [r for r in rows if r["order_id"] not in self.done]
            self._drive(van, rest[0]["order_id"] if rest else "", van.stop_end)
            return True
        return False


def seconds_of_day(value: Any) -> int:
    """A time from a plan table (time of day, a duration past midnight, or a number) in seconds."""
    if hasattr(value, "hour"):
        return int(value.hour * 3600 + value.minute * 60 + value.second)
    if hasattr(value, "total_seconds"):
        return int(value.total_seconds())
    return int(value)


def rows_by_vehicle(plan: Any) -> dict[str, list[dict[str, Any]]]:
    """The plan table's rows by vehicle, times as seconds of the day."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in plan.to_pylist():
        row["eta"] = seconds_of_day(row["eta"])
        out.setdefault(row["vehicle"], []).append(row)
    return out


@dataclass
class DayRun:
    """What ``simulate_day`` measured: the fleet's stats, per-call latencies (s), every input in
    the order it was applied (orders, cancellations, vehicle reports with their times), and the
    dispatcher at the end."""

    stats: FleetStats
    add_latency: list[float]
    improve_latency: list[float]
    inputs: list[tuple[str, dict[str, Any]]]
    dispatcher: Any
    moved_by_hour: dict[int, int]
    promised_by_hour: dict[int, int]


def simulate_day(day: Day, dispatcher: Any, *, step: int = 60, improve_every: int = 300, improve_budget: Any = None,
                 improve_iterations: int | None = 200, seed: int = 1, until: int | None = None,
                 on_step: Callable[[int, Any], None] | None = None) -> DayRun:
    """Runs ``day`` through ``dispatcher`` in-process: every ``step`` seconds of the day, orders and
    cancellations due are given, the fleet reports, and every ``improve_every`` seconds the
    dispatcher re-plans (``improve_budget`` wall clock and/or ``improve_iterations``)."""
    import pyarrow as pa

    fleet = FleetSimulator(day, seed=seed)
    messages = day.messages()
    end = until if until is not None else day.spec.work_end + 3600
    t = day.spec.work_start - step
    k = 0
    next_improve = day.spec.work_start
    add_latency: list[float] = []
    improve_latency: list[float] = []
    inputs: list[tuple[str, dict[str, Any]]] = []
    moved_by_hour: dict[int, int] = {}
    promised_by_hour: dict[int, int] = {}
    order_columns = ["order_id", "lat", "lon", "demand", "pickup", "service", "tw_start", "tw_end"]
    while t < end:
        now, t = t, t + step
        events = fleet.step(rows_by_vehicle(dispatcher.plan()), t, now)
        if events:
            dispatcher.vehicle_event(pa.Table.from_pylist(events), now=t)
            inputs.extend(("event", e) for e in events)
        while k < len(messages) and messages[k]["ts"] <= t:
            m = messages[k]
            k += 1
            if m.get("kind") == "cancel":
                dispatcher.cancel([m["order_id"]], now=t)
            else:
                row = {c: m[c] for c in order_columns}
                started = time.perf_counter()
                dispatcher.add_orders(pa.Table.from_pylist([row]), now=t)
                add_latency.append(time.perf_counter() - started)
                promised_by_hour[t // 3600] = promised_by_hour.get(t // 3600, 0) + 1
            inputs.append(("order", m))
        if t >= next_improve:
            before = dispatcher.stats["moved_stops"]
            started = time.perf_counter()
            dispatcher.improve(improve_budget, now=t, iterations=improve_iterations)
            improve_latency.append(time.perf_counter() - started)
            moved_by_hour[t // 3600] = moved_by_hour.get(t // 3600, 0) + dispatcher.stats["moved_stops"] - before
            next_improve += improve_every
        if on_step is not None:
            on_step(t, dispatcher)
    return DayRun(fleet.stats, add_latency, improve_latency, inputs, dispatcher, moved_by_hour, promised_by_hour)


def simulate_log(day: Day, dispatcher: Any, *, improve_every: int = 300, improve_iterations: int = 200, step: int = 60,
                 seed: int = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input a day gives the Kafka dispatch pipeline: the orders topic (orders and
    cancellations) and the vehicle topic (what the simulated fleet reports), the fleet following
    the plans of the pipeline's own operator (the same JSON decoding, event-time merge and
    re-planning ticks), so that the pipeline, replaying this log, makes the same decisions."""
    import json

    import pyarrow as pa

    from fleetstream import _core
    from fleetstream.routing._dispatcher import Dispatcher

    operator = _core.DispatchOperator(orders_topic="orders", vehicle_topic="vehicles", improve_every=improve_every,
                                      improve_iterations=improve_iterations, dispatcher=dispatcher.snapshot())
    fleet = FleetSimulator(day, seed=seed)
    messages = day.messages()
    orders: list[dict[str, Any]] = []
    vehicles: list[dict[str, Any]] = []
    t, k = day.spec.work_start - step, 0
    plan: dict[str, list[dict[str, Any]]] = {}
    while t < day.spec.work_end + 3600:
        now, t = t, t + step
        batch: list[tuple[str, int, bytes]] = []
        for e in fleet.step(plan, t, now):
            e = {key: v for key, v in e.items() if v is not None}
            batch.append(("vehicles", len(vehicles), json.dumps(e).encode()))
            vehicles.append(e)
        while k < len(messages) and messages[k]["ts"] <= t:
            m = {key: v for key, v in messages[k].items() if v is not None}
            k += 1
            batch.append(("orders", len(orders), json.dumps(m).encode()))
            orders.append(m)
        if batch:
            # Nothing earlier can come any more: the merge applies the step in event-time order.
            operator.push(pa.array([b[0] for b in batch]), pa.array([0] * len(batch), pa.int32()),
                          pa.array([b[1] for b in batch], pa.int64()), pa.array([b[2] for b in batch], pa.binary()), [], False)
            plan = rows_by_vehicle(Dispatcher.restore(operator.dispatcher()).plan())
    return orders, vehicles
