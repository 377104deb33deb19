"""An independent reference for the live dispatcher: the world as the inputs make it (orders,
cancellations, what drivers report), a driver that follows the published plan, and a checker that
recomputes every published plan from that world alone (no dispatcher code).

Planar model, one depot, times equal rounded Euclidean distances (as ``checker.dist``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

import fleetstream as fs

from .checker import dist

DEPOT = (50, 50)
BIG = 1 << 50


@dataclass
class Van:
    id: str
    capacity: int
    shift: tuple[int, int]
    departed: bool = False
    #: last report: (place, time); at_stop: the order it is at (arrived, not served)
    anchor: tuple[tuple[float, float], int] | None = None
    at_stop: str | None = None
    #: goods on board no remaining stop delivers: pickups made, failed deliveries
    on_board: int = 0
    #: delivery orders on the van when it left (it takes no others afterwards)
    loaded: set[str] = field(default_factory=set)


@dataclass
class World:
    freeze: int
    vans: dict[str, Van]
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fate: dict[str, str] = field(default_factory=dict)  # served, failed, cancelled, rejected
    now: int = 0
    last_plan: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[tuple[str, Any, int]] = field(default_factory=list)

    @staticmethod
    def spec(rng: random.Random) -> dict[str, Any]:
        vans = {f"van{v}": Van(f"van{v}", rng.randint(10, 20), (0, 2000)) for v in range(rng.randint(2, 4))}
        return {"freeze": rng.choice([0, 10, 40]), "vans": vans}

    def model(self) -> fs.routing.Model:
        m = fs.routing.Model()
        hub = m.add_depot(x=DEPOT[0], y=DEPOT[1])
        for van in self.vans.values():
            m.add_vehicle_type(count=1, capacity=[van.capacity], start=hub, shift=van.shift, name=van.id)
        return m

    # -- inputs -----------------------------------------------------------------------------------
    def new_orders(self, rng: random.Random, k: int, now: int) -> list[dict[str, Any]]:
        rows = []
        for _ in range(k):
            oid = f"o{len(self.orders) + len(rows)}"
            row: dict[str, Any] = {"order_id": oid, "x": rng.randint(0, 100), "y": rng.randint(0, 100),
                                   "demand": rng.randint(1, 5), "pickup": 0, "service": rng.randint(0, 5),
                                   "tw_start": None, "tw_end": None, "release": None}
            if rng.random() < 0.2:
                row["demand"], row["pickup"] = 0, rng.randint(1, 4)
            if rng.random() < 0.6:
                opens = now + rng.randint(-20, 200)
                row["tw_start"], row["tw_end"] = max(0, opens), max(0, opens) + rng.randint(30, 200)
            if rng.random() < 0.15:
                row["release"] = now + rng.randint(0, 60)
            rows.append(row)
        return rows

    def window(self, oid: str) -> tuple[int, int]:
        o = self.orders[oid]
        return (o["tw_start"] or 0, BIG if o["tw_end"] is None else o["tw_end"])

    def place(self, oid: str) -> tuple[float, float]:
        return (self.orders[oid]["x"], self.orders[oid]["y"])

    # -- the driver ---------------------------------------------------------------------------------
    def drive(self, rng: random.Random, plan: pa.Table, until: int) -> list[dict[str, Any]]:
        """What the vans report up to ``until``, following the plan: at most their next stop each
        (it is frozen once they are out), sometimes slower than planned (a position short of where
        the plan has them), sometimes failing a stop."""
        events: list[dict[str, Any]] = []
        rows = by_vehicle(plan)
        for van in self.vans.values():
            route = rows.get(van.id, [])
            if not route:
                continue
            first = route[0]
            ts = self.now
            if not van.departed:
                leave = int(first["eta"]) - dist(DEPOT, self.place(first["order_id"]))
                if leave > until:
                    continue
                ts = max(leave, self.now)
                events.append(event(van.id, ts, "departed"))
                at, since = DEPOT, ts
            elif van.at_stop is None:
                assert van.anchor is not None
                at, since = van.anchor
            else:
                at, since = self.place(van.at_stop), van.anchor[1] if van.anchor else ts
            if van.at_stop is None:
                target = self.place(first["order_id"])
                slow = rng.random() < 0.25
                arrival = since + dist(at, target) * (2 if slow else 1)
                if arrival > until:
                    if slow and until > since:  # report where it is: short of the plan
                        f = (until - since) / (2 * max(1, dist(at, target)))
                        x, y = round(at[0] + f * (target[0] - at[0])), round(at[1] + f * (target[1] - at[1]))
                        events.append(event(van.id, until, "position", x=x, y=y))
                    continue
                events.append(event(van.id, max(arrival, ts), "arrived", first["order_id"]))
                since = max(arrival, ts)
            o = self.orders[first["order_id"]]
            lo, _ = self.window(first["order_id"])
            done = max(since, lo) + o["service"]
            if done <= until:
                kind = "failed" if rng.random() < 0.05 else "served"
                events.append(event(van.id, done, kind, first["order_id"]))
        return events

    def cancel(self, oid: str) -> None:
        """An order withdrawn: a van standing at it leaves from there now."""
        self.fate[oid] = "cancelled"
        for van in self.vans.values():
            if van.at_stop == oid:
                van.at_stop, van.anchor = None, (self.place(oid), self.now)

    def apply(self, events: list[dict[str, Any]], report: fs.routing.EventReport) -> None:
        """The world after events the dispatcher accepted (all the driver's are valid)."""
        rejected = {i for i, _ in report.rejected}
        for i, e in enumerate(events):
            if i in rejected:
                continue
            van = self.vans[e["vehicle_id"]]
            kind, ts = e["kind"], e["ts"]
            if kind == "departed":
                van.departed, van.anchor = True, (DEPOT, ts)
                van.loaded = {r["order_id"] for r in self.last_plan.get(van.id, []) if self.orders[r["order_id"]]["demand"]}
            elif kind == "arrived":
                van.at_stop, van.anchor = e["stop"], (self.place(e["stop"]), ts)
            elif kind in ("served", "failed"):
                o = self.orders[e["stop"]]
                van.on_board += o["pickup"] if kind == "served" else o["demand"]
                van.at_stop, van.anchor = None, (self.place(e["stop"]), ts)
                self.fate[e["stop"]] = kind
            elif kind == "position":
                van.anchor = ((e["x"], e["y"]), ts)


def event(vehicle: str, ts: int, kind: str, stop: str | None = None, x: float | None = None, y: float | None = None) -> dict[str, Any]:
    return {"vehicle_id": vehicle, "ts": ts, "kind": kind, "stop": stop, "x": x, "y": y}


EVENT_SCHEMA = pa.schema([("vehicle_id", pa.string()), ("ts", pa.int64()), ("kind", pa.string()), ("stop", pa.string()),
                          ("x", pa.float64()), ("y", pa.float64())])
ORDER_SCHEMA = pa.schema([("order_id", pa.string()), ("x", pa.int64()), ("y", pa.int64()), ("demand", pa.int64()),
                          ("pickup", pa.int64()), ("service", pa.int64()), ("tw_start", pa.int64()), ("tw_end", pa.int64()),
                          ("release", pa.int64())])


def by_vehicle(plan: pa.Table) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in plan.to_pylist():
        out.setdefault(row["vehicle"], []).append(row)
    for rows in out.values():
        assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)), rows
    return out


