"""The ``dispatch`` command: live dispatch on Kafka (see ``fleetstream.pipeline.dispatch``)."""

from __future__ import annotations

import argparse
import sys

from fleetstream._cli_args import add_parser, count, duration, positive, seconds


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = add_parser(commands, "dispatch", "live dispatch: orders and vehicle events from Kafka, plan changes to Kafka")
    run.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    run.add_argument("--orders-topic", default="orders", help="orders (JSON: new, cancel, hold), one partition")
    run.add_argument("--vehicle-topic", default="vehicle-events", help="vehicle events (JSON), one partition")
    run.add_argument("--plans-topic", default="plans", help="route changes and order fates are produced here")
    run.add_argument("--rejects-topic", default=None, help="input that cannot be used, with the reason (default: PLANS-rejects)")
    run.add_argument("--fleet", required=True, help="fleet CSV: vehicle_id, lat, lon (or x, y), capacity, shift_start, shift_end, ...")
    run.add_argument("--group", required=True, help="consumer group (one active process per fleet; others stand by)")
    run.add_argument("--state-dir", default=".fleetstream-state", help="checkpoint directory (default .fleetstream-state)")
    run.add_argument("--freeze", default="15m", type=duration, help="stops a van reaches within this horizon are fixed (default 15m; a bare number is seconds)")
    run.add_argument("--stability", type=float, default=1.0, help="cost of moving a promised stop to another van")
    run.add_argument("--buffer", default="0", type=duration, help="plans aim to arrive this long before a window closes (e.g. 10m; a bare number is seconds)")
    run.add_argument("--improve-every", default="10s", type=duration, help="re-plan every this much event time (default 10s; a bare number is seconds)")
    run.add_argument("--improve-iterations", type=count, default=200, help="search iterations per re-plan (deterministic)")
    run.add_argument("--improve-time-limit", type=seconds, default=None,
                     help="wall-clock cap per re-plan, a duration or seconds (not deterministic)")
    run.add_argument("--seed", type=int, default=1, help="random seed of the route search")
    run.add_argument("--threads", type=positive, default=1, help="threads of the route search")
    run.add_argument("--origin", default=None, help="the instant of time 0 (e.g. 2026-12-03) to read timestamps")
    run.add_argument("--checkpoint-every", default="2s", type=duration, help="checkpoint interval (default 2s; a bare number is seconds)")
    run.add_argument("--merge-wait", type=seconds, default="30s",
                     help="a partition no fetch response reported on this long after assignment counts as caught up "
                          "(a duration or seconds)")
    run.add_argument("--batch-size", type=positive, default=5_000, help="most messages per polled batch")
    run.add_argument("--max-rate", type=float, default=None, help="consume at most this many messages per second")
    run.add_argument("--idle-exit", type=seconds, default=None, help="after this long without input (a duration or seconds), once every partition is read to the end its last fetch reported: apply all, checkpoint, exit")
    run.add_argument("--create-topics", action="store_true", help="create the plans and rejects topics if missing (1 partition)")
    run.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port (0: any)")
    run.add_argument("--progress-every", type=seconds, default="10s", help="progress line interval, a duration or seconds (0: off)")
    run.set_defaults(run=dispatch)


def dispatch(args: argparse.Namespace) -> int:
    import signal

    from fleetstream import _core
    from fleetstream._cli_progress import run_reporting_progress
    from fleetstream.pipeline.dispatch import DispatchConfig, DispatchPipeline

    rejects = args.rejects_topic or f"{args.plans_topic}-rejects"
    if args.create_topics:
        _core.kafka_create_topics(args.brokers, [(args.plans_topic, 1), (rejects, 1)], 10_000)
    config = DispatchConfig(
        brokers=args.brokers, orders_topic=args.orders_topic, vehicle_topic=args.vehicle_topic, plans_topic=args.plans_topic,
        rejects_topic=rejects, group=args.group, fleet=args.fleet, state_dir=args.state_dir, freeze=args.freeze,
        stability=args.stability, buffer=args.buffer, seed=args.seed, threads=args.threads, improve_every=args.improve_every,
        improve_iterations=args.improve_iterations, improve_time_limit=args.improve_time_limit, origin=args.origin,
        checkpoint_every=args.checkpoint_every, merge_wait=args.merge_wait, batch_size=args.batch_size,
        idle_exit=args.idle_exit, max_rate=args.max_rate)
    metrics = None
    if args.metrics_port is not None:
        from fleetstream.pipeline.dispatch_metrics import DispatchMetrics

        metrics = DispatchMetrics(args.metrics_port)
        print(f"metrics on http://127.0.0.1:{metrics.port}/metrics", file=sys.stderr, flush=True)
    pipeline = DispatchPipeline(config, metrics)
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    print(f"dispatch: {args.brokers} {args.orders_topic} + {args.vehicle_topic} -> {args.plans_topic} "
          f"(group {args.group}, fleet {args.fleet}, state {args.state_dir})", file=sys.stderr, flush=True)

    def progress() -> str:
        c = pipeline.counts
        now = pipeline.clock
        clock = "-" if now is None else f"{now // 3600:02d}:{now % 3600 // 60:02d}"
        waiting = pipeline.waiting
        return (f"{c['messages']:,} messages, clock {clock}, {c['routes']:,} routes, {c['fates']:,} fates, "
                f"{c['dead_letters']:,} dead letters, {waiting} waiting, restored={c['restored']}, partitions "
                f"{sorted(pipeline.owned)}")

    try:
        run_reporting_progress(pipeline.run, progress, args.progress_every)
    finally:
        if metrics is not None:
            metrics.close()
    return 0
