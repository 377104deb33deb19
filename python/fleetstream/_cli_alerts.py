"""The ``alerts`` command: error-log spike alerts from a Kafka topic of log lines to Kafka topics."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta

from fleetstream._cli_args import add_parser, duration, positive, seconds


def _progress(pipeline: object) -> str:
    from fleetstream.pipeline import AlertsPipeline

    assert isinstance(pipeline, AlertsPipeline)
    c = pipeline.counts
    share = c["parse_rejects"] / c["lines"] if c["lines"] else 0.0
    text = (f"{c['messages']:,} messages, {c['lines']:,} lines ({c['json_lines']:,} JSON, {c['python_lines']:,} "
            f"Python logging), {c['parse_rejects']:,} rejected ({share:.1%}), {c['errors']:,} errors, "
            f"{c['late']:,} late, {c['windows']:,} windows, {c['alerts']:,} alerts")
    if c["late_contributions"]:
        text += f", {c['late_contributions']:,} late contributions"
    waiting = pipeline.waiting_for()
    if waiting:
        text += f", windows wait for input partitions {waiting}"
    merge = sorted(p for _, p in pipeline.merges)
    # The owned input partitions come last (scripts read them).
    return text + f", merge {merge}, partitions {sorted(p for _, p in pipeline.partials)}"


def alerts(args: argparse.Namespace) -> int:
    import signal

    from fleetstream._cli_progress import run_reporting_progress
    from fleetstream.pipeline import AlertsConfig, AlertsPipeline

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = AlertsConfig(
        brokers=args.brokers, topic=args.topic, alerts_topic=args.alerts_topic, group=args.group,
        state_dir=args.state_dir, windows_topic=args.windows_topic, rejects_topic=args.rejects_topic,
        log_format=args.format, window=args.window, watermark=args.watermark, history=args.history,
        factor=args.factor, floor=args.floor, checkpoint_every=args.checkpoint_every, idle_exit=args.idle_exit,
        idle_partition=args.idle_partition,
        max_reject_share=args.max_reject_share, batch_size=args.batch_size, max_rate=args.max_rate,
    )
    metrics = None
    if args.metrics_port is not None:
        from fleetstream.pipeline.metrics import PipelineMetrics

        metrics = PipelineMetrics(args.metrics_port)
        print(f"metrics on http://127.0.0.1:{metrics.port}/metrics", file=sys.stderr, flush=True)
    pipeline = AlertsPipeline(config, metrics)
    # SIGTERM stops as cleanly as Ctrl-C: checkpoint, leave the group.
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    print(f"alerts: {args.brokers} {args.topic} -> {args.alerts_topic} (group {args.group}, state {args.state_dir}, "
          f"internal topic {config.repartition_topic} with {pipeline.repartition_partitions} partitions)",
          file=sys.stderr, flush=True)
    try:
        run_reporting_progress(pipeline.run, lambda: _progress(pipeline), args.progress_every)
    finally:
        if metrics is not None:
            metrics.close()
    return 0


def idle_after(text: str) -> timedelta | None:
    """``--idle-partition``: a duration, or off (also none, 0) to wait for every partition."""
    return None if text.strip().lower() in ("off", "none", "0") else duration(text)


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = add_parser(commands, "alerts", "error-log spike alerts from a Kafka topic of log lines to a Kafka topic")
    p.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    p.add_argument("--topic", default="logs", help="topic of raw log lines, keyed in any way")
    p.add_argument("--alerts-topic", default="alerts", help="topic alerts are produced to (JSON, keyed by service)")
    p.add_argument("--windows-topic", default=None, help="also produce every closed window count here")
    p.add_argument("--rejects-topic", default=None,
                   help="produce every unreadable line here (JSON: topic, partition, offset, reason, line)")
    p.add_argument("--group", required=True,
                   help="consumer group; run more processes with it to scale out (names the internal topic "
                        "GROUP-alerts-repartition)")
    p.add_argument("--state-dir", default=".fleetstream-state", help="checkpoint directory shared by the group's processes")
    p.add_argument("--format", choices=["auto", "python", "json"], default="auto",
                   help="log line format; auto (default) reads each line as a JSON object when it starts with '{', "
                        "else as Python logging's default layout")
    p.add_argument("--window", type=duration, default="1m",
                   help="size of the tumbling windows ERROR lines are counted in per service (a bare number is seconds)")
    p.add_argument("--watermark", type=duration, default="5s",
                   help="how late a line may arrive, behind the latest time of its partition, and still count "
                        "(a bare number is seconds)")
    p.add_argument("--history", type=positive, default=10,
                   help="previous windows per service whose mean is the baseline (a service alerts once it has this many)")
    p.add_argument("--factor", type=float, default=3.0, help="alert when a window's count is above this many times the baseline")
    p.add_argument("--floor", type=float, default=20, help="and above this many errors (so a quiet service does not alert on a handful)")
    p.add_argument("--idle-partition", type=idle_after, default="30s",
                   help="an input partition caught up and without new lines this long no longer holds windows "
                        "back (default 30s; a bare number is seconds; off to wait for every partition)")
    p.add_argument("--max-reject-share", type=float, default=0.1,
                   help="warn when more than this share of the lines cannot be read")
    p.add_argument("--max-rate", type=float, default=None, help="consume at most this many messages per second")
    p.add_argument("--batch-size", type=positive, default=20_000, help="most messages per polled batch")
    p.add_argument("--checkpoint-every", type=duration, default="2s", help="checkpoint interval (a bare number is seconds)")
    p.add_argument("--idle-exit", type=seconds, default=None,
                   help="end of input: after this long without input (a duration or seconds), close all windows, "
                        "checkpoint and exit")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port (0: any)")
    p.add_argument("--progress-every", type=seconds, default="10s", help="progress line interval, a duration or seconds (0: off)")
    p.set_defaults(run=alerts)
