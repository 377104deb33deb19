"""The ``dispatch-sim`` command: a generated delivery day played to Kafka on a simulated clock.

It writes the fleet file (``--fleet-only`` stops there: start the dispatcher on it, then play the
day, so that no order is due before the dispatcher listens), then produces orders and cancellations as they fall due, and drives the
fleet: vans follow the routes published on the plans topic and report departures, positions, arrivals
and served or failed stops, with the delays of real streets. ``--speedup 60`` plays a minute a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from fleetstream._cli_args import add_parser, count, positive, seconds, whole_seconds


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sim = add_parser(commands, "dispatch-sim", "play a generated delivery day to Kafka: orders, and vans following the plans")
    sim.add_argument("--brokers", default=None, help="bootstrap servers, host:port[,host:port] (required unless --fleet-only)")
    sim.add_argument("--orders-topic", default="orders", help="topic the orders and cancellations are produced to")
    sim.add_argument("--vehicle-topic", default="vehicle-events", help="topic the vans' reports are produced to")
    sim.add_argument("--plans-topic", default="plans", help="where the dispatcher publishes routes (read to drive the vans)")
    sim.add_argument("--fleet", default="fleet.csv", help="fleet CSV written for the dispatcher")
    sim.add_argument("--fleet-only", action="store_true",
                     help="write the fleet file and exit (start the dispatcher on it, then play the day)")
    sim.add_argument("--orders", type=count, default=2000, help="orders over the day")
    sim.add_argument("--vans", type=positive, default=50, help="vans in the fleet")
    sim.add_argument("--waves", type=positive, default=3, help="trips per van")
    sim.add_argument("--depots", type=positive, default=1, help="depots the vans start from")
    sim.add_argument("--seed", type=int, default=7, help="random seed of the day and of the street delays")
    sim.add_argument("--speedup", type=float, default=60.0, help="simulated seconds per second")
    sim.add_argument("--step", type=whole_seconds, default="30s",
                     help="simulated time between fleet reports, a duration or seconds")
    sim.add_argument("--until", default=None, help="stop at this time of day, e.g. 14:00 (default: when the vans are back)")
    sim.add_argument("--create-topics", action="store_true", help="create the three topics (1 partition each) if missing")
    sim.add_argument("--progress-every", type=seconds, default="10s", help="progress line interval, a duration or seconds (0: off)")
    sim.set_defaults(run=dispatch_sim)


def latest_routes(reader: Any, routes: dict[str, tuple[int, list[dict[str, Any]]]], until: float) -> int:
    """Reads the plans topic into ``routes`` (vehicle -> (version, stops)) until the monotonic
    clock reaches ``until`` and nothing more is there; returns how many route messages it read."""
    read = 0
    while True:
        batch = reader.poll(max_wait=max(0, int((until - time.monotonic()) * 1000)))
        if not batch.messages:
            if time.monotonic() >= until:
                return read
            continue
        for value in batch.records["value"].to_pylist():
            message = json.loads(value)
            if message.get("type") != "route":
                continue
            read += 1
            vehicle, version = message["vehicle"], message["version"]
            if routes.get(vehicle, (-1, []))[0] < version:
                routes[vehicle] = (version, [{"order_id": s["order_id"], "eta": s["eta"]} for s in message["stops"]])


def dispatch_sim(args: argparse.Namespace) -> int:
    import uuid

    import pyarrow as pa

    from fleetstream import _core
    from fleetstream._dispatch_day import DaySpec, generate_day
    from fleetstream._dispatch_sim import FleetSimulator
    from fleetstream.exceptions import ConfigError
    from fleetstream.kafka import KafkaSink, KafkaSource
    from fleetstream.routing._model import time_of_day

    spec = DaySpec(orders=args.orders, vans=args.vans, waves=args.waves, depots=args.depots, seed=args.seed)
    day = generate_day(spec)
    day.write_fleet(args.fleet)
    if args.create_topics:
        if not args.brokers:
            raise ConfigError("--create-topics needs --brokers")
        _core.kafka_create_topics(args.brokers, [(args.orders_topic, 1), (args.vehicle_topic, 1), (args.plans_topic, 1)], 10_000)
    if args.fleet_only:
        print(f"dispatch-sim: fleet of {len(day.fleet)} vehicles ({spec.vans} vans x {spec.waves} waves) written to "
              f"{args.fleet}", file=sys.stderr, flush=True)
        return 0
    if not args.brokers:
        raise ConfigError("--brokers is required to play the day (or --fleet-only to write the fleet file alone)")
    orders = KafkaSink(args.orders_topic, {"linger.ms": 5}, brokers=args.brokers, format="raw", key="key")
    events = KafkaSink(args.vehicle_topic, {"linger.ms": 5}, brokers=args.brokers, format="raw", key="key")
    reader = KafkaSource(args.plans_topic, f"dispatch-sim-{uuid.uuid4().hex[:8]}",
                         {"session.timeout.ms": 6000, "auto.offset.reset": "earliest"}, brokers=args.brokers, format="text")
    fleet = FleetSimulator(day, seed=args.seed)
    messages = day.messages()
    end = time_of_day(args.until, "until") if args.until else spec.work_end + 3600
    print(f"dispatch-sim: {len(day.orders):,} orders ({len(day.cancels):,} cancelled later), {len(day.fleet)} vehicles "
          f"({spec.vans} vans x {spec.waves} waves); fleet written to {args.fleet}; {args.speedup:g}x from "
          f"{spec.work_start // 3600:02d}:00", file=sys.stderr, flush=True)

    def send(sink: KafkaSink, rows: list[dict[str, Any]], key: str) -> None:
        if rows:
            sink.send(pa.table({"key": [str(r.get(key, "")) for r in rows],
                                "value": [json.dumps({k: v for k, v in r.items() if v is not None}) for r in rows]}))

    routes: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    t = spec.work_start - args.step
    k = sent_events = 0
    started = time.monotonic()
    last_progress = started
    try:
        while t < end:
            now, t = t, t + args.step
            # the plans published until the simulated clock reaches t (the wall clock paces it)
            latest_routes(reader, routes, started + (t - spec.work_start) / args.speedup)
            due = []
            while k < len(messages) and messages[k]["ts"] <= t:
                due.append(messages[k])
                k += 1
            send(orders, due, "order_id")
            reports = fleet.step({v: stops for v, (_, stops) in routes.items()}, t, now)
            send(events, reports, "vehicle_id")
            sent_events += len(reports)
            if args.progress_every and time.monotonic() - last_progress >= args.progress_every:
                last_progress = time.monotonic()
                s = fleet.stats
                print(f"progress: {t // 3600:02d}:{t % 3600 // 60:02d}, {k:,} orders/cancels sent, {sent_events:,} reports, "
                      f"{len(routes)} routes known, served {s.served} ({s.late} late), failed {s.failed}, "
                      f"{s.distance_m / 1000:,.0f} km", file=sys.stderr, flush=True)
        orders.flush()
        events.flush()
    finally:
        reader.close()
    s = fleet.stats
    print(f"done: {k:,} orders/cancels, {sent_events:,} vehicle reports, served {s.served} ({s.on_time} on time, {s.late} late), "
          f"failed {s.failed}, {s.distance_m / 1000:,.1f} km driven", file=sys.stderr, flush=True)
    return 0