def check(world: World, d: fs.routing.Dispatcher, step: str, time_moved: bool) -> None:
    """Asserts the published plan is what the world allows, recomputing every stop."""
    d.check()
    plan = d.plan()
    rows = by_vehicle(plan)
    now = world.now
    assert d.now == now, (d.now, now)
    # Every order exactly once: in the plan, or in its final or waiting state.
    orders = {r["order_id"]: r for r in d.orders().to_pylist()}
    accepted = {oid for oid in world.orders if world.fate.get(oid) != "rejected"}
    assert set(orders) == accepted, (set(orders) ^ accepted)
    planned = [r["order_id"] for r in plan.to_pylist()]
    assert len(planned) == len(set(planned)), "an order is planned twice"
    for oid, o in orders.items():
        expected = world.fate.get(oid)
        if expected in ("served", "failed", "cancelled"):
            assert o["status"] == expected, (oid, o, expected)
        else:
            assert o["status"] in ("planned", "unassigned"), (oid, o)
        assert (o["status"] == "planned") == (oid in planned), (oid, o)
        if o["status"] == "unassigned":
            assert o["reason"], (oid, o)
    for van in world.vans.values():
        route = rows.get(van.id, [])
        if van.at_stop is not None and van.at_stop not in world.fate and (not route or route[0]["order_id"] != van.at_stop):
            # the pickup it stands at no longer fits (a delivery stayed on board): it leaves now
            assert world.orders[van.at_stop]["pickup"] and step in ("cancel", "events"), (step, van)
            van.at_stop, van.anchor = None, (world.place(van.at_stop), now)
        check_route(world, van, route, now)
        # frozen stops stay, in order, ahead of the rest, until served, failed or cancelled; or, a
        # pickup, when a cancelled or failed delivery staying on board leaves no room for it
        displaced = {oid for oid in planned_before(world, van.id) if world.orders[oid]["pickup"] and step in ("cancel", "events")
                     and oid not in {r["order_id"] for r in route}}
        before = [r["order_id"] for r in world.last_plan.get(van.id, [])
                  if r["frozen"] and r["order_id"] not in world.fate and r["order_id"] not in displaced]
        assert [r["order_id"] for r in route[:len(before)]] == before, (step, van.id, before, route)
        assert all(r["frozen"] for r in route[:len(before)])
        if van.departed and route:
            assert route[0]["frozen"], (van.id, route)
            for r in route:
                if r["eta"] < now + world.freeze:
                    assert r["frozen"], (van.id, r)
            extra = {r["order_id"] for r in route if world.orders[r["order_id"]]["demand"]} - van.loaded
            assert not extra, f"{van.id} left the depot, yet got deliveries {extra}"
        # a stop turns late only when time passes or a van reports (a cancelled stop may shift
        # the next by one: rounded Euclidean distances can break the triangle inequality by 1)
        if not time_moved:
            was_late = {r["order_id"] for r in world.last_plan.get(van.id, []) if r["late"]}
            slack = 1 if step == "cancel" else 0
            new_late = {r["order_id"] for r in route if r["late"] and r["eta"] - world.window(r["order_id"])[1] > slack} - was_late
            assert not new_late, f"{step} made {new_late} late"
    world.last_plan = rows


