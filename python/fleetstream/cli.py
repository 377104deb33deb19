"""The fleetstream command line: the demo on generated data, solving a VRPLIB file, and the Kafka pipelines (alerts, payments,
dispatch) with their data generators. ``fleetstream COMMAND --help`` tells each command's options."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def _demo(args: argparse.Namespace) -> int:
    """The four parts, each skipped when its count is 0."""
    import fleetstream as fs

    print(f"fleetstream {fs.__version__} demo on generated data (no broker, no server)")
    if args.events > 0:
        _demo_alerts(args)
    if args.clicks > 0:
        _demo_sessions(args)
    if args.payments > 0:
        from fleetstream._cli_payments import demo_payments

        demo_payments(args)
    if args.orders > 0:
        _routing_demo(args)
    return 0

def _demo_alerts(args: argparse.Namespace) -> None:
    import pyarrow.compute as pc

    import fleetstream as fs
    from fleetstream.testing import LogStreamSpec, generate_log_lines

    spec = LogStreamSpec(events=args.events, seed=args.seed, format=args.format)
    print(f"\nerror-log alerts: generating {spec.events:,} log lines ({spec.services} services, ~{spec.error_share:.0%} errors, "
          f"up to {spec.max_disorder_ms / 1000:g} s out of order, spikes in {', '.join(spec.spikes)}) ...")
    lines = generate_log_lines(spec)

    parser = fs.LogParser.python_logging() if spec.format == "python" else fs.LogParser.json()
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), time="ts", key="service",
                              aggs={"errors": fs.count()}, watermark="5s")
    detector = fs.SpikeDetector(value="errors", key="service", history=10, factor=3.0, floor=20)

    started = time.perf_counter()
    parsed = rejected = windows = 0
    alerts = []
    reject_example = None
    chunk = 50_000  # as if tailing a file: one parse / push per chunk
    for begin in range(0, len(lines), chunk):
        result = parser.parse(lines[begin:begin + chunk])
        parsed += result.records.num_rows
        rejected += result.rejects.num_rows
        if reject_example is None and result.rejects.num_rows:
            reject_example = result.rejects.slice(0, 1).to_pylist()[0]
        errors = result.records.filter(pc.equal(result.records["level"], "ERROR"))
        closed = agg.push(errors)
        windows += closed.num_rows
        alerts.append(detector.push(closed))
    closed = agg.flush()
    windows += closed.num_rows
    alerts.append(detector.push(closed))
    elapsed = time.perf_counter() - started
    late = agg.take_late().num_rows

    print(f"parsed {parsed:,} lines, rejected {rejected:,} (reconciles: {parsed + rejected == len(lines)}), "
          f"{windows:,} service-minute windows, {late} late events, in {elapsed:.2f} s")
    if reject_example is not None:
        print(f"example reject at position {reject_example['position']}: {reject_example['reason']}")
    import pyarrow as pa

    table = pa.concat_tables(alerts)
    print(f"\n{table.num_rows} alert(s) raised:")
    for row in table.to_pylist():
        start = row["window_start"].strftime("%Y-%m-%d %H:%M")
        print(f"  {row['service']:<10} {start} UTC  {row['value']:>5.0f} errors/min  (baseline {row['baseline']:.1f}, rule {row['rule']})")

def _demo_sessions(args: argparse.Namespace) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    import fleetstream as fs
    from fleetstream.testing import generate_clicks

    clicks = generate_clicks(events=args.clicks, users=max(args.clicks // 50, 1), seed=args.seed)
    print(f"\nsessionizing {clicks.num_rows:,} generated clicks of {pc.count_distinct(clicks['user_id']).as_py():,} users "
          "(30 min inactivity gap, up to 10 s out of order) ...")
    started = time.perf_counter()
    sessionizer = fs.Sessionizer(gap="30m", key="user_id", time="ts", watermark="10s",
                                 aggs={"page_views": fs.count(), "pages": fs.count_distinct("page"),
                                       "first_page": fs.first("page"), "last_page": fs.last("page")})
    parts = [sessionizer.push(batch) for batch in clicks.to_batches(max_chunksize=65_536)]
    parts.append(sessionizer.flush())
    sessions = pa.concat_tables(parts)
    elapsed = time.perf_counter() - started
    minutes = pc.divide(sessions["duration_ms"], 60_000.0)
    print(f"{sessions.num_rows:,} sessions in {elapsed:.2f} s; {sessionizer.stats()['rows_late']} late clicks")
    print(f"  duration: median {pc.approximate_median(minutes).as_py():.1f} min, "
          f"p90 {pc.quantile(minutes, 0.9)[0].as_py():.1f} min; "
          f"page views: mean {pc.mean(sessions['page_views']).as_py():.1f}, max {pc.max(sessions['page_views']).as_py()}")
    bounced = pc.sum(pc.equal(sessions["page_views"], 1)).as_py()
    print(f"  single-page sessions: {bounced / max(sessions.num_rows, 1):.1%}")

def _routing_demo(args: argparse.Namespace) -> None:
    import fleetstream as fs
    from fleetstream.routing._demo import delivery_day

    model = delivery_day(clients=args.orders, seed=args.seed)
    print(f"\nplanning a generated day of {args.orders} deliveries around a Berlin hub "
          f"({args.route_seconds:g} s time limit, seed {args.seed}) ...")
    result = fs.routing.solve(model, time_limit=args.route_seconds, seed=args.seed)
    stops = result.stops()
    print(f"{result.num_routes} van(s), {result.distance / 1000:.1f} km, cost {result.cost:.2f}, "
          f"feasible: {result.feasible}, {result.iterations} iterations in {result.runtime:.1f} s")
    for k, plan in enumerate(result.plans):
        first, last = plan.start_time, plan.end_time
        print(f"  van {k + 1:<2} {len(plan.clients):>3} stops  {first // 3600:02d}:{first % 3600 // 60:02d}-"
              f"{last // 3600:02d}:{last % 3600 // 60:02d}  {plan.distance / 1000:6.1f} km  peak load {max(l[0] for l in plan.load) if plan.load else 0}")
    print(f"stop table: {stops.num_rows} rows ({', '.join(stops.column_names)})")

def build_parser() -> argparse.ArgumentParser:
    from fleetstream import __version__
    from fleetstream._cli_args import HelpFormatter, add_parser, count, seconds

    parser = argparse.ArgumentParser(
        prog="fleetstream", formatter_class=HelpFormatter,
        description="fleetstream: stream processing and vehicle routing with a Rust core. Run a demo on generated "
                    "data, solve a VRPLIB instance file, or the Kafka pipelines (alerts, payments, dispatch) and their data generators; "
                    "fleetstream COMMAND --help tells a command's options.")
    parser.add_argument("--version", action="version", version=f"fleetstream {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = add_parser(commands, "demo", "run four demos on generated data, no broker or server: error-log alerts, click "
                                        "sessionization, exactly-once payments into SQLite, and a day of delivery routes")
    demo.add_argument("--events", type=count, default=300_000, help="log lines for the error-log alerts part (0 skips it)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of every generator and of the route search")
    demo.add_argument("--format", choices=["python", "json"], default="python", help="log line format of the alerts part")
    demo.add_argument("--clicks", type=count, default=200_000, help="click events for the sessionization part (0 skips it)")
    demo.add_argument("--payments", type=count, default=100_000, help="payment events for the exactly-once part (0 skips it)")
    demo.add_argument("--orders", type=count, default=60, help="deliveries for the routing part (0 skips it)")
    demo.add_argument("--route-seconds", type=seconds, default="2s",
                      help="time limit for planning the routes: a duration (500ms, 2s, 1m) or a bare number of seconds")
    demo.set_defaults(run=_demo)
    from fleetstream._cli_alerts import add_command as add_alerts
    from fleetstream._cli_dispatch import add_command as add_dispatch
    from fleetstream._cli_dispatch_sim import add_command as add_dispatch_sim
    from fleetstream._cli_payments import add_commands as add_payments
    from fleetstream._cli_parse_logs import add_command as add_parse_logs
    from fleetstream._cli_solve import add_command as add_solve

    add_parse_logs(commands)
    add_solve(commands)
    add_alerts(commands)
    add_payments(commands)
    add_dispatch(commands)
    add_dispatch_sim(commands)
    return parser

def main(argv: Sequence[str] | None = None) -> int:
    from fleetstream.exceptions import FleetstreamError

    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except FleetstreamError as error:
        # An operator's mistake (bad option, unreachable database, unreadable file): the typed
        # message names it; a traceback would only bury it.
        print(f"fleetstream {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
