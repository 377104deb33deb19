"""The live dispatcher: hand-computed cases, then random days driven by a simulated fleet and
checked after every step by the independent reference in dispatch_world.py."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleetstream as fs

from .dispatch_world import EVENT_SCHEMA, ORDER_SCHEMA, World, check, event


def line_model(vans: int = 2, capacity: int = 10) -> fs.routing.Model:
    m = fs.routing.Model()
    hub = m.add_depot(x=0, y=0)
    m.add_vehicle_type(count=vans, capacity=[capacity], start=hub, shift=(0, 1000), name="van")
    return m


def test_orders_are_placed_at_their_cheapest_feasible_place_or_wait_with_the_reason() -> None:
    d = fs.routing.Dispatcher(line_model(), freeze=0)
    out = d.add_orders({"order_id": ["a", "b"], "x": [10, 20], "y": [0, 0], "demand": [3, 3], "tw_end": [100, None]}, now=0)
    assert out.column("status").to_pylist() == ["planned", "planned"]
    # b after a adds 20 to van-1's 20; alone on van-2 it would cost 40
    plan = d.plan()
    assert plan.select(["vehicle", "order_id", "eta", "load"]).to_pylist() == [
        {"vehicle": "van-1", "order_id": "a", "eta": 10.0, "load": 3},
        {"vehicle": "van-1", "order_id": "b", "eta": 20.0, "load": 0}]
    out = d.add_orders({"order_id": ["c", "d", "a", "e"], "x": [-10, 5, 1, None], "y": [0, 0, 0, None],
                        "demand": [1, 11, 1, 1], "tw_end": [5, None, None, None]}, now=0).to_pylist()
    assert out[0]["status"] == "unassigned" and "window closes at 5 (earliest arrival 10)" in out[0]["reason"]
    assert out[1]["status"] == "unassigned" and "exceeds the capacity of 2 vans" in out[1]["reason"]
    assert out[2] == {"order_id": "a", "status": "rejected", "vehicle": None, "reason": 'order "a" already exists (planned)'}
    assert out[3]["status"] == "rejected" and "no place" in out[3]["reason"]
    fates = d.fates().to_pylist()
    assert [(f["order_id"], f["status"]) for f in fates] == [
        ("a", "planned"), ("b", "planned"), ("c", "unassigned"), ("d", "unassigned"), ("a", "rejected"), ("e", "rejected")]
    with pytest.raises(fs.SchemaError, match='unknown column "colour"'):
        d.add_orders({"order_id": ["z"], "x": [1], "y": [1], "colour": ["red"]}, now=0)
    with pytest.raises(fs.ConfigError, match="expected a number"):
        d.add_orders({"order_id": ["z"], "x": [1], "y": [1]}, now="10:00")


def test_cancel_and_vehicle_reports_follow_the_day() -> None:
    d = fs.routing.Dispatcher(line_model(vans=1), freeze=0, replan_iterations=50)
    d.add_orders({"order_id": ["a", "b", "c"], "x": [10, 20, 30], "y": [0, 0, 0], "demand": [1, 1, 1],
                  "tw_end": [12, 30, None]}, now=0)
    r = d.vehicle_event({"vehicle_id": ["van"], "ts": [0], "kind": ["departed"]}, now=0)
    assert (r.applied, r.rejected, r.late) == (1, [], [])
    out = d.cancel(["c", "zzz"], now=1).to_pylist()
    assert [o["status"] for o in out] == ["cancelled", "rejected"]
    # Stuck at x=5 at time 20: a is reached at 25 > 12 (late since 10: it was overdue), b at 35 > 30.
    r = d.vehicle_event(pa.table({"vehicle_id": ["van", "ghost"], "ts": [20, 20], "kind": ["position", "departed"],
                                  "x": [5.0, None], "y": [0.0, None]}), now=20)
    assert r.applied == 1 and [i for i, _ in r.rejected] == [1] and "unknown vehicle" in r.rejected[0][1]
    assert r.late == ["b"] and r.replanned
    plan = d.plan().to_pylist()
    assert [(p["order_id"], p["eta"], p["late"], p["frozen"]) for p in plan] == [("a", 25.0, True, True), ("b", 35.0, True, False)]
    r = d.vehicle_event({"vehicle_id": ["van", "van"], "ts": [25, 26], "kind": ["arrived", "served"], "stop": ["a", "a"]}, now=26)
    assert r.applied == 2
    assert d.orders().select(["order_id", "status", "at"]).to_pylist() == [
        {"order_id": "a", "status": "served", "at": 26.0}, {"order_id": "b", "status": "planned", "at": None},
        {"order_id": "c", "status": "cancelled", "at": 1.0}]
    assert d.stats["served"] == 1 and d.stats["cancelled"] == 1


def test_lat_lon_days_read_clock_times_and_timestamps() -> None:
    m = fs.routing.Model()
    hub = m.add_depot(lat=52.52, lon=13.40)
    m.add_vehicle_type(count=1, capacity=[10], start=hub, shift=("08:00", "18:00"), name="van7", speed_kmh=30)
    d = fs.routing.Dispatcher(m, freeze="15m", origin="2026-12-03")
    out = d.add_orders(pa.table({"order_id": ["o1"], "lat": [52.53], "lon": [13.41], "demand": [2], "service": ["5m"],
                                 "tw_start": pa.array(["2026-12-03T09:00:00Z"]).cast(pa.timestamp("s", tz="UTC")),
                                 "tw_end": ["10:00"]}), now="07:30")
    assert out.column("status").to_pylist() == ["planned"]
    row = d.plan().to_pylist()[0]
    # 1,303 m at 30 km/h is 156 s: leave at 08:57:24, arrive at 09:00, serve 5 minutes
    assert row["eta"].isoformat() == "2026-12-03T09:00:00+00:00" and row["departure"].isoformat() == "2026-12-03T09:05:00+00:00"
    assert d.vehicles().column("status").to_pylist() == ["at_depot"]
    d.improve(now="08:50", iterations=10)
    assert d.vehicles().column("status").to_pylist() == ["loading"]  # it leaves within 15 minutes


def test_snapshot_restores_and_a_corrupt_one_is_a_typed_error() -> None:
    d = fs.routing.Dispatcher(line_model(), freeze=5)
    d.add_orders({"order_id": ["a"], "x": [3], "y": [4], "demand": [1]}, now=0)
    e = fs.routing.Dispatcher.restore(d.snapshot())
    assert e.plan().equals(d.plan()) and e.snapshot() == d.snapshot()
    with pytest.raises(fs.SnapshotError):
        fs.routing.Dispatcher.restore(d.snapshot()[:-2])
    with pytest.raises(fs.ConfigError, match="at least one depot"):
        fs.routing.Dispatcher(fs.routing.Model())


def run_day(seed: int, steps: int, snapshot_every: int | None = None) -> tuple[list[Any], list[Any]]:
    """A random day: each step moves the clock, the fleet reports what it did (following the
    published plan), orders arrive, some are cancelled, and the dispatcher re-plans now and then.
    Every published plan is checked by the reference; returns the plans and the log of inputs."""
    rng = random.Random(seed)
    world = World(**World.spec(rng))
    d = fs.routing.Dispatcher(world.model(), freeze=world.freeze, stability=rng.choice([0.0, 5.0]), seed=seed,
                              replan_iterations=20, buffer=rng.choice([0, 10]))
    twin = fs.routing.Dispatcher.restore(d.snapshot()) if snapshot_every else None
    plans: list[Any] = []
    log: list[Any] = []

    def step(name: str, moved: bool, call: Any, update: Any = None) -> Any:
        result = call(d)
        if twin is not None:
            twin_result = call(twin)
            if isinstance(result, fs.routing.ImproveReport):  # all but the wall-clock time
                twin_result, result = (dataclasses.replace(r, runtime=0.0) for r in (twin_result, result))
            assert repr(twin_result) == repr(result), (name, twin_result, result)
        if update is not None:
            update(result)
        log.append(name)
        check(world, d, name, moved)
        plans.append(d.plan())
        if twin is not None:
            assert twin.plan().equals(plans[-1]), f"restored dispatcher differs after {name}"
        return result

    for k in range(steps):
        until = world.now + rng.randint(1, 25)
        events = world.drive(rng, d.plan(), until)
        world.now = until
        moved = True
        if events:
            if rng.random() < 0.1:  # a report that does not fit: rejected, changes nothing
                events.append(event("ghost", until, "departed"))
            table = pa.Table.from_pylist(events, schema=EVENT_SCHEMA)
            report = step("events", True, lambda x: x.vehicle_event(table, now=until), lambda r: world.apply(events, r))
            assert all(events[i]["vehicle_id"] == "ghost" for i, _ in report.rejected), report.rejected
            moved = False
        rows = world.new_orders(rng, rng.choice([0, 0, 1, 2, 3]), until)
        for row in rows:
            world.orders[row["order_id"]] = row
        if rows:
            out = step("orders", moved, lambda x: x.add_orders(pa.Table.from_pylist(rows, schema=ORDER_SCHEMA), now=until))
            assert set(out.column("status").to_pylist()) <= {"planned", "unassigned"}
            moved = False
        open_ids = [o for o in world.orders if o not in world.fate]
        if open_ids and rng.random() < 0.1:
            victim = rng.choice(open_ids)
            out = step("cancel", moved, lambda x: x.cancel([victim], now=until),
                       lambda _: world.cancel(victim)).to_pylist()
            assert out[0]["status"] == "cancelled", out
            moved = False
        if rng.random() < 0.3:
            iterations = rng.choice([10, 40])
            step("improve", moved, lambda x: x.improve(now=until, iterations=iterations))
        if twin is not None and snapshot_every and k % snapshot_every == snapshot_every - 1:
            twin = fs.routing.Dispatcher.restore(twin.snapshot())
    return plans, log


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_random_days_keep_every_promise_the_reference_checks(seed: int) -> None:
    plans, _ = run_day(seed, steps=40)
    assert plans


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), every=st.integers(1, 7))
def test_snapshot_and_restore_at_random_points_change_nothing(seed: int, every: int) -> None:
    run_day(seed, steps=30, snapshot_every=every)


def test_replaying_the_same_inputs_gives_the_same_plans() -> None:
    first, log = run_day(77, steps=40)
    second, log2 = run_day(77, steps=40)
    assert log == log2 and len(first) == len(second)
    assert all(a.equals(b) for a, b in zip(first, second))
