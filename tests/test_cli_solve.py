"""``fleetstream solve FILE.vrp``: the solution comes out in VRPLIB ``.sol`` form, every client once and
every route within capacity; a missing or malformed file is one line on stderr and exit code 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fleetstream.cli import main

# a depot at node 1 and five clients, capacity 10: at least two routes are needed (demand 17)
COORDS = {1: (0, 0), 2: (10, 0), 3: (10, 10), 4: (0, 10), 5: (-10, 0), 6: (-10, -10)}
DEMANDS = {1: 0, 2: 4, 3: 3, 4: 2, 5: 5, 6: 3}
CAPACITY = 10


def cvrp_text() -> str:
    lines = ["NAME : five", "TYPE : CVRP", f"DIMENSION : {len(COORDS)}", "EDGE_WEIGHT_TYPE : EUC_2D",
             f"CAPACITY : {CAPACITY}", "NODE_COORD_SECTION"]
    lines += [f"{n} {x} {y}" for n, (x, y) in COORDS.items()]
    lines += ["DEMAND_SECTION"] + [f"{n} {d}" for n, d in DEMANDS.items()]
    lines += ["DEPOT_SECTION", "1", "-1", "EOF"]
    return "\n".join(lines) + "\n"


def parse_solution(text: str) -> tuple[list[list[int]], float]:
    """Routes as node ids (the file's numbering: a .sol names node id - 1) and the cost line."""
    routes = [[int(v) + 1 for v in m.group(1).split()] for m in re.finditer(r"^Route #\d+:(.*)$", text, flags=re.M)]
    (cost,) = re.findall(r"^Cost (\S+)$", text, flags=re.M)
    return routes, float(cost)


def check(routes: list[list[int]]) -> None:
    visited = sorted(node for route in routes for node in route)
    assert visited == [2, 3, 4, 5, 6], routes  # every client exactly once, never the depot
    for route in routes:
        assert sum(DEMANDS[node] for node in route) <= CAPACITY, route


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    path = tmp_path / "five.vrp"
    path.write_text(cvrp_text())
    return path


def test_solution_to_a_file_parses_and_is_feasible(instance: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "five.sol"
    assert main(["solve", str(instance), "--time-limit", "300ms", "--seed", "3", "--output", str(out)]) == 0
    routes, cost = parse_solution(out.read_text())
    check(routes)
    assert len(routes) >= 2 and cost > 0
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("five: cost ") and "5/5 clients" in line and "feasible: True" in line, line


def test_solution_goes_to_stdout_by_default(instance: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(instance), "--time-limit", "0.2"]) == 0
    captured = capsys.readouterr()
    routes, _ = parse_solution(captured.out)
    check(routes)
    assert "feasible: True" in captured.err


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleetstream", "solve", *args], capture_output=True, text=True,
                          timeout=120)


def test_a_missing_file_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nope.vrp"), "--time-limit", "100ms")
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("fleetstream solve: FleetstreamIOError:") and "nope.vrp" in line, line


def test_a_malformed_file_names_the_line_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.vrp"
    bad.write_text(cvrp_text().replace("3 10 10", "3 10 ten"))
    done = run(str(bad), "--time-limit", "100ms")
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("fleetstream solve: ParseError:") and "line 9" in line and "ten" in line, line


def test_an_unwritable_output_is_said_before_the_search(instance: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(instance), "--time-limit", "1h", "--output", str(tmp_path / "no" / "dir.sol")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "cannot write the solution to" in line, line
