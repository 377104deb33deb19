"""fleetstream's routing solver side by side with PyVRP and OR-Tools on Solomon and X instances.

    python benches/bench_routing.py --data-dir ../shared/data/vrp --time-limit 10 --out benches/results/routing.md
    python benches/bench_routing.py --only C101,R101,X-n101-k25 --time-limit 5

Each solver gets the same time limit, one thread, seed 1, in the same run, one solver at a time. All
three solve the problem the best-known solutions define: total distance, any number of routes up to
the fleet (Solomon: the file's 25 vehicles; X: unlimited), in the instance's convention (Solomon:
DIMACS, distances and times x10 truncated, cost / 10; X: rounded Euclidean). Every returned solution
is re-evaluated by one independent checker (``_vrp.check``: plain Python from the coordinates, with
visits, fleet, capacity and time windows checked): the gap is from the checked cost, and a solution
the checker rejects, or whose reported cost differs from the checked one, is reported as such.

OR-Tools is configured as its routing documentation does it for each variant. Both: a capacity
dimension (the CVRP example); every client in a disjunction of its own with a penalty above the sum of
all distances ("Penalties and dropping visits"), so the search always holds a solution and drops a
visit only where it finds no way to serve it; a result with dropped visits is reported with their
count, never scored; GUIDED_LOCAL_SEARCH under the time limit (the routing options page's advice).
CVRP: PATH_CHEAPEST_ARC first (the CVRP example). VRPTW: as the VRPTW example, a time dimension of
travel plus service time whose slack allows waiting up to the horizon, client windows on the cumul
variables, the depot's window on each vehicle's start and end, start and end times minimised by the
finalizer; first solution PARALLEL_CHEAPEST_INSERTION, which did better than the example's
PATH_CHEAPEST_ARC on the generated Solomon-like instances of the tuning set (`--tuning-set`; see
benches/README.md). No fixed cost per vehicle: the objective of the best-known solutions is distance
alone. Fleet: the file's (Solomon: 25); X files have no limit and OR-Tools needs a number, so it gets
the name's k plus 20 % (at least 2), more than the best-known solutions use.
Baselines that are not installed are skipped.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import fleetstream as fs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _vrp  # noqa: E402


@dataclass
class Returned:
    """What a solver returned: routes of client locations (1..n-1), its own cost, and a note."""

    routes: list[list[int]] | None
    reported: float | None
    note: str = ""
    dropped: int = 0  # visits OR-Tools dropped (at their penalty)


def load_bks(data_dir: Path) -> dict[str, float]:
    """bks.csv's rows in the distance-only conventions; X instances without a row: their .sol's Cost."""
    bks: dict[str, float] = {}
    with open(data_dir / "bks.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["convention"] in ("dimacs", "round"):
                bks[row["name"]] = float(row["bks"])
    for sol in sorted((data_dir / "x").glob("*.sol")):
        if sol.stem not in bks:
            m = re.search(r"^Cost\s+(\d+(?:\.\d+)?)", sol.read_text(), re.M)
            if m:
                bks[sol.stem] = float(m.group(1))
    return bks


def instances(data_dir: Path, only: set[str] | None) -> list[tuple[str, Path, str]]:
    out = []
    for path in sorted((data_dir / "solomon").glob("*.vrp")):
        out.append((path.stem, path, "dimacs"))
    for path in sorted((data_dir / "x").glob("*.vrp"), key=lambda p: int(re.search(r"-n(\d+)", p.stem).group(1))):  # type: ignore[union-attr]
        out.append((path.stem, path, "round"))
    return [i for i in out if only is None or i[0] in only]


def run_fleetstream(path: Path, rounding: str, limit: float, inst: _vrp.VrpInstance) -> Returned:
    fi = fs.routing.read_vrplib(path, round=rounding)
    res = fs.routing.solve(fi, time_limit=limit, seed=1, threads=1)
    if not res.feasible:
        return Returned(None, None, "its best solution is infeasible")
    # client index k is the file's node k + 2 (node 1 is the depot): location k + 1
    return Returned([[c + 1 for c in r] for r in res.routes], res.cost)


def run_pyvrp(path: Path, rounding: str, limit: float, inst: _vrp.VrpInstance) -> Returned:
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = pyvrp.read(path, round_func=rounding)
    res = pyvrp.solve(data, stop=MaxRuntime(limit), seed=1, display=False)
    if not res.is_feasible():
        return Returned(None, None, "its best solution is infeasible")
    # PyVRP 0.14: a route iterates over its scheduled activities; a client's `idx` counts clients
    # from 0 (locations after the depots). Earlier versions had `visits()` with location indices.
    nd = data.num_depots
    routes = [[a.idx + nd for a in r if a.is_client()] if not hasattr(r, "visits") else list(r.visits())
              for r in res.best.routes()]
    return Returned(routes, res.cost() / _vrp.scale(rounding))


def ortools_fleet(inst: _vrp.VrpInstance, name: str) -> int:
    """The file's fleet (Solomon); X files have none (unlimited): k of the name plus 20 % (at least 2)
    is more routes than any good solution uses, which the table's route counts show."""
    if inst.vehicles is not None:
        return inst.vehicles
    k = int(re.search(r"-k(\d+)", name).group(1))  # type: ignore[union-attr]
    return k + max(2, k // 5)


# First-solution strategies: the documentation's CVRP and VRPTW examples use PATH_CHEAPEST_ARC; for the
# VRPTW, PARALLEL_CHEAPEST_INSERTION did better on the generated Solomon-like instances of the tuning set
# (mean gap to the better of the two 0.35 % against 0.95 %, 10 s each; benches/README.md), none of
# them a reported instance. `--ortools-vrptw-first` runs another.
ORTOOLS_FIRST = {"cvrp": "PATH_CHEAPEST_ARC", "vrptw": "PARALLEL_CHEAPEST_INSERTION"}


def run_ortools(path: Path, rounding: str, limit: float, inst: _vrp.VrpInstance) -> Returned:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = inst.n
    dist = _vrp.distance_matrix(inst, rounding)
    vehicles = ortools_fleet(inst, path.stem)
    manager = pywrapcp.RoutingIndexManager(n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    # Matrices rather than Python callbacks, so OR-Tools runs at native speed.
    transit = routing.RegisterTransitMatrix(dist)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    demand = routing.RegisterUnaryTransitVector(inst.demand)
    routing.AddDimensionWithVehicleCapacity(demand, 0, [inst.capacity] * vehicles, True, "Capacity")
    # "Penalties and dropping visits": every client may be dropped at a penalty above the sum of all
    # distances, so the search always has a solution to improve and drops a visit only where it finds
    # no way to serve it; a solution with dropped visits is reported as such, never scored.
    penalty = sum(map(sum, dist)) + 1
    for node in range(1, n):
        routing.AddDisjunction([manager.NodeToIndex(node)], penalty)
    params = pywrapcp.DefaultRoutingSearchParameters()
    tws = _vrp.scaled_windows(inst, rounding)
    if tws is not None:
        windows, service = tws
        # Travel time from i to j includes the service at i (the DIMACS convention: times = distances).
        time_cb = routing.RegisterTransitMatrix([[service[i] + dist[i][j] for j in range(n)] for i in range(n)])
        horizon = windows[0][1]
        # The VRPTW example: slack (waiting) allowed, start cumul not fixed to zero, client windows on
        # the cumul variables, the depot's window on each vehicle's start and end, the start and end
        # times minimised by the finalizer.
        routing.AddDimension(time_cb, horizon, horizon, False, "Time")
        td = routing.GetDimensionOrDie("Time")
        for node in range(1, n):
            td.CumulVar(manager.NodeToIndex(node)).SetRange(*windows[node])
        for v in range(vehicles):
            td.CumulVar(routing.Start(v)).SetRange(*windows[0])
            td.CumulVar(routing.End(v)).SetRange(*windows[0])
            routing.AddVariableMinimizedByFinalizer(td.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(td.CumulVar(routing.End(v)))
    first = ORTOOLS_FIRST["cvrp" if tws is None else "vrptw"]
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    # The routing options page's advice: guided local search, the most efficient metaheuristic for
    # vehicle routing, with a time limit (it never stops by itself).
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(limit * 1000))
    sol = routing.SolveWithParameters(params)
    status = routing.status()
    status_name = {getattr(routing, k): k for k in dir(pywrapcp.RoutingModel) if k.startswith("ROUTING_")}.get(status, str(status))
    if sol is None:
        return Returned(None, None, f"status {status_name}")
    routes = []
    for v in range(vehicles):
        idx = sol.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(idx):
            route.append(manager.IndexToNode(idx))
            idx = sol.Value(routing.NextVar(idx))
        if route:
            routes.append(route)
    dropped = n - 1 - sum(len(r) for r in routes)
    if dropped:
        return Returned(None, None, f"{dropped} visits dropped ({len(routes)}/{vehicles} vehicles used, first solution {first})",
                        dropped=dropped)
    note = f"{len(routes)}/{vehicles} vehicles used" if len(routes) == vehicles else ""
    return Returned(routes, sol.ObjectiveValue() / _vrp.scale(rounding), note)


SOLVERS = {"fleetstream": run_fleetstream, "pyvrp": run_pyvrp, "ortools": run_ortools}
PACKAGES = {"fleetstream": "fleetstream", "pyvrp": "pyvrp", "ortools": "ortools"}


def available(solver: str) -> bool:
    try:
        metadata.version(PACKAGES[solver])
        return True
    except metadata.PackageNotFoundError:
        return False


@dataclass
class Cell:
    gap: float | None
    text: str
    seconds: float
    routes: int | None = None
    note: str = ""


def measure(solver: str, name: str, path: Path, rounding: str, limit: float, inst: _vrp.VrpInstance,
            dist: list[list[int]], bks: float | None) -> Cell:
    started = time.perf_counter()
    try:
        out = SOLVERS[solver](path, rounding, limit, inst)
    except Exception as e:  # a crash is a result too: reported, not hidden
        return Cell(None, "error", time.perf_counter() - started, note=f"{type(e).__name__}: {e}")
    seconds = time.perf_counter() - started
    if out.routes is None:
        return Cell(None, f"{out.dropped} dropped" if out.dropped else "no solution", seconds, note=out.note)
    checked = _vrp.check(inst, rounding, out.routes, dist)
    if checked.cost is None:
        return Cell(None, "rejected", seconds, checked.routes, note="; ".join(checked.problems))
    note = out.note
    if out.reported is None or abs(out.reported - checked.cost) > 1e-6 * max(1.0, checked.cost):
        note = f"reported {out.reported}, checked {checked.cost}" + (f"; {note}" if note else "")
    gap = None if bks is None else 100 * (checked.cost - bks) / bks
    text = f"{checked.cost:g} (no BKS)" if gap is None else f"{gap:.2f}"
    return Cell(gap, text, seconds, checked.routes, note)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def describe_run(args: argparse.Namespace, chosen: list[str]) -> list[str]:
    versions = []
    for s in chosen:
        versions.append(f"{s} {metadata.version(PACKAGES[s])}")
    try:
        commit = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(Path(__file__).parent), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return [
        f"Command: `python benches/bench_routing.py {' '.join(sys.argv[1:])}`",
        f"Versions: {', '.join(versions)}; Python {platform.python_version()}; fleetstream commit {commit}.",
        f"Machine: {os.cpu_count()} cores ({platform.machine()}, {platform.system()} {platform.release()}).",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "vrp")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--only", help="comma-separated instance names")
    parser.add_argument("--solvers", default="fleetstream,pyvrp,ortools")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) to this file")
    parser.add_argument("--ortools-vrptw-first", default=ORTOOLS_FIRST["vrptw"],
                        help="OR-Tools' first-solution strategy on VRPTW instances (a FirstSolutionStrategy name)")
    parser.add_argument("--tuning-set", action="store_true",
                        help="run on the generated instances of _vrpgen.TUNING_SET instead of the data folder's")
    args = parser.parse_args()
    ORTOOLS_FIRST["vrptw"] = args.ortools_vrptw_first
    if not args.data_dir.exists():
        print(f"no data at {args.data_dir}", file=sys.stderr)
        return 2
    bks = load_bks(args.data_dir)
    only = set(args.only.split(",")) if args.only else None
    chosen = [s for s in args.solvers.split(",") if s in SOLVERS]
    for s in [s for s in chosen if not available(s)]:
        print(f"{s} is not installed: skipped", file=sys.stderr)
    chosen = [s for s in chosen if available(s)]
    started = dt.datetime.now().astimezone()
    loads = [load_average()]
    lines = [f"| instance | BKS | " + " | ".join(f"{s} gap %" for s in chosen) + " | routes (" + ", ".join(chosen) + ") |",
             "|---|---:|" + "---:|" * len(chosen) + "---|"]
    print("\n".join(lines), flush=True)
    rows: list[tuple[str, list[Cell]]] = []
    if args.tuning_set:
        import tempfile

        import _vrpgen

        chosen_instances = _vrpgen.write_tuning_set(Path(tempfile.mkdtemp(prefix="vrpgen-")))
        chosen_instances = [i for i in chosen_instances if only is None or i[0] in only]
    else:
        chosen_instances = instances(args.data_dir, only)
    for name, path, rounding in chosen_instances:
        inst = _vrp.read(path)
        dist = _vrp.distance_matrix(inst, rounding)
        cells = [measure(s, name, path, rounding, args.time_limit, inst, dist, bks.get(name)) for s in chosen]
        rows.append((name, cells))
        loads.append(load_average())
        routes = ", ".join("-" if c.routes is None else str(c.routes) for c in cells)
        line = f"| {name} | {bks.get(name, float('nan')):g} | " + " | ".join(c.text for c in cells) + f" | {routes} |"
        lines.append(line)
        print(line, flush=True)
    finished = dt.datetime.now().astimezone()
    summary = summarise(rows, chosen, args.time_limit)
    lines += summary
    print("\n".join(summary), flush=True)
    head = [f"# Routing benchmark ({args.time_limit:g} s per instance, one thread, seed 1)", ""]
    head += describe_run(args, chosen)
    head.append(f"Ran {started:%Y-%m-%d %H:%M}-{finished:%H:%M %Z}; load average (1, 5, 15 min) at the start "
                f"{loads[0]}, after the last instance {loads[-1]}; the 1-minute load after each instance ranged "
                f"{min(float(x.split()[0]) for x in loads[1:]) if len(loads) > 1 else 0:.2f}-"
                f"{max(float(x.split()[0]) for x in loads[1:]) if len(loads) > 1 else 0:.2f}.")
    head.append("")
    if args.out:
        args.out.write_text("\n".join(head + lines) + "\n")
    print("\n".join(head[2:]), file=sys.stderr)
    bad = [(n, s) for n, cells in rows for s, c in zip(chosen, cells) if c.text in ("rejected", "error")]
    return 1 if any(s == "fleetstream" for _, s in bad) else 0


def summarise(rows: list[tuple[str, list[Cell]]], chosen: list[str], limit: float) -> list[str]:
    out = []
    for family, is_family in (("Solomon", lambda n: not n.startswith(("X-", "GX-"))), ("X", lambda n: n.startswith(("X-", "GX-")))):
        sel = [(n, cells) for n, cells in rows if is_family(n)]
        if not sel:
            continue
        common = [(n, cells) for n, cells in sel if all(c.gap is not None for c in cells)]
        means = []
        for k in range(len(chosen)):
            vals = [cells[k].gap for _, cells in sel if cells[k].gap is not None]
            means.append(f"{sum(vals) / len(vals):.2f} ({len(vals)}/{len(sel)})" if vals else "-")  # type: ignore[arg-type]
        out.append(f"| **mean {family}** (instances each solved) | | " + " | ".join(means) + " | |")
        if len(common) != len(sel) and common:
            cm = [f"{sum(cells[k].gap for _, cells in common) / len(common):.2f}" for k in range(len(chosen))]  # type: ignore[misc]
            out.append(f"| **mean {family}, the {len(common)} all solved** | | " + " | ".join(cm) + " | |")
    out.append("")
    if chosen and chosen[0] == "fleetstream":
        for k in range(1, len(chosen)):
            both = [(n, cells) for n, cells in rows if cells[0].gap is not None and cells[k].gap is not None]
            better = sum(1 for _, c in both if c[0].gap < c[k].gap - 1e-9)  # type: ignore[operator]
            worse = sum(1 for _, c in both if c[0].gap > c[k].gap + 1e-9)  # type: ignore[operator]
            out.append(f"fleetstream vs {chosen[k]} on the {len(both)} instances both solved: better on {better}, "
                       f"equal on {len(both) - better - worse}, worse on {worse}"
                       + (f" ({len(rows) - len(both)} instances without a checked solution of one of them are not counted)"
                          if len(both) != len(rows) else "") + ".")
    secs = [f"{s} {sum(cells[k].seconds for _, cells in rows) / max(1, len(rows)):.1f} s"
            for k, s in enumerate(chosen)]
    out.append(f"Mean wall time per instance (reading, model building and solving; limit {limit:g} s): {', '.join(secs)}.")
    notes = [f"- {n}, {s}: {c.text}" + (f" ({c.note})" if c.note else "")
             for n, cells in rows for s, c in zip(chosen, cells) if c.note or c.gap is None]
    if notes:
        out += ["", "Notes (solutions not found, rejected by the checker, or whose reported cost differs from the checked one):", *notes]
    return out


if __name__ == "__main__":
    sys.exit(main())
