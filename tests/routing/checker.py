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
