"""A solver program for the EURO Meets NeurIPS 2022 dynamic VRPTW (issue 20, part 1), on fleetstream.routing.

    cd ../shared/tools/euro-neurips
    python controller.py --instance ../../data/ortec/<instance>.txt --epoch_tlim 5 -- \
        python /path/to/benches/euro_neurips_solver.py --strategy fleetstream

The controller (the competition's harness, not part of this project) talks JSON lines over our
stdin/stdout: ``reset`` gives the first epoch's observation and the static instance the requests are
sampled from; every ``step`` sends this epoch's routes (lists of request ids) and gets the next epoch.
Each epoch is a VRPTW over the open requests, times relative to the epoch's planning start, with an
unlimited fleet; ``must_dispatch`` requests are too late for the next epoch and must go now; the
others may wait. The day's cost is the total driving duration. Strategies decide which optional
requests go now; every epoch is then solved with ``fs.routing.solve`` within the epoch time limit:

* ``greedy``: dispatch every open request.
* ``lazy``: dispatch the must-go requests only.
* ``fleetstream``: sample a few scenarios of the next epochs' requests from the instance's own request
  distribution (the environment's documented sampling: customer, window, demand and service time drawn
  independently and uniformly from the static instance, 100 an epoch, those that cannot be served
  dropped), solve the open requests together with each scenario's future ones (future ones released
  at their epoch's dispatch time, so a route holding one leaves later), and dispatch an optional
  request now when, in most scenarios, it is on a route of open requests only: a route that would
  leave now. One routed with future requests in most scenarios waits for them. (``--criterion
  with_must_go`` dispatches instead only optional requests routed with a must-go one in most
  scenarios; ``--rounds 2`` re-samples with the requests the first round held back released an
  epoch later.)

``--hindsight`` instead solves the whole day at once (every request of the day known, each released
at its epoch's dispatch time): a bound on what any policy could reach, not a policy. It replays the
controller's own environment in-process to draw the same requests as a controller run with the same
``--instance-seed``.

Sampling is seeded (``--seed``, per epoch), so scenarios are the same on every run; the search itself
runs to a wall-clock limit (the epoch's), so its result depends on the machine's speed unless
``--iterations`` gives iteration budgets instead (deterministic, but then the epoch time limit is not
watched). Logs go to stderr: stdout belongs to the protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, TextIO

import numpy as np

import fleetstream as fs

# The environment's rules (environment.py): an epoch is an hour, a route leaves an hour after the
# epoch starts, and at most 100 requests are sampled per epoch before infeasible ones are dropped.
EPOCH_SECONDS = 3600
DISPATCH_MARGIN = 3600
REQUESTS_PER_EPOCH = 100
STRATEGIES = ("greedy", "lazy", "fleetstream")

Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class PolicySettings:
    """How the fleetstream strategy samples and decides (defaults chosen a priori, not tuned on instances)."""

    scenarios: int = 4
    rounds: int = 1
    #: "served_now": an optional request goes when, in most scenarios, its route holds no request
    #: released later; "with_must_go": when its route also serves a must-go request
    criterion: str = "served_now"
    lookahead_epochs: int = 3
    #: share of the epoch's solving time spent on the scenarios (the rest on the final epoch solve)
    scenario_share: float = 0.6
    #: "most scenarios": more than this share of them
    dispatch_share: float = 0.5


@dataclass(frozen=True)
class Budget:
    """Either a wall-clock deadline (time.monotonic) or a fixed iteration count per solve."""

    deadline: float | None = None
    iterations: int | None = None

    def stop(self, share_of_remaining: float = 1.0) -> dict[str, Any]:
        if self.iterations is not None:
            return {"max_iterations": self.iterations}
        assert self.deadline is not None
        remaining = max(self.deadline - time.monotonic(), 0.0)
        return {"time_limit": max(remaining * share_of_remaining, 0.05)}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- one VRPTW over given nodes ----------------------------------------------------------------------
def build_model(duration: np.ndarray, coords: np.ndarray, demands: np.ndarray, capacity: int,
                time_windows: np.ndarray, service_times: np.ndarray, release: np.ndarray | None = None) -> fs.routing.Model:
    """A model over nodes 0 (the depot) .. n, every client required, driving duration as the cost.

    The fleet is unlimited in the competition: one vehicle per client is as good as unlimited."""
    model = fs.routing.Model()
    depot = model.add_depot(x=float(coords[0][0]), y=float(coords[0][1]))
    clients = len(demands) - 1
    # the depot's service time delays every departure (tools.validate_route_time_windows)
    shift_start = int(time_windows[0][0]) + int(service_times[0])
    # cost_per_km=1000: matrix models count distance in metres, so a matrix entry costs exactly 1
    model.add_vehicle_type(count=max(clients, 1), capacity=[int(capacity)], start=depot,
                           shift=(shift_start, int(time_windows[0][1])), cost_per_km=1000.0, speed_kmh=None)
    for node in range(1, clients + 1):
        model.add_client(x=float(coords[node][0]), y=float(coords[node][1]), demand=[int(demands[node])],
                         service=int(service_times[node]),
                         time_windows=[(int(time_windows[node][0]), int(time_windows[node][1]))],
                         release=None if release is None else int(release[node]))
    model.set_matrices(duration, duration)
    return model


def route_problems(route: list[int], duration: np.ndarray, demands: np.ndarray, capacity: int, time_windows: np.ndarray,
                   service_times: np.ndarray, release: np.ndarray | None = None) -> list[str]:
    """What is wrong with one route over nodes (empty when it is feasible), timed as the harness does."""
    problems = []
    load = int(sum(int(demands[n]) for n in route))
    if load > capacity:
        problems.append(f"load {load} over capacity {capacity}")
    t = int(time_windows[0][0]) + int(service_times[0])
    if release is not None and route:
        t = max(t, int(max(release[n] for n in route)) + int(service_times[0]))
    previous = 0
    for node in route:
        t = max(t + int(duration[previous][node]), int(time_windows[node][0]))
        if t > time_windows[node][1]:
            problems.append(f"node {node} reached at {t}, after its window closes at {time_windows[node][1]}")
        t += int(service_times[node])
        previous = node
    t += int(duration[previous][0])
    if t > time_windows[0][1]:
        problems.append(f"back at the depot at {t}, after it closes at {time_windows[0][1]}")
    return problems


def driving_duration(routes: list[list[int]], duration: np.ndarray) -> int:
    return sum(int(duration[0][r[0]]) + sum(int(duration[a][b]) for a, b in zip(r, r[1:])) + int(duration[r[-1]][0])
               for r in routes if r)


def solve_routes(nodes: list[int], instance: Arrays, budget: Budget, seed: int, share: float = 1.0) -> list[list[int]]:
    """Routes (lists of epoch nodes) serving exactly ``nodes`` of the epoch instance, each checked feasible.

    A route the search returns infeasible (it should not: every open request can be served alone) is
    replaced by one route per request, which the environment guarantees to be feasible."""
    if not nodes:
        return []
    keep = [0] + sorted(nodes)
    sub = {key: instance[key][keep] for key in ("coords", "demands", "time_windows", "service_times")}
    duration = instance["duration_matrix"][np.ix_(keep, keep)]
    model = build_model(duration, sub["coords"], sub["demands"], int(instance["capacity"]), sub["time_windows"],
                        sub["service_times"])
    result = fs.routing.solve(model, seed=seed, **budget.stop(share))
    routes: list[list[int]] = []
    served: set[int] = set()
    for plan in result.plans:
        local = [c + 1 for c in plan.clients]
        if not local:
            continue
        if route_problems(local, duration, sub["demands"], int(instance["capacity"]), sub["time_windows"], sub["service_times"]):
            routes.extend([n] for n in local)
        else:
            routes.append(local)
        served.update(local)
    routes.extend([n] for n in range(1, len(keep)) if n not in served)
    return [[keep[n] for n in route] for route in routes]


# -- the fleetstream policy: which optional requests go now ------------------------------------------
def sample_future_requests(context: Arrays, current_epoch: int, end_epoch: int, lookahead: int,
                           rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Requests of the next ``lookahead`` epochs, drawn as the environment draws them (absolute times)."""
    duration = context["duration_matrix"]
    customers = len(context["coords"]) - 1
    depot_close = int(context["time_windows"][0][1])
    picked: dict[str, list[np.ndarray]] = {"customer": [], "time_windows": [], "service_times": [], "demands": [],
                                          "release": []}
    for epoch in range(current_epoch + 1, min(end_epoch, current_epoch + lookahead) + 1):
        dispatch_time = epoch * EPOCH_SECONDS + DISPATCH_MARGIN
        customer, window, demand, service = (rng.integers(customers, size=REQUESTS_PER_EPOCH) + 1 for _ in range(4))
        time_windows = context["time_windows"][window]
        service_times = context["service_times"][service]
        arrival = np.maximum(dispatch_time + duration[0, customer], time_windows[:, 0])
        feasible = (arrival <= time_windows[:, 1]) & (arrival + service_times + duration[customer, 0] <= depot_close)
        picked["customer"].append(customer[feasible])
        picked["time_windows"].append(time_windows[feasible])
        picked["service_times"].append(service_times[feasible])
        picked["demands"].append(context["demands"][demand][feasible])
        picked["release"].append(np.full(int(feasible.sum()), dispatch_time))
    if not picked["customer"]:
        return {"customer": np.zeros(0, dtype=int), "time_windows": np.zeros((0, 2), dtype=int),
                "service_times": np.zeros(0, dtype=int), "demands": np.zeros(0, dtype=int), "release": np.zeros(0, dtype=int)}
    return {key: np.concatenate(parts) for key, parts in picked.items()}


