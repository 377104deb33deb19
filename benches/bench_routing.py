"""fleetstream's routing solver side by side with PyVRP and OR-Tools on Solomon and X instances.

    python benches/bench_routing.py --data-dir ../shared/data/vrp --time-limit 10
    python benches/bench_routing.py --only C101,R101,X-n101-k25 --time-limit 5

Each solver gets the same time limit, one thread, seed 1, in the same run. Gaps are to the best-known
solution in the instance's own convention (Solomon: DIMACS, distances x10 truncated, cost / 10;
X: rounded Euclidean). Prints a markdown table; baselines that are not installed are skipped.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from pathlib import Path

import fleetstream as fs


def load_bks(data_dir: Path) -> dict[str, float]:
    bks: dict[str, float] = {}
    with open(data_dir / "bks.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["convention"] in ("dimacs", "round"):
                bks[row["name"]] = float(row["bks"])
    return bks


def instances(data_dir: Path, only: set[str] | None) -> list[tuple[str, Path, str]]:
    out = []
    for path in sorted((data_dir / "solomon").glob("*.vrp")):
        out.append((path.stem, path, "dimacs"))
    for path in sorted((data_dir / "x").glob("*.vrp")):
        out.append((path.stem, path, "round"))
    return [i for i in out if only is None or i[0] in only]


def run_fleetstream(path: Path, rounding: str, limit: float) -> float | None:
    inst = fs.routing.read_vrplib(path, round=rounding)
    res = fs.routing.solve(inst, time_limit=limit, seed=1, threads=1)
    return res.cost if res.feasible else None


def run_pyvrp(path: Path, rounding: str, limit: float) -> float | None:
    try:
        import pyvrp
        from pyvrp.stop import MaxRuntime
    except ImportError:
        return None
    data = pyvrp.read(path, round_func=rounding)
    res = pyvrp.solve(data, stop=MaxRuntime(limit), seed=1, display=False)
    if not res.is_feasible():
        return None
    return res.cost() / (10 if rounding == "dimacs" else 1)


def run_ortools(path: Path, rounding: str, limit: float) -> float | None:
    try:
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    except ImportError:
        return None
    text = path.read_text()
    coords, demand, tw, service = {}, {}, {}, {}
    section = None
    header: dict[str, str] = {}
    for line in text.splitlines():
        s = line.strip()
        if not s or s == "EOF":
            continue
        if s.endswith("SECTION"):
            section = s
            continue
        if ":" in s and not (s[0].isdigit() or s[0] == "-"):
            k, v = s.split(":", 1)
            header[k.strip()] = v.strip()
            section = None
            continue
        parts = s.split()
        if section == "NODE_COORD_SECTION":
            coords[int(parts[0])] = (float(parts[1]), float(parts[2]))
        elif section == "DEMAND_SECTION":
            demand[int(parts[0])] = int(parts[1])
        elif section == "TIME_WINDOW_SECTION":
            tw[int(parts[0])] = (float(parts[1]), float(parts[2]))
        elif section == "SERVICE_TIME_SECTION":
            service[int(parts[0])] = float(parts[1])
    n = len(coords)
    factor = 10 if rounding == "dimacs" else 1

    def d(i: int, j: int) -> int:
        (x1, y1), (x2, y2) = coords[i + 1], coords[j + 1]
        e = math.hypot(x1 - x2, y1 - y2)
        return int(10 * e + 1e-9) if rounding == "dimacs" else int(round(e))

    dist = [[d(i, j) for j in range(n)] for i in range(n)]
    if "VEHICLES" in header:
        vehicles = int(header["VEHICLES"])
    else:
        k = int(re.search(r"-k(\d+)", path.stem).group(1))  # type: ignore[union-attr]
        vehicles = k + max(2, k // 5)
    cap = int(header["CAPACITY"])
    manager = pywrapcp.RoutingIndexManager(n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    # Matrices rather than Python callbacks, so OR-Tools runs at native speed.
    transit = routing.RegisterTransitMatrix(dist)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    dem = routing.RegisterUnaryTransitVector([demand.get(i + 1, 0) for i in range(n)])
    routing.AddDimensionWithVehicleCapacity(dem, 0, [cap] * vehicles, True, "load")
    if tw:
        default_service = float(header.get("SERVICE_TIME", "0").split()[0])  # Solomon files give it once
        svc = [0] + [int(round(service.get(i + 1, default_service) * factor)) for i in range(1, n)]
        time_cb = routing.RegisterTransitMatrix([[svc[i] + dist[i][j] for j in range(n)] for i in range(n)])
        horizon = int(tw[1][1] * factor)
        routing.AddDimension(time_cb, horizon, horizon, False, "time")
        td = routing.GetDimensionOrDie("time")
        for node in range(1, n):
            e, l = tw[node + 1]
            td.CumulVar(manager.NodeToIndex(node)).SetRange(int(round(e * factor)), int(round(l * factor)))
        for v in range(vehicles):
            td.CumulVar(routing.Start(v)).SetRange(0, horizon)
            td.CumulVar(routing.End(v)).SetRange(0, horizon)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(limit * 1000))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return None
    return sol.ObjectiveValue() / factor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "vrp")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--only", help="comma-separated instance names")
    parser.add_argument("--solvers", default="fleetstream,pyvrp,ortools")
    args = parser.parse_args()
    if not args.data_dir.exists():
        print(f"no data at {args.data_dir}", file=sys.stderr)
        return 2
    bks = load_bks(args.data_dir)
    only = set(args.only.split(",")) if args.only else None
    solvers = {"fleetstream": run_fleetstream, "pyvrp": run_pyvrp, "ortools": run_ortools}
    chosen = [s for s in args.solvers.split(",") if s in solvers]
    rows = []
    print(f"| instance | BKS | " + " | ".join(f"{s} gap %" for s in chosen) + " |")
    print("|---|---:|" + "---:|" * len(chosen))
    for name, path, rounding in instances(args.data_dir, only):
        gaps: list[float | None] = []
        for s in chosen:
            started = time.perf_counter()
            cost = solvers[s](path, rounding, args.time_limit)
            _ = time.perf_counter() - started
            ref = bks.get(name)
            gaps.append(None if cost is None or ref is None else 100 * (cost - ref) / ref)
        rows.append((name, gaps))
        cells = " | ".join("no solution" if g is None else f"{g:.2f}" for g in gaps)
        print(f"| {name} | {bks.get(name, float('nan')):g} | {cells} |", flush=True)
    for family, prefix in (("Solomon", ""), ("X", "X-")):
        sel = [g for n, g in rows if (n.startswith("X-") if prefix else not n.startswith("X-"))]
        if not sel:
            continue
        means = []
        for k in range(len(chosen)):
            vals = [g[k] for g in sel if g[k] is not None]
            means.append(f"{sum(vals) / len(vals):.2f} ({len(vals)}/{len(sel)})" if vals else "-")
        print(f"| **mean {family}** | | " + " | ".join(means) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
