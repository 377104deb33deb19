"""Live dispatch benchmark (issue 20). Part 2: a generated day replayed through the Dispatcher.

    python benches/bench_dispatch.py --orders 2000 --vans 50 --hindsight-seconds 120

Part 1, ``--euro``: the EURO Meets NeurIPS 2022 dynamic VRPTW, the competition's controller against
benches/euro_neurips_solver.py (greedy, lazy, fleetstream) and a hindsight solve per instance; see
benches/_euro_bench.py.

    python benches/bench_dispatch.py --euro --data-dir ../shared/data/ortec \
        --tools-dir ../shared/tools/euro-neurips --epoch-tlim 5 --instances 3 --hindsight-seconds 60

A generated day (fleetstream.testing.generate_day: orders over 10 hours, windows of 1-3 h, 10 %
cancelled later, a simulated fleet with random delays and failed deliveries) runs in-process through
``fs.routing.Dispatcher`` (simulate_day: the vans follow the published plan; every 5 min of the day
``improve`` with an iteration budget). Reported:

* distance the fleet drove against a hindsight solve of the same day: every order that was not
  cancelled, known in advance, with its release time (the moment it was placed: no van can carry it
  before), the same vans, the solver's search for ``--hindsight-seconds``. The hindsight solve is a
  bound for the plan, not a policy; the fleet's distance also holds the driving towards stops that
  were cancelled or failed on the way.
* on-time share: stops served within their window, of the orders the fleet served; and served,
  of the orders not cancelled (the hindsight solve's count beside it).
* latency of ``add_orders`` for one order (p50, p99, max) during the day, with the number of open
  stops the dispatcher held; and separately with ``--open`` open stops: a dispatcher given that many
  orders of a wide-window day at once, then single orders one at a time.
* latency of a full ``improve`` tick (p50, p99, max).
* stability: promised stops moved to another van by re-planning (improve), per hour, as a share
  of the promised stops the plan held in that hour (mean over its steps); median, worst hour, and
  the median over the busy hours.

Wall-clock numbers depend on the machine and its load; the run prints the load average beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

import fleetstream as fs
from fleetstream._dispatch_day import DaySpec, generate_day
from fleetstream._dispatch_sim import simulate_day

from _euro_bench import STRATEGIES as EURO_STRATEGIES
from _euro_bench import run_euro


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    return (f"p50 {percentile(values, 0.5) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} ms, "
            f"max {max(values) * 1000:.1f} ms ({len(values)} calls)") if values else "no calls"


def hindsight(day: Any, seconds: float, seed: int) -> Any:
    """The whole day known in advance: every order not cancelled, released when it was placed."""
    model = day.model()
    cancelled = {c["order_id"] for c in day.cancels}
    for o in day.orders:
        if o["order_id"] in cancelled:
            continue
        model.add_client(lat=o["lat"], lon=o["lon"], demand=[o["demand"]], pickup=[o["pickup"]], service=o["service"],
                         time_windows=[(o["tw_start"], o["tw_end"])], release=o["ts"], name=o["order_id"])
    return fs.routing.solve(model, time_limit=seconds, seed=seed)


def open_stop_latency(spec: DaySpec, open_stops: int, probes: int, seed: int) -> tuple[int, list[float]]:
    """add_orders for one order at a time, with ``open_stops`` orders already planned."""
    wide = DaySpec(**{**spec.__dict__, "orders": open_stops + probes, "seed": seed + 1})
    day = generate_day(wide)
    d = fs.routing.Dispatcher(day.model(), freeze="15m", buffer="5m", seed=seed)
    columns = ["order_id", "lat", "lon", "demand", "pickup", "service", "tw_start", "tw_end"]
    now = day.spec.work_start
    # every order's window moved to the whole working day: none is refused for its window alone
    rows = [{**{c: o[c] for c in columns}, "tw_start": now + 3600, "tw_end": day.spec.work_end - 1800} for o in day.orders]
    d.add_orders(pa.Table.from_pylist(rows[:open_stops]), now=now)
    planned = d.plan().num_rows
    latencies = []
    for row in rows[open_stops:]:
        started = time.perf_counter()
        d.add_orders(pa.Table.from_pylist([row]), now=now)
        latencies.append(time.perf_counter() - started)
    return planned, latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--vans", type=int, default=50)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--step", type=int, default=60, help="simulated seconds between fleet reports")
    parser.add_argument("--improve-every", type=int, default=300, help="simulated seconds between improve ticks")
    parser.add_argument("--improve-iterations", type=int, default=200)
    parser.add_argument("--stability", type=float, default=1.0, help="cost of moving a promised stop to another van")
    parser.add_argument("--hindsight-seconds", type=float, default=60.0)
    parser.add_argument("--open", type=int, default=2000, help="open stops for the add_orders latency probe (0: skip)")
    parser.add_argument("--probes", type=int, default=200, help="single orders timed in that probe")
    parser.add_argument("--out", default=None, help="also write the report (markdown) here")
    euro = parser.add_argument_group("part 1, EURO Meets NeurIPS 2022 (--euro)")
    euro.add_argument("--euro", action="store_true", help="run part 1 instead of the replay")
    euro.add_argument("--data-dir", type=Path, default=Path("../shared/data/ortec"), help="the ORTEC instances")
    euro.add_argument("--tools-dir", type=Path, default=Path("../shared/tools/euro-neurips"), help="the competition's harness")
    euro.add_argument("--epoch-tlim", type=int, default=5, help="seconds per epoch (the controller's --epoch_tlim)")
    euro.add_argument("--instances", type=int, default=3, help="how many instances, smallest first")
    euro.add_argument("--strategies", default=",".join(EURO_STRATEGIES), help="comma-separated")
    euro.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results" / "dispatch.md",
                      help="the markdown file whose EURO section for this time limit is (re)written; '-' for none")
    args = parser.parse_args(argv)
    if args.euro:
        strategies = tuple(s for s in args.strategies.split(",") if s)
        results = None if str(args.results) == "-" else args.results
        return run_euro(args.data_dir, args.tools_dir, args.epoch_tlim, args.instances, args.hindsight_seconds,
                        seed=1, strategies=strategies, results=results,
                        command_line="python benches/bench_dispatch.py " + " ".join(argv if argv is not None else sys.argv[1:]))

    spec = DaySpec(orders=args.orders, vans=args.vans, waves=args.waves, seed=args.seed)
    day = generate_day(spec)
    lines = [f"# Live dispatch replay: {len(day.orders)} orders ({len(day.cancels)} cancelled later), {spec.vans} vans x "
             f"{spec.waves} waves, seed {spec.seed}",
             "",
             f"fleetstream {fs.__version__}, {os.cpu_count()} cores, load average before: "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; improve every {args.improve_every} s of the day with "
             f"{args.improve_iterations} iterations; fleet reports every {args.step} s; freeze 15m, buffer 5m, stability {args.stability:g}.",
             ""]

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    d = fs.routing.Dispatcher(day.model(), freeze="15m", buffer="5m", stability=args.stability, seed=1)
    open_stops: list[int] = []
    open_by_hour: dict[int, list[int]] = {}

    def observe(t: int, disp: Any) -> None:
        n = disp.plan().num_rows
        open_stops.append(n)
        open_by_hour.setdefault(t // 3600, []).append(n)

    started = time.perf_counter()
    run = simulate_day(day, d, step=args.step, improve_every=args.improve_every,
                       improve_iterations=args.improve_iterations, on_step=observe)
    replay_s = time.perf_counter() - started
    s = run.stats
    cancelled = len({c["order_id"] for c in day.cancels})
    wanted = len(day.orders) - cancelled
    statuses: dict[str, int] = {}
    for row in d.orders().to_pylist():
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    say(f"- replay: {replay_s:.0f} s wall clock; fates {dict(sorted(statuses.items()))}")

    result = hindsight(day, args.hindsight_seconds, seed=1)
    served_h = wanted - len(result.missing)
    gap = s.distance_m / result.distance - 1 if result.distance else float("nan")
    say(f"- distance: the fleet drove {s.distance_m / 1000:,.1f} km serving {s.served} of {wanted} orders not cancelled "
        f"({s.failed} failed at the door); hindsight solve ({args.hindsight_seconds:g} s, release times) "
        f"{result.distance / 1000:,.1f} km serving {served_h}, feasible {result.feasible}: live is {gap:+.1%} "
        f"(target within +8 %)")
    if served_h != s.served:
        say(f"  (the two serve different numbers of orders: {s.served} live, {served_h} in hindsight; the distances "
            "are not of the same work)")
    on_time = s.on_time / s.served if s.served else float("nan")
    say(f"- on time: {s.on_time} of {s.served} served stops ({on_time:.1%}; target >= 99 % of feasible orders); "
        f"{s.late} late, median lateness {statistics.median(s.lateness_s) / 60 if s.lateness_s else 0:.1f} min; "
        f"served {s.served / wanted:.1%} of the orders not cancelled")
    say(f"- add_orders, one order, during the day (up to {max(open_stops, default=0)} open stops): "
        f"{ms(run.add_latency)}")
    if args.open:
        planned, latencies = open_stop_latency(spec, args.open, args.probes, seed=1)
        say(f"- add_orders, one order, with {planned} open stops planned ({args.open} given, whole-day windows): "
            f"{ms(latencies)} (target p99 <= 20 ms)")
    say(f"- improve tick ({args.improve_iterations} iterations): {ms(run.improve_latency)}")
    # per hour: stops moved to another van by re-planning, over the promised stops the plan held
    # (the mean over the hour's steps); a stop moved twice counts twice
    shares = {h: run.moved_by_hour.get(h, 0) / statistics.mean(ns) for h, ns in sorted(open_by_hour.items())
              if statistics.mean(ns) >= 1}
    total_moved = sum(run.moved_by_hour.values())
    worst = max(shares.items(), key=lambda kv: kv[1], default=(0, 0.0))
    busy = [v for h, v in shares.items() if statistics.mean(open_by_hour[h]) >= 0.25 * max(open_stops, default=0)]
    say(f"- stability: {total_moved} moves of promised stops to another van by improve over the day "
        f"({total_moved / max(len(day.orders), 1):.1%} of the orders); per hour, moves / promised stops in the plan: "
        f"median {statistics.median(shares.values()) if shares else 0:.1%}, worst {worst[0]:02d}:00 {worst[1]:.1%}; "
        f"median over the busy hours (plan at least a quarter of its peak) {statistics.median(busy) if busy else 0:.1%} "
        f"(target <= 5 % per hour)")
    say(f"- load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