def leaves_now_in_scenario(instance: Arrays, future: Mapping[str, np.ndarray], held_back: np.ndarray, planning_start: int,
                       budget: Budget, seed: int, share: float, criterion: str) -> np.ndarray:
    """For each epoch node: whether it leaves now in the plan for the open requests together with one
    scenario's future requests. ``served_now``: its route holds no request released later (no future
    one, none held back); ``with_must_go``: its route also serves a must-go request. Requests
    ``held_back`` cannot leave before the next epoch's dispatch time, as if they were postponed."""
    open_nodes = len(instance["demands"])
    customer = np.concatenate([instance["customer_idx"], future["customer"]])
    # times relative to this epoch's planning start, as the epoch instance gives them
    future_windows = np.clip(future["time_windows"] - planning_start, 0, None)
    time_windows = np.concatenate([instance["time_windows"], future_windows])
    release = np.concatenate([np.where(held_back, EPOCH_SECONDS, 0), future["release"] - planning_start])
    demands = np.concatenate([instance["demands"], future["demands"]])
    service_times = np.concatenate([instance["service_times"], future["service_times"]])
    coords = instance["scenario_coords"][customer]
    duration = instance["scenario_matrix"][np.ix_(customer, customer)]
    model = build_model(duration, coords, demands, int(instance["capacity"]), time_windows, service_times, release)
    result = fs.routing.solve(model, seed=seed, **budget.stop(share))
    must_go = instance["must_dispatch"]
    leaves_now = np.zeros(open_nodes, dtype=bool)
    for plan in result.plans:
        nodes = [c + 1 for c in plan.clients]
        if criterion == "with_must_go":
            if any(n < open_nodes and must_go[n] for n in nodes):
                leaves_now[[n for n in nodes if n < open_nodes]] = True
        elif all(release[n] == 0 for n in nodes):
            leaves_now[nodes] = True
    return leaves_now


