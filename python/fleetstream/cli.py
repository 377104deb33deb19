"""The ``fleetstream`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from fleetstream._cli_progress import run_reporting_progress as run_reporting_progress  # _cli_payments imports it from here


def _demo(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc

    import fleetstream as fs
    from fleetstream.testing import LogStreamSpec, generate_log_lines

    spec = LogStreamSpec(events=args.events, seed=args.seed, format=args.format)
    print(f"fleetstream {fs.__version__} demo: error-log alerts on embedded defaults (no broker, no server)")
    print(f"generating {spec.events:,} log lines ({spec.services} services, ~{spec.error_share:.0%} errors, "
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
    _demo_sessions(args)
    if args.payments > 0:
        from fleetstream._cli_payments import demo_payments

        demo_payments(args)
    if args.orders > 0:
        _routing_demo(args)
    return 0


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


def _alerts(args: argparse.Namespace) -> int:
    import signal

    from fleetstream.pipeline import AlertsConfig, AlertsPipeline

    config = AlertsConfig(
        brokers=args.brokers, topic=args.topic, alerts_topic=args.alerts_topic, group=args.group,
        state_dir=args.state_dir, windows_topic=args.windows_topic, log_format=args.format,
        window=args.window, watermark=args.watermark, history=args.history, factor=args.factor,
        floor=args.floor, checkpoint_every=args.checkpoint_every, idle_exit=args.idle_exit,
        batch_size=args.batch_size, max_rate=args.max_rate,
    )
    metrics = None
    if args.metrics_port is not None:
        from fleetstream.pipeline.metrics import PipelineMetrics

        metrics = PipelineMetrics(args.metrics_port)
        print(f"metrics on http://127.0.0.1:{metrics.port}/metrics", file=sys.stderr, flush=True)
    pipeline = AlertsPipeline(config, metrics)
    # SIGTERM stops as cleanly as Ctrl-C: checkpoint, leave the group.
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    print(f"alerts: {args.brokers} {args.topic} -> {args.alerts_topic} (group {args.group}, state {args.state_dir})",
          file=sys.stderr, flush=True)

    def progress() -> str:
        c = pipeline.counts
        return (f"{c['messages']:,} messages, {c['errors']:,} errors, {c['windows']:,} windows, "
                f"{c['alerts']:,} alerts, {c['parse_rejects']:,} rejects, partitions "
                f"{sorted(p for _, p in pipeline.states)}")

    try:
        run_reporting_progress(pipeline.run, progress, args.progress_every)
    finally:
        if metrics is not None:
            metrics.close()
    return 0


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
    parser = argparse.ArgumentParser(prog="fleetstream", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the error-log alert pipeline on generated logs, then plan a generated day of deliveries")
    demo.add_argument("--events", type=int, default=300_000, help="log lines to generate (default 300000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--format", choices=["python", "json"], default="python", help="log line format")
    demo.add_argument("--clicks", type=int, default=200_000, help="click events to sessionize (default 200000)")
    demo.add_argument("--orders", type=int, default=60, help="deliveries in the routing part (0 skips it)")
    demo.add_argument("--route-seconds", type=float, default=2.0, help="time limit for planning the routes")
    demo.add_argument("--payments", type=int, default=100_000, help="payment events for the exactly-once part (0 skips it)")
    demo.set_defaults(run=_demo)
    alerts = commands.add_parser("alerts", help="error-log spike alerts from a Kafka topic of log lines to a Kafka topic")
    alerts.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    alerts.add_argument("--topic", default="logs", help="topic of raw log lines (default logs)")
    alerts.add_argument("--alerts-topic", default="alerts", help="topic alerts are produced to (JSON, keyed by service)")
    alerts.add_argument("--windows-topic", default=None, help="also produce every closed window count here")
    alerts.add_argument("--group", required=True, help="consumer group; run more processes with it to scale out")
    alerts.add_argument("--state-dir", default=".fleetstream-state",
                        help="checkpoint directory shared by the group's processes (default .fleetstream-state)")
    alerts.add_argument("--format", choices=["python", "json"], default="python", help="log line format")
    alerts.add_argument("--window", default="1m")
    alerts.add_argument("--watermark", default="5s")
    alerts.add_argument("--history", type=int, default=10)
    alerts.add_argument("--factor", type=float, default=3.0)
    alerts.add_argument("--floor", type=float, default=20)
    alerts.add_argument("--max-rate", type=float, default=None, help="consume at most this many messages per second")
    alerts.add_argument("--batch-size", type=int, default=20_000, help="most messages per polled batch")
    alerts.add_argument("--checkpoint-every", default="2s", help="checkpoint interval (default 2s)")
    alerts.add_argument("--idle-exit", type=float, default=None,
                        help="after this many seconds without input, close all windows, checkpoint and exit")
    alerts.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port (0: any)")
    alerts.add_argument("--progress-every", type=float, default=10.0, help="progress line interval in s (0: off)")
    alerts.set_defaults(run=_alerts)
    from fleetstream._cli_dispatch import add_command as add_dispatch
    from fleetstream._cli_dispatch_sim import add_command as add_dispatch_sim
    from fleetstream._cli_payments import add_commands

    add_commands(commands)
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
