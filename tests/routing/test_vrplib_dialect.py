"""read_vrplib on PyVRP's VRPLIB dialect: a table of small files, one per key or section, each
checked against the model it must build; files the solver cannot honour are refused with the
section and its line; solutions written in PyVRP's .sol convention round-trip, and where PyVRP is
installed, it reads the same problems and evaluates our solutions to the same cost."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable

import pytest

import fleetstream as fs

INF = 1 << 50

BASE = """NAME : t
TYPE : CVRP
DIMENSION : 5
{keys}EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
4 -3 -4
5 0 10
DEMAND_SECTION
1 0
2 2
3 3
4 4
5 1
{sections}DEPOT_SECTION
1
-1
EOF
"""


def vrp(keys: str = "", sections: str = "") -> str:
    return BASE.format(keys=keys, sections=sections)


def model(tmp_path: Path, text: str, round: str = "round") -> dict[str, Any]:
    """The native problem's data as plain tuples (the constructor's arguments)."""
    path = tmp_path / "t.vrp"
    path.write_text(text)
    inst = fs.routing.read_vrplib(path, round=round)
    depots, clients, vts, profiles, _ = inst.problem.__reduce__()[1]
    return {"inst": inst, "depots": depots, "clients": clients, "vts": vts, "distance": profiles[0][0]}


def vt(count: int, capacity: list[int], depot: int = 0, shift: tuple[int, int] = (0, INF),
       limits: tuple[int, int] = (INF, INF), costs: tuple[int, int, int] = (0, 1, 0), skills: int = 0) -> tuple:
    return (count, capacity, (depot, depot), shift, limits, costs, 0, skills)


Check = Callable[[dict[str, Any]], bool]
CASES: list[tuple[str, str, str, Check]] = [
    ("no fleet: one vehicle per client, no capacity", "", "",
     lambda m: m["vts"] == [vt(4, [INF])]),
    ("CAPACITY and VEHICLES keys", "VEHICLES : 2\nCAPACITY : 7\n", "",
     lambda m: m["vts"] == [vt(2, [7])]),
    ("CAPACITY_SECTION groups identical vehicles in order of first appearance",
     "VEHICLES : 3\n", "CAPACITY_SECTION\n1 10\n2 6\n3 10\n",
     lambda m: m["vts"] == [vt(2, [10]), vt(1, [6])] and m["inst"].vehicles == ((0, 2), (1,))),
    ("CAPACITY_SECTION with two dimensions", "VEHICLES : 1\n", "CAPACITY_SECTION\n1 10 3\n",
     lambda m: m["vts"] == [vt(1, [10, 3])]),
    ("fixed and unit distance costs per vehicle", "VEHICLES : 2\nCAPACITY : 10\n",
     "VEHICLES_FIXED_COST_SECTION\n1 100\n2 50\nVEHICLES_UNIT_DISTANCE_COST_SECTION\n1 2\n2 3\n",
     lambda m: m["vts"] == [vt(1, [10], costs=(100, 2, 0)), vt(1, [10], costs=(50, 3, 0))]),
    ("unit duration cost key", "VEHICLES : 1\nVEHICLES_UNIT_DURATION_COST : 4\n", "",
     lambda m: m["vts"][0][5] == (0, 1, 4)),
    ("max duration key and max distance section", "VEHICLES : 2\nVEHICLES_MAX_DURATION : 40\n",
     "VEHICLES_MAX_DISTANCE_SECTION\n1 30\n2 35\n",
     lambda m: [v[4] for v in m["vts"]] == [(40, 30), (40, 35)]),
    ("classic DISTANCE limit", "VEHICLES : 1\nDISTANCE : 33\n", "",
     lambda m: m["vts"][0][4] == (INF, 33)),
    ("time windows and a service time key: the depot's window is the shift", "VEHICLES : 1\nSERVICE_TIME : 2\n",
     "TIME_WINDOW_SECTION\n1 0 100\n2 5 20\n3 0 50\n4 10 60\n5 0 90\n",
     lambda m: m["vts"][0][3] == (0, 100)
     and [c[5] for c in m["clients"]] == [[(5, 20)], [(0, 50)], [(10, 60)], [(0, 90)]]
     and [c[4] for c in m["clients"]] == [2, 2, 2, 2]),
    ("service time section", "VEHICLES : 1\n", "SERVICE_TIME_SECTION\n1 0\n2 1\n3 2\n4 3\n5 4\n",
     lambda m: [c[4] for c in m["clients"]] == [1, 2, 3, 4]),
    ("prizes: a client with a prize is optional, with 0 required", "VEHICLES : 1\n",
     "PRIZE_SECTION\n1 0\n2 0\n3 5\n4 0\n5 7\n",
     lambda m: [(c[6], c[7]) for c in m["clients"]] == [(0, True), (5, False), (0, True), (7, False)]),
    ("backhauls are pickups", "VEHICLES : 1\n", "BACKHAUL_SECTION\n1 0\n2 0\n3 1\n4 0\n5 2\n",
     lambda m: [c[3] for c in m["clients"]] == [[0], [1], [0], [2]]),
    ("allowed clients: only vehicle 2 may serve node 5",
     "VEHICLES : 2\n", "VEHICLES_ALLOWED_CLIENTS_SECTION\n1 2 3 4\n2 2 3 4 5\n",
     lambda m: [c[8] for c in m["clients"]] == [0, 0, 0, 1] and [v[7] for v in m["vts"]] == [0, 1]),
    ("release times of zero constrain nothing", "VEHICLES : 1\n", "RELEASE_TIME_SECTION\n1 0\n2 0\n3 0\n4 0\n5 0\n",
     lambda m: m["vts"] == [vt(1, [INF])]),
    ("a group of one client constrains nothing", "VEHICLES : 1\n", "MUTUALLY_EXCLUSIVE_GROUP_SECTION\n1 3\n",
     lambda m: all(c[7] for c in m["clients"])),
    ("dimacs rounding scales times, limits and fixed costs, not unit costs",
     "VEHICLES : 1\nVEHICLES_MAX_DURATION : 4.25\nVEHICLES_FIXED_COST : 3\nVEHICLES_UNIT_DISTANCE_COST : 2\n", "",
     lambda m: m["vts"][0][4][0] == 42 and m["vts"][0][5] == (30, 2, 0) and m["distance"][1] == 50),
]


@pytest.mark.parametrize(("what", "keys", "sections", "expect"), CASES, ids=[c[0] for c in CASES])
def test_each_section_builds_its_model(tmp_path: Path, what: str, keys: str, sections: str, expect: Check) -> None:
    m = model(tmp_path, vrp(keys, sections), round="dimacs" if what.startswith("dimacs") else "round")
    assert expect(m), (m["vts"], m["clients"])


def test_distances_and_depots(tmp_path: Path) -> None:
    m = model(tmp_path, vrp("VEHICLES : 1\n"))
    n = 5
    d = [m["distance"][i * n:(i + 1) * n] for i in range(n)]
    assert d[0][1:] == [5, 10, 5, 10] and d[1][2] == 5 and d[2][4] == round(math.hypot(6, 2))
    floor = model(tmp_path, vrp("VEHICLES : 1\n").replace("EUC_2D", "FLOOR_2D"))
    assert floor["distance"][1 * n + 4] == int(math.hypot(3, 6)) == d[1][4] - 1
    # two depots, listed out of order, and vehicles per depot: depots come first, in DEPOT_SECTION order
    text = vrp("VEHICLES : 3\nCAPACITY : 9\n", "VEHICLES_DEPOT_SECTION\n1 4\n2 1\n3 4\n").replace(
        "DEPOT_SECTION\n1\n-1", "DEPOT_SECTION\n4\n1\n-1")
    m = model(tmp_path, text)
    assert [(x, y) for x, y, *_ in m["depots"]] == [(-3.0, -4.0), (0.0, 0.0)]
    assert m["vts"] == [vt(2, [9], depot=0), vt(1, [9], depot=1)] and m["inst"].vehicles == ((0, 2), (1,))
    assert m["inst"].node_ids == (4, 1, 2, 3, 5)


def test_explicit_matrices(tmp_path: Path) -> None:
    text = ("NAME : e\nDIMENSION : 3\nVEHICLES : 1\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : FULL_MATRIX\n"
            "EDGE_WEIGHT_SECTION\n0 4 5\n7 0 6\n5 9 0\nDEMAND_SECTION\n1 0\n2 1\n3 1\nEOF\n")
    assert model(tmp_path, text)["distance"] == [0, 4, 5, 7, 0, 6, 5, 9, 0]


REFUSED = [
    ("an unknown key", "FOO : 3\n", "", "unknown key FOO", 4),
    ("an unknown section", "", "BAR_SECTION\n1 2\n", "unknown section BAR_SECTION", 17),
    ("reload depots", "VEHICLES : 1\n", "VEHICLES_RELOAD_DEPOT_SECTION\n1 1\n", "VEHICLES_RELOAD_DEPOT_SECTION: reloads", 18),
    ("a maximum of reloads", "VEHICLES : 1\nVEHICLES_MAX_RELOADS : 2\n", "", "VEHICLES_MAX_RELOADS: reloads", 5),
    ("release times", "VEHICLES : 1\n", "RELEASE_TIME_SECTION\n1 0\n2 0\n3 9\n4 0\n5 0\n",
     "RELEASE_TIME_SECTION: release times", 21),
    ("a release time key", "VEHICLES : 1\nRELEASE_TIME : 3\n", "", "RELEASE_TIME: release times", 5),
    ("mutually exclusive groups", "VEHICLES : 1\n", "MUTUALLY_EXCLUSIVE_GROUP_SECTION\n1 2 3\n",
     "MUTUALLY_EXCLUSIVE_GROUP_SECTION: groups", 19),
    ("shipments", "VEHICLES : 1\n", "PICKUP_AND_DELIVERY_SECTION\n1 0 0 100 0 0 0\n", "PICKUP_AND_DELIVERY_SECTION: shipments", 18),
    ("backhauls after linehauls", "", "", "TYPE : VRPB: backhauls", 2),
    ("a vehicle section missing a vehicle", "VEHICLES : 3\n", "CAPACITY_SECTION\n1 10\n3 10\n", "CAPACITY_SECTION: vehicle 2 missing", 20),
    ("a vehicle depot that is no depot", "VEHICLES : 1\n", "VEHICLES_DEPOT_SECTION\n1 2\n", "node 2 of vehicle 1 is not in DEPOT_SECTION", 19),
    ("a capacity both as key and section", "VEHICLES : 1\nCAPACITY : 3\n", "CAPACITY_SECTION\n1 3\n", "CAPACITY is given both", 5),
]


@pytest.mark.parametrize(("what", "keys", "sections", "message", "line"), REFUSED, ids=[r[0] for r in REFUSED])
def test_what_cannot_be_honoured_is_refused_with_its_line(tmp_path: Path, what: str, keys: str, sections: str,
                                                         message: str, line: int) -> None:
    text = vrp(keys, sections)
    if what == "backhauls after linehauls":
        text = text.replace("TYPE : CVRP", "TYPE : VRPB")
    path = tmp_path / "t.vrp"
    path.write_text(text)
    with pytest.raises(fs.ParseError, match=re.escape(message)) as error:
        fs.routing.read_vrplib(path)
    assert f"line {line}:" in str(error.value), (str(error.value), text.splitlines()[line - 1])


# -- solutions ------------------------------------------------------------------------------------

FLEET = vrp("VEHICLES : 4\n", "CAPACITY_SECTION\n1 5\n2 100\n3 5\n4 5\nVEHICLES_FIXED_COST_SECTION\n1 7\n2 1000\n3 7\n4 7\n"
                              "TIME_WINDOW_SECTION\n1 0 1000\n2 0 100\n3 0 100\n4 0 100\n5 0 100\n")


def test_a_heterogeneous_fleet_is_not_solved_as_one_vehicle(tmp_path: Path) -> None:
    """Issue 14: the fleet and capacities of a heterogeneous-fleet file were dropped and all clients
    went on one route. Here three vans of capacity 5 (fixed cost 7) and one of 100 (fixed cost
    1000) serve a demand of 10: the small vans must share it."""
    path = tmp_path / "fleet.vrp"
    path.write_text(FLEET)
    result = fs.routing.solve(fs.routing.read_vrplib(path), max_iterations=200, seed=1)
    assert result.feasible and result.num_routes >= 2
    demand = [2, 3, 4, 1]  # nodes 2..5
    loaded = [sum(demand[c] for c in p.clients) for p in result.plans]
    assert all(load <= 5 for load in loaded), loaded
    distance = sum(p.distance for p in result.plans)
    assert result.cost == distance + 7 * result.num_routes


def read_sol(inst: fs.routing.Instance, text: str) -> list[tuple[int, list[int]]]:
    """Routes of a .sol text in PyVRP's convention: line k is vehicle k; numbers are node ids - 1."""
    type_of = {v: t for t, vs in enumerate(inst.vehicles) for v in vs}
    location = {node - 1: loc for loc, node in enumerate(inst.node_ids)}
    routes = []
    for k, line in enumerate(line for line in text.splitlines() if line.startswith("Route")):
        visits = [location[int(x)] for x in line.split(":", 1)[1].split()]
        if visits:
            routes.append((type_of[k], visits))
    return routes