def choose_dispatch(instance: Arrays, context: Arrays, observation: Mapping[str, Any], end_epoch: int, budget: Budget,
                    seed: int, rng: np.random.Generator, settings: PolicySettings) -> list[int]:
    """Epoch nodes to dispatch now under the fleetstream policy: must-go ones, and optional ones that
    leave now (``settings.criterion``) in most sampled scenarios.

    With several rounds: after each, the optional requests that did not leave now in most scenarios
    are held back (released an epoch later) in the next round's scenarios, so that round sees the
    day as it would go if they waited; the last round decides."""
    must_go = np.asarray(instance["must_dispatch"], dtype=bool)
    optional = np.ones(len(must_go), dtype=bool)
    optional[0] = False
    optional &= ~must_go
    if not optional.any() or (settings.criterion == "with_must_go" and not must_go.any()):
        # everything must go, or nothing leaves now that an optional request could ride with
        return [int(n) for n in np.flatnonzero(must_go)]
    epoch, planning_start = int(observation["current_epoch"]), int(observation["planning_starttime"])
    scenario_instance = {**instance, "scenario_matrix": context["duration_matrix"], "scenario_coords": context["coords"]}
    held_back = np.zeros(len(must_go), dtype=bool)
    solves = settings.rounds * settings.scenarios
    for round_ in range(settings.rounds):
        votes = np.zeros(len(must_go), dtype=int)
        for k in range(settings.scenarios):
            future = sample_future_requests(context, epoch, end_epoch, settings.lookahead_epochs, rng)
            # every scenario solve gets an equal part of the scenarios' share of the epoch
            done = round_ * settings.scenarios + k
            share = settings.scenario_share / (solves - done * settings.scenario_share)
            votes += leaves_now_in_scenario(scenario_instance, future, held_back, planning_start, budget, seed + done, share,
                                        settings.criterion)
        held_back = optional & (votes <= settings.dispatch_share * settings.scenarios)
    return [int(n) for n in np.flatnonzero(must_go | (optional & ~held_back))]