def planned_before(world: World, vehicle: str) -> list[str]:
    return [r["order_id"] for r in world.last_plan.get(vehicle, [])]


def check_route(world: World, van: Van, route: list[dict[str, Any]], now: int) -> None:
    if not route:
        return
    prev = DEPOT
    for i, r in enumerate(route):
        oid = r["order_id"]
        o = world.orders[oid]
        lo, hi = world.window(oid)
        here = world.place(oid)
        if i == 0:
            if van.at_stop is not None:
                assert oid == van.at_stop and r["eta"] == van.anchor[1], (van, r)
            elif van.departed:
                place, since = van.anchor
                assert r["eta"] == max(since + dist(place, here), now), (van, r, now)
            else:
                leave = r["eta"] - dist(DEPOT, here)
                # a release binds orders whose goods come from the depot
                release = max([world.orders[x["order_id"]]["release"] or 0 for x in route if world.orders[x["order_id"]]["demand"]] + [0])
                assert leave >= max(now, van.shift[0], release), (van.id, r, now, release)
        else:
            assert r["eta"] == route[i - 1]["departure"] + dist(prev, here), (van.id, i, r, route[i - 1])
        late = r["eta"] > hi
        assert r["late"] == late, (van.id, r, (lo, hi))
        assert r["start"] == (r["eta"] if late else max(r["eta"], lo)), r
        departure = r["start"] + o["service"]
        if i == 0 and van.at_stop is not None:
            departure = max(departure, now)
        assert r["departure"] == departure, (r, departure)
        prev = here
    # load on leaving each stop, from a start load that carries every remaining delivery
    first = route[0]
    start_load = first["load"] + world.orders[first["order_id"]]["demand"] - world.orders[first["order_id"]]["pickup"]
    deliveries = sum(world.orders[r["order_id"]]["demand"] for r in route)
    assert start_load >= deliveries + (van.on_board if van.departed else 0), (van.id, start_load, deliveries, van.on_board)
    load = start_load
    assert load <= van.capacity, (van.id, "over capacity leaving", load)
    for r in route:
        o = world.orders[r["order_id"]]
        load += o["pickup"] - o["demand"]
        assert r["load"] == load and load <= van.capacity, (van.id, r, load, van.capacity)
