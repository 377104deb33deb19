"""The solver against a brute-force optimum on tiny instances, and an independent checker on random
instances (hypothesis)."""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleetstream as fs

from .checker import brute_force, build, check


def random_spec(rng: random.Random, n: int, *, tw: bool = True, pickups: bool = False, optional: bool = False,
                vehicles: int | None = None) -> dict:
    clients = []
    for _ in range(n):
        c: dict = {"x": rng.randint(0, 50), "y": rng.randint(0, 50), "demand": [rng.randint(1, 6)],
                   "service": rng.randint(0, 5)}
        if pickups and rng.random() < 0.4:
            c["pickup"] = [rng.randint(1, 5)]
        if tw:
            open_ = rng.randint(0, 150)
            c["tws"] = [(open_, open_ + rng.randint(20, 120))]
            if rng.random() < 0.2:
                c["tws"].append((open_ + 200, open_ + 260))
        if optional and rng.random() < 0.4:
            c["required"] = False
            c["prize"] = rng.randint(0, 60)
        clients.append(c)
    return {"depot": (25, 25), "clients": clients,
            "vehicles": [{"count": vehicles or n, "capacity": [12], "shift": (0, 600)}]}


def test_finds_the_brute_force_optimum_on_tiny_instances() -> None:
    rng = random.Random(4)
    for k in range(12):
        spec = random_spec(rng, 5 + k % 2, pickups=k % 3 == 0, optional=k % 4 == 1)
        optimum = brute_force(spec)
        result = fs.routing.solve(build(spec), max_iterations=300, seed=k)
        if math.isinf(optimum):
            assert not result.feasible
            continue
        assert check(spec, result) == optimum, (k, result.routes)


def test_heterogeneous_fleet_with_skills_and_fixed_costs() -> None:
    spec = {
        "depot": (0, 0),
        "clients": [{"x": 10, "y": 0, "demand": [3], "skills": ["cold"]}, {"x": -10, "y": 0, "demand": [3]},
                    {"x": 0, "y": 10, "demand": [3]}],
        "vehicles": [{"count": 2, "capacity": [10], "fixed_cost": 100},
                     {"count": 1, "capacity": [10], "fixed_cost": 5, "skills": ["cold"], "max_distance": 45}],
    }
    result = fs.routing.solve(build(spec), max_iterations=200)
    check(spec, result)
    assert result.feasible
    cold = [p for p in result.plans if 0 in p.clients]
    assert cold and cold[0].vehicle_type == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(0, 14), pickups=st.booleans(), optional=st.booleans(),
       fleet=st.integers(1, 4))
def test_every_result_passes_the_independent_checker(seed: int, n: int, pickups: bool, optional: bool, fleet: int) -> None:
    spec = random_spec(random.Random(seed), n, pickups=pickups, optional=optional, vehicles=fleet)
    try:
        model = build(spec)
        result = fs.routing.solve(model, max_iterations=60, seed=seed)
    except fs.InfeasibleProblemError:
        return  # a client no vehicle can reach (checked separately)
    check(spec, result)


def test_same_seed_same_result_and_threads() -> None:
    spec = random_spec(random.Random(1), 30, vehicles=8)
    a = fs.routing.solve(build(spec), max_iterations=100, seed=7, threads=2)
    b = fs.routing.solve(build(spec), max_iterations=100, seed=7, threads=2)
    assert a.routes == b.routes and a.cost == b.cost
    check(spec, a)