def plan_epoch(observation: Mapping[str, Any], info: Mapping[str, Any], strategy: str, budget: Budget, seed: int,
               settings: PolicySettings = PolicySettings()) -> list[list[int]]:
    """This epoch's routes as lists of request ids (the protocol's action)."""
    instance = {key: np.asarray(value) for key, value in observation["epoch_instance"].items()}
    must_go = np.asarray(instance["must_dispatch"], dtype=bool)
    open_nodes = range(1, len(must_go))
    if strategy == "greedy":
        dispatch = list(open_nodes)
    elif strategy == "lazy":
        dispatch = [n for n in open_nodes if must_go[n]]
    elif strategy == "fleetstream":
        context = {key: np.asarray(value) for key, value in info["dynamic_context"].items()}
        rng = np.random.default_rng([seed, int(observation["current_epoch"])])
        dispatch = choose_dispatch(instance, context, observation, int(info["end_epoch"]), budget, seed, rng, settings)
    else:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    routes = solve_routes(dispatch, instance, budget, seed)
    request_idx = instance["request_idx"]
    return [[int(request_idx[n]) for n in route] for route in routes]


# -- the protocol --------------------------------------------------------------------------------------
class Requester(Protocol):
    def request(self, action: str, data: Any = None) -> dict[str, Any]: ...


class Controller:
    """The controller at the other end of stdin/stdout: one JSON line out, one JSON line back."""

    def __init__(self, reader: TextIO, writer: TextIO) -> None:
        self.reader, self.writer = reader, writer

    def request(self, action: str, data: Any = None) -> dict[str, Any]:
        self.writer.write(json.dumps({"action": action, "data": data}) + "\n")
        self.writer.flush()
        line = self.reader.readline()
        if not line:
            raise RuntimeError(f"the controller closed the connection after {action!r}")
        answer: dict[str, Any] = json.loads(line)
        return answer


def run(controller: Requester, strategy: str, seed: int, settings: PolicySettings, margin: float,
        iterations: int | None) -> int:
    """Plays the day; returns its cost as the rewards add up."""
    answer = controller.request("reset")
    started = time.monotonic()
    observation, info = answer["observation"], answer["info"]
    total = 0
    done = False
    while not done:
        budget = Budget(iterations=iterations) if iterations else Budget(deadline=started + info["epoch_tlim"] - margin)
        routes = plan_epoch(observation, info, strategy, budget, seed, settings)
        instance = observation["epoch_instance"]
        log(f"epoch {observation['current_epoch']}: {len(instance['request_idx']) - 1} open, "
            f"{sum(instance['must_dispatch'])} must go, {sum(len(r) for r in routes)} dispatched on {len(routes)} routes "
            f"({time.monotonic() - started:.1f} s)")
        answer = controller.request("step", routes)
        started = time.monotonic()
        if answer["info"].get("error"):
            raise RuntimeError(f"the controller refused epoch {observation['current_epoch']}: {answer['info']['error']}")
        total -= int(answer["reward"])
        observation, done = answer["observation"], answer["done"]
    log(f"cost of the day: {total}")
    return total