def test_solutions_round_trip_in_pyvrp_convention(tmp_path: Path) -> None:
    path = tmp_path / "fleet.vrp"
    path.write_text(FLEET)
    inst = fs.routing.read_vrplib(path)
    assert inst.vehicles == ((0, 2, 3), (1,))
    result = fs.routing.solve(inst, max_iterations=200, seed=1)
    assert result.feasible
    text = result.to_vrplib()
    routes = read_sol(inst, text)
    assert sorted(routes) == sorted((p.vehicle_type, [c + 1 for c in p.clients]) for p in result.plans)
    again = inst.problem.evaluate(routes)
    assert again.cost == result.native.cost and again.feasible
    assert text.endswith(f"Cost {int(result.cost)}\n")


PYVRP_FILES = {
    "fleet": FLEET,
    "two-dims": vrp("VEHICLES : 2\n", "CAPACITY_SECTION\n1 10 3\n2 10 3\n").replace(
        "DEMAND_SECTION\n1 0\n2 2\n3 3\n4 4\n5 1\n", "DEMAND_SECTION\n1 0 0\n2 2 1\n3 3 1\n4 4 0\n5 1 1\n"),
    "limits": vrp("VEHICLES : 3\nCAPACITY : 6\nVEHICLES_MAX_DURATION : 40\n", "VEHICLES_MAX_DISTANCE_SECTION\n1 30\n2 35\n3 35\n"),
    "windows": vrp("VEHICLES : 2\nCAPACITY : 10\nSERVICE_TIME : 2\n",
                   "TIME_WINDOW_SECTION\n1 0 100\n2 5 20\n3 0 50\n4 10 60\n5 0 90\n"),
    "prizes": vrp("VEHICLES : 1\nCAPACITY : 10\n", "PRIZE_SECTION\n1 0\n2 0\n3 50\n4 0\n5 1\n"),
    "allowed": vrp("VEHICLES : 2\nCAPACITY : 10\n", "VEHICLES_ALLOWED_CLIENTS_SECTION\n1 2 3 4\n2 2 3 4 5\n"),
    "depots": vrp("VEHICLES : 3\nCAPACITY : 9\n", "VEHICLES_DEPOT_SECTION\n1 1\n2 2\n3 2\n").replace(
        "DEPOT_SECTION\n1\n-1", "DEPOT_SECTION\n1\n2\n-1"),
    "backhauls": vrp("VEHICLES : 2\nCAPACITY : 6\n", "BACKHAUL_SECTION\n1 0\n2 0\n3 2\n4 0\n5 3\n"),
}


