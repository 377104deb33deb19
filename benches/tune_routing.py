"""Tunes the routing solver's search settings on generated instances, none of them a benchmark one.

    python benches/tune_routing.py --out benches/results/tuning.md

The instances are `_vrpgen.TUNING_SET` (8 Solomon-like VRPTW with 100 clients, 4 X-like CVRP with
119-239 clients; generator seeds 101-108 and 201-204), written to a temporary folder: none of them
is a Solomon or X file the routing benchmark reports on. Every run is one thread under a fixed
iteration budget (`--iterations`), so the scores do not depend on the machine's load, with solver
seeds 1..`--seeds`.

The search is a coordinate search from the current defaults (`START`): for each setting in turn,
every value of its grid (`GRID`) is tried with the other settings at the best values so far, and
the best value is kept; `--rounds` passes over the settings, stopping early after a pass that
changes nothing. Score of a configuration: the mean, over instances and seeds, of the gap of its
cost to the best cost any configuration found on that instance (its infeasible results counted
apart; fewer infeasible results rank first). The scores of the table are recomputed at the end
against the final best costs, and the chosen configuration is the best of all evaluated ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import fleetstream as fs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _vrpgen  # noqa: E402

# The defaults of `SearchTuning` (src/routing/search.rs) and `SolveParams::num_neighbours`. The run
# recorded in benches/results/tuning.md started from the earlier ones (temperature_end 0.005,
# num_neighbours 40): its "defaults" are those.
START: dict[str, float] = {
    "temperature_start": 0.5,
    "temperature_end": 0.02,
    "ruin_removed": 15,
    "ruin_max_string": 10,
    "blink": 0.01,
    "target_feasible": 0.5,
    "penalty_interval": 25,
    "num_neighbours": 20,
}
GRID: dict[str, list[float]] = {
    "temperature_start": [0.1, 0.25, 0.5, 1.0, 2.0],
    "temperature_end": [0.001, 0.005, 0.02],
    "ruin_removed": [8, 15, 25],
    "ruin_max_string": [5, 10, 20],
    "blink": [0.0, 0.01, 0.05],
    "target_feasible": [0.3, 0.5, 0.7],
    "penalty_interval": [10, 25, 50],
    "num_neighbours": [20, 40, 60],
}

Config = tuple[tuple[str, float], ...]


def key(cfg: dict[str, float]) -> Config:
    return tuple(sorted(cfg.items()))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Tuner:
    def __init__(self, instances: list[tuple[str, fs.routing.Instance]], iterations: int | None, seeds: int,
                 time_limit: float | None = None) -> None:
        self.instances = instances
        self.iterations = iterations
        self.time_limit = time_limit
        self.seeds = seeds
        # config -> {(instance, seed): cost or None (infeasible)}
        self.results: dict[Config, dict[tuple[str, int], int | None]] = {}
        self.seconds: dict[Config, float] = {}
        self.best: dict[str, int] = {}

    def run(self, cfg: dict[str, float]) -> None:
        k = key(cfg)
        if k in self.results:
            return
        started = time.perf_counter()
        costs: dict[tuple[str, int], int | None] = {}
        for name, inst in self.instances:
            for seed in range(1, self.seeds + 1):
                sol = inst.problem.solve(seed=seed, threads=1, max_iterations=self.iterations,
                                          max_runtime=self.time_limit, tuning=cfg)
                costs[(name, seed)] = sol.cost if sol.feasible else None
                if sol.feasible and (name not in self.best or sol.cost < self.best[name]):
                    self.best[name] = sol.cost
        self.results[k] = costs
        self.seconds[k] = time.perf_counter() - started
        print(f"  {describe(cfg):<60} {self.score_text(k)}  ({self.seconds[k]:.0f} s, load {load_average()})",
              flush=True)

    def score(self, k: Config, prefix: str = "") -> tuple[int, float]:
        """(infeasible results, mean gap % to the best costs found so far) over instances named `prefix*`."""
        gaps, infeasible = [], 0
        for (name, _), cost in self.results[k].items():
            if not name.startswith(prefix):
                continue
            if cost is None:
                infeasible += 1
            else:
                gaps.append(100.0 * (cost - self.best[name]) / self.best[name])
        return infeasible, (sum(gaps) / len(gaps) if gaps else float("inf"))

    def score_text(self, k: Config) -> str:
        inf, gap = self.score(k)
        return f"mean gap {gap:.3f} %" + (f", {inf} infeasible" if inf else "")


def describe(cfg: dict[str, float]) -> str:
    changed = [f"{n}={v:g}" for n, v in cfg.items() if v != START[n]]
    return ", ".join(changed) if changed else "defaults"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=1000, help="iteration budget of every run")
    parser.add_argument("--time-limit", type=float,
                        help="seconds per run instead of an iteration budget (scores then depend on the load)")
    parser.add_argument("--seeds", type=int, default=1, help="solver seeds 1..N per instance")
    parser.add_argument("--rounds", type=int, default=1, help="passes of the coordinate search")
    parser.add_argument("--out", type=Path, help="write the report (markdown) to this file")
    parser.add_argument("--compare", metavar="NAME=VALUE,...",
                        help="no search: score the starting defaults against this configuration (e.g. the chosen "
                             "one under a larger --iterations)")
    args = parser.parse_args()

    started = dt.datetime.now().astimezone()
    load_start = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        files = _vrpgen.write_tuning_set(Path(tmp))
        instances = [(name, fs.routing.read_vrplib(path, round=rounding)) for name, path, rounding in files]
    tuner = Tuner(instances, None if args.time_limit else args.iterations, args.seeds, args.time_limit)

    current = dict(START)
    print(f"start: {describe(current)}", flush=True)
    tuner.run(current)
    if args.compare:
        other = dict(START)
        for item in args.compare.split(","):
            name, value = item.split("=")
            if name not in START:
                parser.error(f"unknown setting {name!r}")
            other[name] = float(value)
        tuner.run(other)
    for round_no in range(1, 0 if args.compare else args.rounds + 1):
        changed = False
        for name, values in GRID.items():
            print(f"round {round_no}, {name}:", flush=True)
            for v in values:
                tuner.run({**current, name: v})
            best_v = min(values, key=lambda v: tuner.score(key({**current, name: v})))
            if best_v != current[name]:
                current[name] = best_v
                changed = True
                print(f"  -> {name} = {best_v:g}", flush=True)
        if not changed:
            break

    finished = dt.datetime.now().astimezone()
    ranked = sorted(tuner.results, key=tuner.score)
    chosen = dict(ranked[0])
    total = sum(tuner.seconds.values())
    budget = f"{args.time_limit:g} s" if args.time_limit else f"{args.iterations} iterations"
    lines = [
        "# " + ("Comparing search settings" if args.compare else "Tuning the routing solver's search settings")
        + " (generated instances only)",
        "",
        f"Command: `python benches/tune_routing.py {' '.join(sys.argv[1:])}`",
        f"Ran {started:%Y-%m-%d %H:%M}-{finished:%H:%M %Z}, one thread ({total / 60:.1f} min of solving); "
        f"load average (1, 5, 15 min) {load_start} at the start, {load_average()} at the end.",
        f"Instances: {', '.join(n for n, _ in instances)} (`_vrpgen.TUNING_SET`); {budget} per run, "
        f"solver seeds 1-{args.seeds}; {len(tuner.results)} configurations.",
        "Gaps are to the best cost any configuration found on the instance; Solomon-like: `G*`, X-like: `GX-*`.",
        "",
        "| configuration (settings other than the starting defaults) | mean gap % | Solomon-like | X-like | infeasible runs | s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k in ranked:
        inf, gap = tuner.score(k)
        _, g_x = tuner.score(k, "GX")
        sol_gaps = [100.0 * (c - tuner.best[n]) / tuner.best[n]
                    for (n, _), c in tuner.results[k].items() if not n.startswith("GX") and c is not None]
        g_sol = sum(sol_gaps) / len(sol_gaps) if sol_gaps else float("nan")
        lines.append(f"| {describe(dict(k))} | {gap:.3f} | {g_sol:.3f} | {g_x:.3f} | {inf} | {tuner.seconds[k]:.0f} |")
    lines += ["", ("Better" if args.compare else "Chosen") + f": {describe(chosen)} (the first row): " +
              ", ".join(f"{n}={v:g}" for n, v in chosen.items()) + "."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
