"""Reading VRPLIB and Solomon files the tests write, and writing solutions."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import fleetstream as fs

CVRP = """NAME : tiny-n6
COMMENT : written by the test
TYPE : CVRP
DIMENSION : 6
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 0 10
3 0 11
4 10 0
5 11 0
6 -7.5 0
DEMAND_SECTION
1 0
2 5
3 5
4 5
5 5
6 4
DEPOT_SECTION
1
-1
EOF
"""

SOLOMON_VRP = """NAME : mini-tw
TYPE : CVRPTW
DIMENSION : 4
VEHICLES : 3
CAPACITY : 50
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
4 -3 -4
DEMAND_SECTION
1 0
2 10
3 10
4 10
TIME_WINDOW_SECTION
1 0 100
2 0 20
3 0 40
4 50 60
SERVICE_TIME_SECTION
1 0
2 1
3 1
4 1
DEPOT_SECTION
1
-1
EOF
"""

SOLOMON_TXT = """MINI

VEHICLE
NUMBER     CAPACITY
  3          50

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0        100          0
    1      3          4         10          0         20          1
    2      6          8         10          0         40          1
    3     -3         -4         10         50         60          1
"""


def test_reads_and_solves_a_cvrp_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.vrp"
    path.write_text(CVRP)
    inst = fs.routing.read_vrplib(path)
    assert (inst.name, inst.num_clients, inst.scale) == ("tiny-n6", 5, 1)
    result = fs.routing.solve(inst, max_iterations=100)
    assert result.feasible
    # optimum: depot-(0,10)-(0,11)-depot = 10+1+11 = 22, the same along x, and 8+8 to (-7.5, 0)
    assert result.cost == 22 + 22 + 16
    out = tmp_path / "tiny.sol"
    result.write_vrplib(out)
    text = out.read_text()
    assert text.endswith("Cost 60\n") and text.count("Route #") == 3
    ids = sorted(int(x) for line in text.splitlines() if line.startswith("Route") for x in line.split(":")[1].split())
    assert ids == [1, 2, 3, 4, 5]


def test_instances_and_their_results_pickle_without_the_file(tmp_path: Path) -> None:
    # Spark ships them to executors, where the file may not exist.
    path = tmp_path / "mini.vrp"
    path.write_text(SOLOMON_VRP)
    inst = fs.routing.read_vrplib(path, round="dimacs")
    result = fs.routing.solve(inst, max_iterations=100, seed=3)
    inst_bytes, result_bytes = pickle.dumps(inst), pickle.dumps(result)
    path.unlink()
    inst_again, result_again = pickle.loads(inst_bytes), pickle.loads(result_bytes)
    assert inst_again.problem.__reduce__()[1] == inst.problem.__reduce__()[1]
    assert (inst_again.name, inst_again.scale, inst_again.num_clients) == (inst.name, inst.scale, inst.num_clients)
    again = fs.routing.solve(inst_again, max_iterations=100, seed=3)
    assert (again.routes, again.cost) == (result.routes, result.cost)
    assert (result_again.routes, result_again.cost, result_again.feasible) == (result.routes, result.cost, result.feasible)
    assert result_again.stops().equals(result.stops())


def test_dimacs_and_exact_conventions(tmp_path: Path) -> None:
    path = tmp_path / "mini.vrp"
    path.write_text(SOLOMON_VRP)
    dimacs = fs.routing.read_vrplib(path, round="dimacs")
    exact = fs.routing.read_vrplib(path, round="exact")
    r1 = fs.routing.solve(dimacs, max_iterations=100)
    r2 = fs.routing.solve(exact, max_iterations=100)
    assert r1.feasible and r2.feasible
    assert r1.cost == pytest.approx(r2.cost) and r1.cost == pytest.approx(30.0)
    assert r1.stops()["arrival"].type == "double"
    txt = tmp_path / "mini.txt"
    txt.write_text(SOLOMON_TXT)
    r3 = fs.routing.solve(fs.routing.read_vrplib(txt, round="dimacs"), max_iterations=100)
    assert r3.cost == pytest.approx(r1.cost)


@pytest.mark.parametrize(("bad", "replacement", "line"), [
    ("3 0 11", "3 0 eleven", 10),
    ("DEMAND_SECTION\n1 0\n2 5", "DEMAND_SECTION\n1 0\n2", 16),
])
def test_malformed_files_raise_parse_error_with_the_line(tmp_path: Path, bad: str, replacement: str, line: int) -> None:
    path = tmp_path / "bad.vrp"
    path.write_text(CVRP.replace(bad, replacement))
    with pytest.raises(fs.ParseError, match=f"line {line}"):
        fs.routing.read_vrplib(path)


def test_missing_file_and_bad_rounding(tmp_path: Path) -> None:
    with pytest.raises(fs.FleetstreamIOError):
        fs.routing.read_vrplib(tmp_path / "nope.vrp")
    with pytest.raises(fs.ConfigError, match="round"):
        fs.routing.read_vrplib(tmp_path / "nope.vrp", round="ceil")
