"""The EURO Meets NeurIPS solver program (benches/euro_neurips_solver.py) on tiny generated epochs,
without the competition's harness or instances: every route it sends is feasible by an independent
checker (capacity, time windows, release times, timed as the harness times them), lazy sends exactly
the must-go requests, greedy all of them, the fleetstream policy at least the must-go ones, and the
protocol loop plays a day to its end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))
import euro_neurips_solver as solver  # noqa: E402

ITERATIONS = solver.Budget(iterations=40)


def static_instance(rng: np.random.Generator, customers: int = 30) -> dict[str, np.ndarray]:
    """A small static instance shaped like an ORTEC one: asymmetric durations, a working day in seconds."""
    coords = rng.integers(0, 2000, size=(customers + 1, 2))
    coords[0] = (1000, 1000)
    distance = np.hypot(*(coords[:, None, :] - coords[None, :, :]).transpose(2, 0, 1))
    # asymmetric: driving one way takes a little longer than the other
    duration = np.rint(distance * (1 + 0.1 * rng.random((customers + 1, customers + 1)))).astype(int)
    np.fill_diagonal(duration, 0)
    opens = rng.integers(3 * 3600, 9 * 3600, size=customers + 1)
    windows = np.stack([opens, opens + rng.integers(3600, 3 * 3600, size=customers + 1)], axis=1)
    windows[0] = (0, 12 * 3600)
    service = rng.integers(300, 900, size=customers + 1)
    service[0] = 0
    demands = rng.integers(1, 10, size=customers + 1)
    demands[0] = 0
    return {"coords": coords, "duration_matrix": duration, "time_windows": windows, "service_times": service,
            "demands": demands, "capacity": np.array(25), "is_depot": np.arange(customers + 1) == 0}


def epoch_observation(static: dict[str, np.ndarray], rng: np.random.Generator, epoch: int, requests: int,
                      first_request: int = 1) -> dict[str, Any]:
    """An epoch as the environment gives it: open requests, times relative to the planning start."""
    planning_start = epoch * solver.EPOCH_SECONDS + solver.DISPATCH_MARGIN
    customer = np.concatenate([[0], rng.choice(np.arange(1, len(static["demands"])), size=requests, replace=False)])
    windows = np.clip(static["time_windows"][customer] - planning_start, 0, None)
    # keep every request servable from the planning start, as the environment does
    reach = static["duration_matrix"][0, customer]
    windows[:, 1] = np.maximum(windows[:, 1], reach + 60)
    windows[0] = (0, static["time_windows"][0][1] - planning_start)
    must = rng.random(requests + 1) < 0.4
    must[0] = False
    return {"current_epoch": epoch, "current_time": epoch * solver.EPOCH_SECONDS, "planning_starttime": planning_start,
            "epoch_instance": {
                "is_depot": customer == 0, "customer_idx": customer,
                "request_idx": np.concatenate([[0], np.arange(first_request, first_request + requests)]),
                "coords": static["coords"][customer], "demands": static["demands"][customer],
                "capacity": static["capacity"], "time_windows": windows,
                "service_times": static["service_times"][customer],
                "duration_matrix": static["duration_matrix"][np.ix_(customer, customer)], "must_dispatch": must}}


def route_is_feasible(route: list[int], duration: np.ndarray, demands: np.ndarray, capacity: int, windows: np.ndarray,
                      service: np.ndarray, release: np.ndarray | None = None) -> bool:
    """The harness's rule, written out again: leave at the depot's opening (or the latest release),
    wait for a window to open, arrive before it closes, be back before the depot closes."""
    if sum(demands[n] for n in route) > capacity:
        return False
    clock = windows[0][0] + service[0]
    if release is not None:
        clock = max([clock] + [release[n] + service[0] for n in route])
    here = 0
    for stop in route:
        clock = max(clock + duration[here][stop], windows[stop][0])
        if clock > windows[stop][1]:
            return False
        clock += service[stop]
        here = stop
    return bool(clock + duration[here][0] <= windows[0][1])


def check_epoch(observation: dict[str, Any], routes: list[list[int]]) -> set[int]:
    """Asserts every route feasible and no request sent twice; returns the requests sent."""
    instance = observation["epoch_instance"]
    node_of = {int(r): n for n, r in enumerate(instance["request_idx"])}
    sent = [r for route in routes for r in route]
    assert len(sent) == len(set(sent)), "a request is sent twice"
    assert all(r in node_of and r != 0 for r in sent), "a route holds a request that is not open"
    for route in routes:
        nodes = [node_of[r] for r in route]
        assert route_is_feasible(nodes, instance["duration_matrix"], instance["demands"], int(instance["capacity"]),
                                 instance["time_windows"], instance["service_times"]), f"infeasible route {route}"
    return set(sent)


def day_info(static: dict[str, np.ndarray], end_epoch: int) -> dict[str, Any]:
    return {"dynamic_context": static, "is_static": False, "start_epoch": 0, "end_epoch": end_epoch, "epoch_tlim": 5}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_strategy_sends_feasible_routes_and_the_requests_it_should(seed: int) -> None:
    rng = np.random.default_rng(seed)
    static = static_instance(rng)
    observation = epoch_observation(static, rng, epoch=1, requests=14)
    instance = observation["epoch_instance"]
    must = {int(r) for r, m in zip(instance["request_idx"], instance["must_dispatch"]) if m}
    every = {int(r) for r in instance["request_idx"][1:]}
    info = day_info(static, end_epoch=4)
    sent = {s: check_epoch(observation, solver.plan_epoch(observation, info, s, ITERATIONS, seed=1))
            for s in solver.STRATEGIES}
    assert sent["lazy"] == must
    assert sent["greedy"] == every
    assert must <= sent["fleetstream"] <= every


def test_the_fleetstream_policy_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(5)
    static = static_instance(rng)
    observation = epoch_observation(static, rng, epoch=1, requests=14)
    info = day_info(static, end_epoch=4)
    first = solver.plan_epoch(observation, info, "fleetstream", ITERATIONS, seed=3)
    again = solver.plan_epoch(observation, info, "fleetstream", ITERATIONS, seed=3)
    assert first == again


def test_the_last_epoch_sends_everything_under_every_strategy() -> None:
    rng = np.random.default_rng(7)
    static = static_instance(rng)
    observation = epoch_observation(static, rng, epoch=4, requests=10)
    observation["epoch_instance"]["must_dispatch"][1:] = True
    for strategy in solver.STRATEGIES:
        routes = solver.plan_epoch(observation, day_info(static, end_epoch=4), strategy, ITERATIONS, seed=1)
        assert check_epoch(observation, routes) == set(range(1, 11))


def test_the_hindsight_solve_serves_the_day_within_release_times() -> None:
    rng = np.random.default_rng(11)
    static = static_instance(rng, customers=20)
    nodes = np.arange(21)
    release = np.concatenate([[0], rng.integers(1, 4, size=20) * solver.EPOCH_SECONDS + solver.DISPATCH_MARGIN])
    problem = {**{k: static[k][nodes] for k in ("coords", "demands", "time_windows", "service_times")},
               "duration_matrix": static["duration_matrix"], "capacity": static["capacity"], "release_times": release}
    # every request servable alone after its release, as the environment's requests are
    reach = release + static["duration_matrix"][0]
    problem["time_windows"] = problem["time_windows"].copy()
    problem["time_windows"][1:, 1] = np.maximum(problem["time_windows"][1:, 1], reach[1:] + 60)
    cost, routes = solver.solve_hindsight(problem, ITERATIONS, seed=1)
    assert sorted(n for r in routes for n in r) == list(range(1, 21))
    for route in routes:
        assert route_is_feasible(route, problem["duration_matrix"], problem["demands"], int(problem["capacity"]),
                                 problem["time_windows"], problem["service_times"], release)
    assert cost == solver.driving_duration(routes, problem["duration_matrix"])


class ScriptedController:
    """Stands in for controller.py: two epochs; checks what it gets and answers as the protocol does."""

    def __init__(self) -> None:
        rng = np.random.default_rng(13)
        self.static = static_instance(rng)
        self.epochs = [epoch_observation(self.static, rng, epoch=1, requests=8),
                       epoch_observation(self.static, rng, epoch=2, requests=8, first_request=9)]
        self.epochs[1]["epoch_instance"]["must_dispatch"][1:] = True
        self.steps: list[set[int]] = []

    @staticmethod
    def wire(value: Any) -> Any:
        """As JSON carries it: lists, not arrays."""
        if isinstance(value, dict):
            return {k: ScriptedController.wire(v) for k, v in value.items()}
        return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value

    def request(self, action: str, data: Any = None) -> dict[str, Any]:
        answer: dict[str, Any]
        if action == "reset":
            answer = self.wire({"observation": self.epochs[0], "info": day_info(self.static, end_epoch=2)})
            return answer
        assert action == "step"
        observation = self.epochs[len(self.steps)]
        self.steps.append(check_epoch(observation, data))
        instance = observation["epoch_instance"]
        node_of = {int(r): n for n, r in enumerate(instance["request_idx"])}
        cost = solver.driving_duration([[node_of[r] for r in route] for route in data], instance["duration_matrix"])
        done = len(self.steps) == len(self.epochs)
        answer = self.wire({"observation": None if done else self.epochs[len(self.steps)], "reward": -cost, "done": done,
                          "info": {"error": None}})
        return answer


def test_the_protocol_loop_plays_a_day_to_its_end() -> None:
    controller = ScriptedController()
    total = solver.run(controller, "fleetstream", seed=1, settings=solver.PolicySettings(), margin=1.0, iterations=40)
    assert len(controller.steps) == 2
    assert controller.steps[1] == set(range(9, 17))
    assert total > 0
