"""An independent reference for routing results: instances as plain dicts, a brute-force optimum,
and a feasibility/cost checker that recomputes everything from the spec (no solver code)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import fleetstream as fs

Spec = dict[str, Any]
BIG = 1 << 50


def dist(a: tuple[float, float], b: tuple[float, float]) -> int:
    return int(round(math.hypot(a[0] - b[0], a[1] - b[1])))


def build(spec: Spec) -> fs.routing.Model:
    m = fs.routing.Model()
    depot = m.add_depot(x=spec["depot"][0], y=spec["depot"][1])
    for v in spec["vehicles"]:
        m.add_vehicle_type(count=v["count"], capacity=v["capacity"], start=depot, shift=v.get("shift"),
                           max_duration=v.get("max_duration"), max_distance=v.get("max_distance"),
                           fixed_cost=v.get("fixed_cost", 0), skills=v.get("skills", ()))
    for c in spec["clients"]:
        m.add_client(x=c["x"], y=c["y"], demand=c.get("demand"), pickup=c.get("pickup"), service=c.get("service", 0),
                     time_windows=c.get("tws"), required=c.get("required", True), prize=c.get("prize", 0),
                     skills=c.get("skills", ()))
    return m


def route_check(spec: Spec, vt: int, clients: list[int]) -> tuple[bool, float]:
    """(feasible, cost) of one route, scheduling as early as possible (which is feasible whenever
    any schedule is, except for max_duration, checked with the latest start that keeps it feasible)."""
    v = spec["vehicles"][vt]
    pts = [tuple(spec["depot"])] + [(spec["clients"][c]["x"], spec["clients"][c]["y"]) for c in clients] + [tuple(spec["depot"])]
    d = sum(dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))
    cost = v.get("fixed_cost", 0) + d
    ok = True
    caps = v["capacity"]
    dims = len(caps)
    vec = lambda c, k: (spec["clients"][c].get(k) or [0] * dims) + [0] * dims  # noqa: E731
    load = [sum(vec(c, "demand")[i] for c in clients) for i in range(dims)]
    ok &= all(load[i] <= caps[i] for i in range(dims))
    for c in clients:
        load = [load[i] - vec(c, "demand")[i] + vec(c, "pickup")[i] for i in range(dims)]
        ok &= all(load[i] <= caps[i] for i in range(dims))
    skills = set(v.get("skills", ()))
    ok &= all(set(spec["clients"][c].get("skills", ())) <= skills for c in clients)
    if v.get("max_distance") is not None:
        ok &= d <= v["max_distance"]
    shift = v.get("shift") or (0, BIG)

    def simulate(start: int) -> tuple[bool, int]:
        t, prev, good = start, pts[0], True
        for c, p in zip(clients, pts[1:-1]):
            t += dist(prev, p)
            tws = spec["clients"][c].get("tws") or [(0, BIG)]
            nxt = [w for w in sorted(tws) if w[1] >= t]
            if not nxt:
                return False, 0
            t = max(t, nxt[0][0]) + spec["clients"][c].get("service", 0)
            prev = p
        t += dist(prev, pts[-1])
        good &= t <= shift[1]
        return good, t - start

    feasible_tw, _ = simulate(shift[0])
    ok &= feasible_tw
    if ok and v.get("max_duration") is not None:
        ok &= any(simulate(s)[0] and simulate(s)[1] <= v["max_duration"] for s in range(shift[0], min(shift[1], 2000) + 1))
    return ok, cost


def check(spec: Spec, result: fs.routing.Result) -> float:
    """Asserts the result is what it claims (feasible routes, correct cost); returns the cost."""
    counts = [0] * len(spec["vehicles"])
    seen: list[int] = []
    total = 0.0
    feasible = True
    for plan in result.plans:
        counts[plan.vehicle_type] += 1
        seen.extend(plan.clients)
        ok, cost = route_check(spec, plan.vehicle_type, plan.clients)
        feasible &= ok
        total += cost
        # the reported schedule is consistent with travel times, windows and service
        t_prev, prev = plan.start_time, tuple(spec["depot"])
        for s, c in enumerate(plan.clients):
            cl = spec["clients"][c]
            here = (cl["x"], cl["y"])
            assert plan.arrival[s] == t_prev + dist(prev, here)
            if ok:
                assert any(w[0] <= plan.start[s] <= w[1] for w in (cl.get("tws") or [(0, BIG)]))
                assert plan.start[s] >= plan.arrival[s]
            assert plan.departure[s] == plan.start[s] + cl.get("service", 0)
            t_prev, prev = plan.departure[s], here
    assert len(seen) == len(set(seen)), "a client is visited twice"
    feasible &= all(counts[t] <= v["count"] for t, v in enumerate(spec["vehicles"]))
    for i, c in enumerate(spec["clients"]):
        if i not in seen:
            if c.get("required", True):
                feasible = False
            else:
                total += c.get("prize", 0)
    assert result.feasible == feasible, (result.feasible, feasible, result.routes)
    assert result.feasible == (not result.violations), result.violations
    assert math.isclose(result.cost, total, abs_tol=1e-6), (result.cost, total)
    return total


def brute_force(spec: Spec) -> float:
    """Optimal cost over every ordering and split into routes of vehicle type 0 (and every subset of
    optional clients); math.inf when nothing is feasible."""
    n = len(spec["clients"])
    best = math.inf
    optional = [i for i, c in enumerate(spec["clients"]) if not c.get("required", True)]
    for drop_mask in range(1 << len(optional)):
        dropped = {optional[b] for b in range(len(optional)) if drop_mask >> b & 1}
        visit = [i for i in range(n) if i not in dropped]
        penalty = sum(spec["clients"][i].get("prize", 0) for i in dropped)
        if not visit:
            best = min(best, penalty)
            continue
        for perm in itertools.permutations(visit):
            for cuts in range(1 << (len(perm) - 1)):
                routes, cur = [], [perm[0]]
                for b in range(len(perm) - 1):
                    if cuts >> b & 1:
                        routes.append(cur)
                        cur = []
                    cur.append(perm[b + 1])
                routes.append(cur)
                if len(routes) > spec["vehicles"][0]["count"]:
                    continue
                total = penalty
                for r in routes:
                    ok, cost = route_check(spec, 0, r)
                    if not ok:
                        break
                    total += cost
                else:
                    best = min(best, total)
    return best


# -- a running day re-planned by insert() ---------------------------------------------------------

def _vec(client: dict[str, Any], key: str, dims: int) -> list[int]:
    return ((client.get(key) or []) + [0] * dims)[:dims]


def simulate_route(spec: Spec, vt: int, clients: list[int], start_time: int) -> dict[str, Any]:
    """A route driven from the depot leaving at ``start_time``, from the spec alone: each stop's
    (arrival, start, departure, load on leaving) up to the first stop reached after its last window
    closed, the end time, the distance, and the constraints it breaks."""
    v = spec["vehicles"][vt]
    caps = v["capacity"]
    dims = len(caps)
    depot = tuple(spec["depot"])
    shift = v.get("shift") or (0, BIG)
    broken: list[str] = []
    if start_time < shift[0]:
        broken.append(f"leaves at {start_time} before its shift starts at {shift[0]}")
    load = [sum(_vec(spec["clients"][c], "demand", dims)[d] for c in clients) for d in range(dims)]
    if any(load[d] > caps[d] for d in range(dims)):
        broken.append(f"leaves the depot with {load} over its capacity {caps}")
    pts = [depot] + [(spec["clients"][c]["x"], spec["clients"][c]["y"]) for c in clients] + [depot]
    distance = sum(dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1))
    if v.get("max_distance") is not None and distance > v["max_distance"]:
        broken.append(f"route is {distance} long, over {v['max_distance']}")
    t, prev = start_time, depot
    stops: list[tuple[int, int, int, list[int]]] = []
    late = False
    for c in clients:
        cl = spec["clients"][c]
        here = (cl["x"], cl["y"])
        arrival = t + dist(prev, here)
        windows = [w for w in sorted(cl.get("tws") or [(0, BIG)]) if w[1] >= arrival]
        if not windows:
            broken.append(f"client {c} reached at {arrival}, after its last window closed")
            late = True
            break
        start = max(arrival, windows[0][0])
        departure = start + cl.get("service", 0)
        load = [load[d] - _vec(cl, "demand", dims)[d] + _vec(cl, "pickup", dims)[d] for d in range(dims)]
        if any(load[d] > caps[d] for d in range(dims)):
            broken.append(f"load {load} over capacity {caps} after client {c}")
        stops.append((arrival, start, departure, load))
        t, prev = departure, here
    end = None
    if not late:
        end = t + dist(prev, depot)
        if end > shift[1]:
            broken.append(f"back at {end}, after its shift ends at {shift[1]}")
        if v.get("max_duration") is not None and end - start_time > v["max_duration"]:
            broken.append(f"route lasts {end - start_time}, over {v['max_duration']}")
    return {"stops": stops, "end": end, "distance": distance, "broken": broken, "late": late}


def fixed_count(plan: fs.routing.RoutePlan, now: int) -> int:
    """Stops reached or being driven to at ``now``: the vehicle left the previous stop (or the
    depot) at or before ``now``."""
    if plan.start_time > now:
        return 0
    n, left = 0, plan.start_time
    for s in range(len(plan.clients)):
        if left > now:
            break
        n, left = s + 1, plan.departure[s]
    return n


def check_insert(spec: Spec, before: fs.routing.Result, after: fs.routing.Result, now: int) -> None:
    """Asserts that ``after`` (``insert`` of the clients of ``spec`` beyond ``before``'s at time
    ``now``) is a drivable day, recomputing every stop from the spec: fixed prefixes unchanged,
    carried goods kept on their van and no depot goods on a van out, nothing before ``now`` but
    fixed stops, times following the drive, capacity at every point, windows, shift ends, counts,
    and that ``feasible``, ``cost``, ``missing`` and the reasons given agree."""
    dims = len(spec["vehicles"][0]["capacity"])
    delivers = lambda c: any(_vec(spec["clients"][c], "demand", dims))  # noqa: E731
    by_first = {p.clients[0]: p for p in after.plans if p.clients}
    out_of_type = [0] * len(spec["vehicles"])
    on_road_room: list[tuple[int, Any]] = []
    for old in before.plans:
        n = fixed_count(old, now)
        if n == 0:
            continue
        out_of_type[old.vehicle_type] += 1
        new = by_first.get(old.clients[0])
        assert new is not None, f"the route that started with client {old.clients[0]} is gone"
        assert (new.vehicle_type, new.start_time, new.fixed) == (old.vehicle_type, old.start_time, n)
        assert new.clients[:n] == old.clients[:n], "a fixed stop changed"
        for key in ("arrival", "start", "departure", "load"):
            assert getattr(new, key)[:n] == getattr(old, key)[:n], f"fixed {key} changed"
        if n == len(old.clients) and old.departure[-1] <= now:
            assert new.clients == old.clients, "a van driving back from its route got new stops"
            continue
        carried = {c for c in old.clients[n:] if delivers(c)}
        rest = new.clients[n:]
        assert carried <= set(rest), f"goods on board of a van were handed over: {carried - set(rest)}"
        assert all(c in carried for c in rest if delivers(c)), "a van on the road took goods from the depot"
        on_road_room.append((n, old))
    served: list[int] = []
    total = 0.0
    feasible = True
    counts = [0] * len(spec["vehicles"])
    for p in after.plans:
        counts[p.vehicle_type] += 1
        served.extend(p.clients)
        if p.fixed == 0:
            assert p.start_time >= now, f"a route leaves at {p.start_time}, before {now}"
        for s in range(p.fixed, len(p.clients)):
            assert p.arrival[s] >= now and p.start[s] >= now, f"client {p.clients[s]} served before {now}"
        sim = simulate_route(spec, p.vehicle_type, p.clients, p.start_time)
        for s, (arrival, start, departure, load) in enumerate(sim["stops"]):
            got = (p.arrival[s], p.start[s], p.departure[s], p.load[s])
            assert got == (arrival, start, departure, load), (p.clients[s], got, (arrival, start, departure, load))
        if sim["end"] is not None:
            assert p.end_time == sim["end"], (p.end_time, sim["end"])
        assert p.distance == sim["distance"]
        feasible &= not sim["broken"]
        total += spec["vehicles"][p.vehicle_type].get("fixed_cost", 0) + sim["distance"]
    assert len(served) == len(set(served)), "a client is visited twice"
    feasible &= all(counts[t] <= v["count"] for t, v in enumerate(spec["vehicles"]))
    missing = []
    for i, c in enumerate(spec["clients"]):
        if i not in served:
            if c.get("required", True):
                missing.append(i)
                feasible = False
            else:
                total += c.get("prize", 0)
    assert sorted(after.missing) == missing
    assert set(missing) <= set(after.reasons), f"missing without a reason: {set(missing) - set(after.reasons)}"
    for c, why in after.reasons.items():
        assert c not in served and why
        assert not _servable_alone(spec, c, now, out_of_type, on_road_room), f"client {c} was servable: {why}"
    assert after.feasible == feasible, (after.feasible, feasible, after.routes)
    assert after.feasible == (not after.violations), after.violations
    assert all(any(line.startswith(f"client {c} is not served") for line in after.violations) for c in missing)
    assert math.isclose(after.cost, total, abs_tol=1e-6), (after.cost, total)


def _servable_alone(spec: Spec, c: int, now: int, out_of_type: list[int], on_road: list[tuple[int, Any]]) -> bool:
    """Whether some free vehicle could serve client ``c`` on a trip of its own after ``now``: a van
    at the depot leaving at ``now`` or later, or (pickups only) a van on the road from its last
    fixed stop, with the room left after its own deliveries and earlier pickups."""
    cl = spec["clients"][c]
    dims = len(spec["vehicles"][0]["capacity"])
    depot = tuple(spec["depot"])
    here = (cl["x"], cl["y"])

    def trip(leave: int, start_at: tuple[float, float], shift_end: int) -> bool:
        arrival = leave + dist(start_at, here)
        windows = [w for w in sorted(cl.get("tws") or [(0, BIG)]) if w[1] >= arrival]
        if not windows:
            return False
        return max(arrival, windows[0][0]) + cl.get("service", 0) + dist(here, depot) <= shift_end

    for t, v in enumerate(spec["vehicles"]):
        shift = v.get("shift") or (0, BIG)
        need = [max(a, b) for a, b in zip(_vec(cl, "demand", dims), _vec(cl, "pickup", dims))]
        if v["count"] - out_of_type[t] > 0 and all(need[d] <= v["capacity"][d] for d in range(dims)):
            if trip(max(now, shift[0]), depot, shift[1]):
                return True
    if any(_vec(cl, "demand", dims)):
        return False
    for n, old in on_road:
        v = spec["vehicles"][old.vehicle_type]
        picked = [sum(_vec(spec["clients"][x], "pickup", dims)[d] for x in old.clients[:n]) for d in range(dims)]
        room = [v["capacity"][d] - picked[d] for d in range(dims)]
        last = spec["clients"][old.clients[n - 1]]
        if all(_vec(cl, "pickup", dims)[d] <= room[d] for d in range(dims)):
            if trip(old.departure[n - 1], (last["x"], last["y"]), (v.get("shift") or (0, BIG))[1]):
                return True
    return False
