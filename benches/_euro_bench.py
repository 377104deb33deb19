"""Live dispatch benchmark, part 1 (issue 20): EURO Meets NeurIPS 2022, the dynamic VRPTW.

Runs the competition's own controller (``controller.py`` in ``--tools-dir``, by path) against
``benches/euro_neurips_solver.py`` for every strategy and instance, one process at a time, reads its
"Cost of solution", solves each instance's day in hindsight (the bound), and writes a markdown table
into a section of benches/results/dispatch.md (other sections are kept as they are).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOLVER = HERE / "euro_neurips_solver.py"
STRATEGIES = ("greedy", "lazy", "fleetstream")
#: the controller's cost for a failed episode is a billion per epoch left (environment.py)
FAILED_COST = 10**9


@dataclass
class InstanceRun:
    name: str
    requests: int | None = None
    costs: dict[str, int | None] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def customers(path: Path) -> int:
    """The instance's size as its name gives it (``...-n206-k12``); instances are run smallest first."""
    match = re.search(r"-n(\d+)-", path.name)
    return int(match.group(1)) if match else 10**9


def run_controller(instance: Path, tools_dir: Path, epoch_tlim: int, strategy: str, seed: int) -> tuple[int | None, float, str]:
    """(cost or None, wall seconds, error) of one controller run, exactly as the harness's README runs it."""
    command = [sys.executable, "controller.py", "--instance", str(instance.resolve()), "--epoch_tlim", str(epoch_tlim),
               "--", sys.executable, str(SOLVER), "--strategy", strategy, "--seed", str(seed)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tools_dir, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    match = re.search(r"Cost of solution: (\d+)", done.stdout)
    if done.returncode != 0 or not match or int(match.group(1)) >= FAILED_COST:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, seconds, f"exit {done.returncode}: {tail}"
    return int(match.group(1)), seconds, ""


def run_hindsight(instance: Path, tools_dir: Path, seconds: float, seed: int) -> tuple[int | None, int | None, float, str]:
    """(cost, requests of the day, wall seconds, error) of the hindsight solve."""
    command = [sys.executable, str(SOLVER), "--hindsight", "--instance", str(instance.resolve()), "--tools-dir",
               str(tools_dir.resolve()), "--seconds", str(seconds), "--seed", str(seed)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    cost = re.search(r"Hindsight cost: (\d+)", done.stdout)
    requests = re.search(r"Hindsight requests: (\d+)", done.stdout)
    if done.returncode != 0 or not cost or not requests:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, None, wall, f"exit {done.returncode}: {tail}"
    return int(cost.group(1)), int(requests.group(1)), wall, ""


def gap(cost: float | None, reference: float | None) -> str:
    return "-" if cost is None or not reference else f"{cost / reference - 1:+.1%}"


def better_of_greedy_lazy(run: InstanceRun) -> int | None:
    known = [c for s in ("greedy", "lazy") if (c := run.costs.get(s)) is not None]
    return min(known) if known else None


def table(runs: list[InstanceRun], strategies: tuple[str, ...]) -> list[str]:
    columns = [*strategies, "hindsight"]
    lines = ["| instance | requests | " + " | ".join(columns) + " | fleetstream vs better of greedy/lazy | fleetstream vs hindsight |",
             "| --- | ---: | " + " | ".join("---:" for _ in columns) + " | ---: | ---: |"]
    for run in runs:
        cells = [f"{c:,}" if (c := run.costs.get(s)) is not None else "failed" for s in columns]
        lines.append(f"| {run.name} | {run.requests if run.requests is not None else '-'} | " + " | ".join(cells) +
                     f" | {gap(run.costs.get('fleetstream'), better_of_greedy_lazy(run))} | "
                     f"{gap(run.costs.get('fleetstream'), run.costs.get('hindsight'))} |")
    complete = [r for r in runs if all(r.costs.get(s) is not None for s in columns)]
    if complete:
        means = {s: statistics.mean(r.costs[s] or 0 for r in complete) for s in columns}
        better = min(means.get("greedy", float("inf")), means.get("lazy", float("inf")))
        lines.append(f"| **mean of {len(complete)}** | | " + " | ".join(f"{means[s]:,.0f}" for s in columns) +
                     f" | **{gap(means.get('fleetstream'), better)}** | **{gap(means.get('fleetstream'), means['hindsight'])}** |")
    return lines


def write_section(results: Path, heading: str, body: list[str]) -> None:
    """Replaces the section under ``heading`` (up to the next "## " heading) or appends it."""
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    section = heading + "\n\n" + "\n".join(body).rstrip() + "\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("" if following < 0 else text[following:])
    results.write_text(text, encoding="utf-8")


def run_euro(data_dir: Path, tools_dir: Path, epoch_tlim: int, instances: int, hindsight_seconds: float, seed: int,
             strategies: tuple[str, ...], results: Path | None, command_line: str) -> int:
    if not (tools_dir / "controller.py").exists():
        print(f"no controller.py in {tools_dir}: give --tools-dir (the competition's harness)", file=sys.stderr)
        return 2
    paths = sorted(data_dir.glob("*.txt"), key=lambda p: (customers(p), p.name))[:instances]
    if not paths:
        print(f"no instances (*.txt) in {data_dir}: give --data-dir", file=sys.stderr)
        return 2
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    started = time.perf_counter()
    runs: list[InstanceRun] = []
    for path in paths:
        run = InstanceRun(name=path.stem.replace("ORTEC-VRPTW-ASYM-", ""))
        runs.append(run)
        for strategy in strategies:
            cost, seconds, error = run_controller(path, tools_dir, epoch_tlim, strategy, seed)
            run.costs[strategy], run.seconds[strategy] = cost, seconds
            if error:
                run.errors[strategy] = error
            print(f"{run.name} {strategy}: {cost if cost is not None else error} ({seconds:.0f} s)", flush=True)
        cost, requests, seconds, error = run_hindsight(path, tools_dir, hindsight_seconds, seed)
        run.costs["hindsight"], run.requests, run.seconds["hindsight"] = cost, requests, seconds
        if error:
            run.errors["hindsight"] = error
        print(f"{run.name} hindsight: {cost if cost is not None else error} ({seconds:.0f} s)", flush=True)
    lines = table(runs, strategies)
    print("\n".join(lines))
    if results is not None:
        body = [f"`{command_line}`",
                "",
                f"Run on {time.strftime('%Y-%m-%d', time.gmtime())}: {len(runs)} instances (smallest first), instance seed 1, "
                f"solver seed {seed}; {os.cpu_count()} cores shared with another session, load average before "
                f"{load_before}, after {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {time.perf_counter() - started:.0f} s "
                f"wall clock. Costs are the controller's \"Cost of solution\" (driving duration of the day, lower is "
                f"better); hindsight is one solve of the whole day ({hindsight_seconds:g} s, release times), a bound "
                "reached by no policy and itself a heuristic solve. The mean row's gaps are between mean costs.",
                "",
                *lines]
        failures = [f"- {r.name} {s}: {e}" for r in runs for s, e in r.errors.items()]
        if failures:
            body += ["", "Failed runs:", *failures]
        write_section(results, f"## EURO Meets NeurIPS 2022 (issue 20, part 1), epoch time limit {epoch_tlim} s", body)
    return 0
