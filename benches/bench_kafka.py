"""Kafka benchmark: consume N JSON log messages from a local broker, parse them and count errors per
service in 1-minute tumbling windows.

Contenders, each a fresh consumer group reading the same topic from the beginning:

* ``read-only ceiling``: confluent-kafka's consumer that only receives the messages (no decoding);
  what any pipeline on this broker and machine can reach at most.
* ``fleetstream read-only``: ``fs.KafkaSource(format="raw")`` handing out the payloads as Arrow
  batches, no decoding: closer to the broker's own ceiling than a client creating a Python object
  per message.
* ``fleetstream``: ``fs.KafkaSource`` (JSON decoded into typed Arrow columns in Rust) ->
  filter ERROR -> ``fs.WindowAggregator``.
* ``python``: confluent-kafka + ``json.loads`` + the pure-Python window reference
  (``tests/stream/reference.py``; a plain-dict tumbling count when that file is absent).
* quixstreams is not run: 3.28 fails on this broker with ``KeyError: 'retention.ms'`` when defining a
  window (see /work/shared/SERVICES.md).

Throughput is messages / seconds from the first message received to the last (the consumer-group
join, about 3 s on this broker, is reported separately), best of ``--repeat`` runs: the broker shares
the machine's cores with the consumer, so wall times vary; CPU seconds of the consuming process vary less. The window outputs of fleetstream and
Python are compared. Usage: ``python benches/bench_kafka.py [--messages 1000000] [--partitions 4]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
MINUTE = 60_000
# Partitions are consumed at different paces (fetches are per partition), so event time across them is
# far more disordered than within one: a watermark of an hour keeps every event (33 minutes of data).
WATERMARK, WATERMARK_MS = "1h", 3_600_000
SERVICES = ["checkout", "search", "payments", "inventory", "auth", "catalog", "shipping", "cart", "pricing", "reviews"]
MESSAGES = ["request served", "cache hit", "upstream timeout", "slow query", "user signed in"]
CONSUMER = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "auto.offset.reset": "earliest"}


def produce(bootstrap: str, topic: str, n: int, seed: int = 7) -> int:
    from confluent_kafka import Producer

    rng = random.Random(seed)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
                         "queue.buffering.max.messages": 500_000})
    errors = 0
    start = 1_767_225_600_000
    for i in range(n):
        service = SERVICES[min(int(rng.expovariate(0.5)), len(SERVICES) - 1)]
        level = "ERROR" if rng.random() < 0.05 else "INFO"
        errors += level == "ERROR"
        ts = start + i * 2 + rng.randint(0, 2000)
        payload = json.dumps({"ts": ts, "level": level, "service": service, "message": rng.choice(MESSAGES)})
        while True:
            try:
                producer.produce(topic, payload.encode(), key=service.encode())
                break
            except BufferError:
                producer.poll(0.05)
        if i % 20_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return errors


def _timed(consume: Callable[[], Any]) -> dict[str, Any]:
    import resource

    started = time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    result = consume()
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["total_s"] = time.perf_counter() - started
    # CPU seconds of this process (all threads, librdkafka's included): steadier than wall time on a
    # machine shared with other work.
    result["cpu_s"] = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return result


def read_only(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ro-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, **CONSUMER})
    consumer.subscribe([topic])
    seen = 0
    first = None
    size = 0
    while seen < n:
        messages = consumer.consume(num_messages=10_000, timeout=0.5)
        if messages and first is None:
            first = time.perf_counter()
        for m in messages:
            if m.error() is None:
                seen += 1
                size += len(m.value())
    done = time.perf_counter()
    consumer.close()
    return {"messages": seen, "seconds": done - first, "bytes": size}


def fleetstream_read_only(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    import fleetstream as fs

    source = fs.KafkaSource(topic, f"fsro-{uuid.uuid4().hex}", {"bootstrap.servers": bootstrap, **CONSUMER},
                            format="raw", batch_size=50_000, max_wait="100ms")
    seen = 0
    first = None
    while seen < n:
        batch = source.poll()
        if batch.messages and first is None:
            first = time.perf_counter()
        seen += batch.messages
    done = time.perf_counter()
    source.close()
    return {"messages": seen, "seconds": done - first}


def fleetstream_pipeline(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    import fleetstream as fs

    source = fs.KafkaSource(topic, f"fs-{uuid.uuid4().hex}", {"bootstrap.servers": bootstrap, **CONSUMER},
                            schema={"ts": "int64", "level": "string", "service": "string", "message": "string"},
                            batch_size=50_000, max_wait="100ms")
    agg = fs.WindowAggregator(window=fs.Tumbling("1m"), time="ts", key="service", aggs={"errors": fs.count()},
                              watermark=WATERMARK)
    seen = rejected = 0
    first = None
    outs = []
    while seen < n:
        batch = source.poll()
        if not batch.messages:
            continue
        if first is None:
            first = time.perf_counter()
        seen += batch.messages
        rejected += batch.rejects.num_rows
        records = batch.records
        outs.append(agg.push(records.filter(pc.equal(records.column("level"), "ERROR"))))
    outs.append(agg.flush())
    done = time.perf_counter()
    source.close()
    table = pa.concat_tables(outs)
    windows = sorted(zip(table["service"].to_pylist(), [t.timestamp() * 1000 for t in table["window_start"].to_pylist()],
                         table["errors"].to_pylist()))
    return {"messages": seen, "seconds": done - first, "rejected": rejected, "windows": windows}


REFERENCE = HERE.parent / "tests" / "stream" / "reference.py"


def _reference() -> Any | None:
    path = REFERENCE
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("fleetstream_tests_stream_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def python_pipeline(bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    from confluent_kafka import Consumer

    ref = _reference()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"py-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, **CONSUMER})
    consumer.subscribe([topic])
    rows: list[dict[str, Any]] = []
    counts: dict[tuple[str, int], int] = {}
    agg = (ref.WindowAggregator(ref.Tumbling(MINUTE), time="ts", key="service", aggs={"errors": ref.count()},
                                watermark=WATERMARK_MS) if ref is not None else None)
    seen = 0
    first = None
    while seen < n:
        messages = consumer.consume(num_messages=10_000, timeout=0.5)
        if not messages:
            continue
        if first is None:
            first = time.perf_counter()
        events = []
        for m in messages:
            if m.error() is not None:
                continue
            seen += 1
            event = json.loads(m.value())
            if event["level"] == "ERROR":
                events.append({"ts": event["ts"], "service": event["service"]})
        if agg is not None:
            rows += agg.push(events)
        else:
            for e in events:
                key = (e["service"], e["ts"] - e["ts"] % MINUTE)
                counts[key] = counts.get(key, 0) + 1
    if agg is not None:
        rows += agg.flush()
        windows = sorted((r["service"], r["window_start"], r["errors"]) for r in rows)
    else:
        windows = sorted((s, w, c) for (s, w), c in counts.items())
    done = time.perf_counter()
    consumer.close()
    return {"messages": seen, "seconds": done - first, "windows": windows,
            "reference": str(REFERENCE) if ref is not None else "plain dict count"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the fastest is reported")
    parser.add_argument("--skip-python", action="store_true", help="skip the (slow) pure-Python pipeline")
    parser.add_argument("--out", default=str(HERE / "results" / "kafka.json"))
    parser.add_argument("--reference", default=str(REFERENCE), help="pure-Python window reference module")
    args = parser.parse_args()
    globals()["REFERENCE"] = Path(args.reference)

    from fleetstream.testing import LocalBroker

    n = args.messages
    with LocalBroker() as broker:
        topic = "bench-logs"
        broker.create_topic(topic, args.partitions)
        t = time.perf_counter()
        errors = produce(broker.bootstrap, topic, n)
        print(f"produced {n:,} JSON log messages ({errors:,} errors) in {time.perf_counter() - t:.1f} s", flush=True)
        results: dict[str, dict[str, Any]] = {}
        for name, run in [("read-only ceiling (confluent-kafka)", read_only),
                          ("fleetstream read-only (KafkaSource, raw bytes)", fleetstream_read_only),
                          ("fleetstream KafkaSource + WindowAggregator", fleetstream_pipeline),
                          ("python: confluent-kafka + json + reference windows", python_pipeline)]:
            if args.skip_python and name.startswith("python"):
                continue
            runs = [_timed(lambda: run(broker.bootstrap, topic, n)) for _ in range(args.repeat)]
            result = min(runs, key=lambda r: r["seconds"])
            result["all_seconds"] = [round(r["seconds"], 3) for r in runs]
            results[name] = result
            print(f"{name}: {result['messages']:,} messages in {result['seconds']:.2f} s "
                  f"({result['messages'] / result['seconds']:,.0f} msg/s; {result['total_s']:.1f} s with group join; "
                  f"{result['cpu_s']:.2f} CPU s)",
                  flush=True)
    ceiling = next(iter(results.values()))
    fs_result = results["fleetstream KafkaSource + WindowAggregator"]
    assert sum(w[2] for w in fs_result["windows"]) == errors, "fleetstream windows do not add up to the errors sent"
    py = results.get("python: confluent-kafka + json + reference windows")
    if py is not None:
        same = [(s, int(w), c) for s, w, c in fs_result["windows"]] == [(s, int(w), c) for s, w, c in py["windows"]]
        print(f"fleetstream and python ({py['reference']}) windows identical: {same}")
    print(f"\n| {'contender':<52} | {'msg/s':>10} | {'vs ceiling':>10} | {'vs python':>9} | {'CPU s':>6} |")
    print(f"|{'-' * 54}|{'-' * 12}|{'-' * 12}|{'-' * 11}|{'-' * 8}|")
    ceiling_rate = ceiling["messages"] / ceiling["seconds"]
    py_rate = py["messages"] / py["seconds"] if py is not None else None
    for name, r in results.items():
        rate = r["messages"] / r["seconds"]
        vs_py = f"{rate / py_rate:.1f}x" if py_rate else "-"
        print(f"| {name:<52} | {rate:>10,.0f} | {rate / ceiling_rate:>9.2f}x | {vs_py:>9} | {r['cpu_s']:>6.2f} |")
    print("| quixstreams 3.28                                     |    not run | fails on this broker: KeyError 'retention.ms' |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "messages": n, "partitions": args.partitions, "machine": platform.platform(),
        "results": {k: {kk: vv for kk, vv in v.items() if kk != "windows"} for k, v in results.items()},
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