def unbounded(x: int) -> bool:
    return x >= INF  # ours: 2**50; PyVRP's: about 2**62 or more


@pytest.mark.parametrize("name", sorted(PYVRP_FILES))
def test_pyvrp_reads_the_same_problem_and_evaluates_our_solution_alike(tmp_path: Path, name: str) -> None:
    import pyvrp  # in requirements-test.txt: the test suite installs it, so a missing PyVRP fails here

    path = tmp_path / f"{name}.vrp"
    path.write_text(PYVRP_FILES[name])
    ours = fs.routing.read_vrplib(path)
    theirs = pyvrp.read(str(path), round_func="round")
    depots, clients, vts, profiles, _ = ours.problem.__reduce__()[1]
    assert (theirs.num_depots, theirs.num_clients) == (len(depots), len(clients))
    # the same groups of the file's vehicles, with the same attributes
    assert [tuple(int(i) for i in t.name.split(",")) for t in theirs.vehicle_types()] == list(ours.vehicles)
    for t, v in zip(theirs.vehicle_types(), vts):
        count, capacity, (start, end), shift, (max_dur, max_dist), (fixed, unit_dist, _), _, _ = v
        assert (t.num_available, t.start_depot, t.end_depot, t.fixed_cost, t.unit_distance_cost) == (count, start, end, fixed, unit_dist)
        for a, b in zip(list(t.capacity), capacity):
            assert a == b or unbounded(a) and unbounded(b)
        for a, b in ((t.tw_early, shift[0]), (t.tw_late, shift[1]), (t.shift_duration, max_dur), (t.max_distance, max_dist)):
            assert a == b or unbounded(a) and unbounded(b), (a, b)
    for c, mine in zip(theirs.clients(), clients):
        assert list(c.delivery) == (list(mine[2]) or [0] * len(c.delivery))
        assert list(c.pickup) == (list(mine[3]) or [0] * len(c.pickup))
        assert (c.service_duration, c.prize, c.required) == (mine[4], mine[6], mine[7])
        assert c.tw_early == mine[5][0][0] and (c.tw_late == mine[5][0][1] or unbounded(c.tw_late) and unbounded(mine[5][0][1]))
    n = len(depots) + len(clients)
    # (with allowed clients, PyVRP's first profile forbids some clients; the last type may serve all)
    matrix = theirs.distance_matrix(theirs.vehicle_types()[-1].profile)
    assert [[int(matrix[i][j]) for j in range(n)] for i in range(n)] == [profiles[0][0][i * n:(i + 1) * n] for i in range(n)]
    if name == "allowed":  # PyVRP forbids through the first type's own profile; we through skills
        reach = theirs.distance_matrix(theirs.vehicle_types()[0].profile)
        assert reach[0][4] >= 2**40 and [v[7] for v in vts] == [0, 1] and clients[3][8] == 1

    result = fs.routing.solve(ours, max_iterations=200, seed=1)
    assert result.feasible
    sol_path = tmp_path / f"{name}.sol"
    result.write_vrplib(sol_path)
    solution = pyvrp.read_solution(str(sol_path), theirs)
    assert solution.is_feasible()
    evaluator = pyvrp.CostEvaluator([1] * theirs.num_load_dimensions, 1, 1)
    assert evaluator.cost(solution) == result.native.cost