# -- the hindsight bound -----------------------------------------------------------------------------
def hindsight_problem(instance_path: Path, tools_dir: Path, instance_seed: int) -> dict[str, np.ndarray]:
    """The day's requests exactly as controller.py draws them for ``instance_seed``, with release times.

    Requests arrive independently of what is dispatched, so playing the day with one route per
    request draws the same ones; the harness's environment is imported from where it lies."""
    sys.path.insert(0, str(tools_dir))
    try:
        import tools  # type: ignore[import-not-found]
        from environment import VRPEnvironment  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tools_dir))
    env = VRPEnvironment(seed=instance_seed, instance=tools.read_vrplib(str(instance_path)), epoch_tlim=3600)
    observation, _ = env.reset()
    done = False
    while not done:
        observation, _, done, info = env.step([[int(r)] for r in observation["epoch_instance"]["request_idx"][1:]])
        if info.get("error"):
            raise RuntimeError(f"replaying the day failed: {info['error']}")
    problem: dict[str, np.ndarray] = env.get_hindsight_problem()
    return problem


def solve_hindsight(problem: Arrays, budget: Budget, seed: int) -> tuple[int, list[list[int]]]:
    """The whole day solved at once; (driving duration, routes over the problem's nodes), checked feasible."""
    model = build_model(problem["duration_matrix"], problem["coords"], problem["demands"], int(problem["capacity"]),
                        problem["time_windows"], problem["service_times"], problem["release_times"])
    result = fs.routing.solve(model, seed=seed, **budget.stop())
    routes = [[c + 1 for c in plan.clients] for plan in result.plans if plan.clients]
    served = sorted(n for r in routes for n in r)
    if served != list(range(1, len(problem["demands"]))):
        raise RuntimeError(f"the hindsight solve serves {len(served)} of {len(problem['demands']) - 1} requests")
    for route in routes:
        problems = route_problems(route, problem["duration_matrix"], problem["demands"], int(problem["capacity"]),
                                  problem["time_windows"], problem["service_times"], problem["release_times"])
        if problems:
            raise RuntimeError(f"the hindsight solve returned an infeasible route: {problems[0]}")
    return driving_duration(routes, problem["duration_matrix"]), routes


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", choices=STRATEGIES, default="fleetstream")
    parser.add_argument("--seed", type=int, default=1, help="seeds the scenarios and the search")
    parser.add_argument("--margin", type=float, default=1.0,
                        help="seconds of the epoch time limit left unused (the controller fails a late epoch)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="an iteration budget per solve instead of the epoch's time limit (deterministic)")
    parser.add_argument("--scenarios", type=int, default=PolicySettings.scenarios)
    parser.add_argument("--lookahead", type=int, default=PolicySettings.lookahead_epochs, help="epochs sampled ahead")
    parser.add_argument("--rounds", type=int, default=PolicySettings.rounds)
    parser.add_argument("--criterion", choices=("served_now", "with_must_go"), default=PolicySettings.criterion)
    parser.add_argument("--hindsight", action="store_true",
                        help="solve the whole day at once instead (needs --instance and --tools-dir); prints its cost")
    parser.add_argument("--instance", type=Path, help="--hindsight: the instance file")
    parser.add_argument("--tools-dir", type=Path, default=Path("../shared/tools/euro-neurips"),
                        help="--hindsight: where the harness's environment.py and tools.py are")
    parser.add_argument("--instance-seed", type=int, default=1, help="--hindsight: the controller's --instance_seed")
    parser.add_argument("--seconds", type=float, default=60.0, help="--hindsight: search time")
    args = parser.parse_args(argv)
    if args.hindsight:
        if args.instance is None:
            parser.error("--hindsight needs --instance")
        problem = hindsight_problem(args.instance, args.tools_dir, args.instance_seed)
        budget = Budget(iterations=args.iterations) if args.iterations else Budget(deadline=time.monotonic() + args.seconds)
        cost, routes = solve_hindsight(problem, budget, args.seed)
        print(f"Hindsight requests: {len(problem['demands']) - 1}, routes: {len(routes)}")
        print(f"Hindsight cost: {cost}")
        return 0
    settings = PolicySettings(scenarios=args.scenarios, rounds=args.rounds, criterion=args.criterion,
                              lookahead_epochs=args.lookahead)
    run(Controller(sys.stdin, sys.stdout), args.strategy, args.seed, settings, args.margin, args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
