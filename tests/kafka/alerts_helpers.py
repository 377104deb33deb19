"""Helpers of the alerts pipeline tests: producing lines with a chosen keying, running the CLI in a real
process, reading its outputs back, and the independent oracle (windows counted in plain Python from the
generated lines, alerts from the pure-Python reference detector of ``tests/stream``)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import fleetstream as fs
from fleetstream.testing import LocalBroker

from kafka_helpers import consumer_config, unique
from tests.stream import reference as ref

WINDOW_MS = 60_000
# The CLI's defaults, which the runs below keep.
DETECTOR = {"history": 10, "factor": 3.0, "floor": 20}


def produce_lines(broker: LocalBroker, topic: str, lines: list[str], keying: str, *,
                  partitions: list[int] | None = None, seed: int = 0) -> None:
    """``keying``: "service" (the logger name), "random" (a random key per line, e.g. a request id),
    "none" (no key: librdkafka's sticky partitioner) or "explicit" (round robin over ``partitions``)."""
    from confluent_kafka import Producer

    rng = random.Random(seed)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i, line in enumerate(lines):
        kwargs: dict[str, Any] = {}
        if keying == "service":
            parts = line.split(" - ")
            kwargs["key"] = parts[1].encode() if len(parts) >= 4 else b"corrupt"
        elif keying == "random":
            kwargs["key"] = rng.randbytes(8)
        elif keying == "explicit":
            assert partitions
            kwargs["partition"] = partitions[i % len(partitions)]
        else:
            assert keying == "none", keying
        producer.produce(topic, line.encode(), **kwargs)
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


def start(broker: LocalBroker, topic: str, group: str, state: Path, out: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "fleetstream", "alerts", "--brokers", broker.bootstrap, "--topic", topic,
               "--alerts-topic", f"{out}-alerts", "--windows-topic", f"{out}-windows", "--group", group,
               "--state-dir", str(state), "--progress-every", "0.5", *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> str:
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"pipeline did not finish in {timeout} s:\n{err[-3000:]}") from None
    assert process.returncode == 0, err[-3000:]
    return err


def wait_for_progress(process: subprocess.Popen[str], done: Any, timeout: float = 60) -> str:
    """Read the process's stderr until a progress line satisfies ``done(line)``; returns that line."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        if line.startswith("progress:") and done(line):
            return line
    raise AssertionError(f"no matching progress line within {timeout} s")


def read_json(broker: LocalBroker, topic: str, idle: float = 3.0) -> list[dict[str, Any]]:
    source = fs.KafkaSource(topic, unique("reader"), consumer_config(broker), format="text")
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 60
        last = None  # idle time counts once the reader owns the partition (joining takes seconds)
        while time.monotonic() < deadline and (last is None or time.monotonic() - last < idle):
            batch = source.poll(max_wait="200ms")
            if last is None and source.assignment():
                last = time.monotonic()
            if batch.messages:
                rows.extend(json.loads(v) for v in batch.records["value"].to_pylist())
                last = time.monotonic()
    finally:
        source.close()
    return rows


def millis(value: Any) -> int:
    """A window bound as the sink wrote it (an ISO timestamp or milliseconds) in milliseconds."""
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)


def distinct(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Rows by (service, window_start); replayed duplicates must be identical (a double count would differ)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        k = (row["service"], millis(row["window_start"]))
        assert out.setdefault(k, row) == row, f"conflicting outputs for {k}: {out[k]} vs {row}"
    return out


def window_counts(rows: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    return {k: int(row["errors"]) for k, row in distinct(rows).items()}


def alert_values(rows: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[float, float]]:
    return {k: (float(row["value"]), round(float(row["baseline"]), 9)) for k, row in distinct(rows).items()}


def expected_windows(lines: list[str]) -> dict[tuple[str, int], int]:
    """ERROR lines per (service, minute), read with ``datetime.strptime`` (an independent parser):
    the logging layout is ``asctime - name - levelname - message`` with ``asctime`` as
    ``%Y-%m-%d %H:%M:%S,mmm`` in UTC."""
    counts: Counter[tuple[str, int]] = Counter()
    for line in lines:
        parts = line.split(" - ", 3)
        if len(parts) != 4 or parts[2] != "ERROR":
            continue
        try:
            stamp = datetime.strptime(parts[0], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        ts = int(stamp.timestamp() * 1000)
        counts[(parts[1], ts - ts % WINDOW_MS)] += 1
    return dict(counts)


def expected_alerts(windows: dict[tuple[str, int], int]) -> dict[tuple[str, int], tuple[float, float]]:
    """The reference detector over the expected windows, in the order windows close (end, then key)."""
    rows = [{"service": s, "window_start": start, "window_end": start + WINDOW_MS, "errors": n}
            for (s, start), n in sorted(windows.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    detector = ref.SpikeDetector(value="errors", key="service", **DETECTOR)
    return {(a["service"], a["window_start"]): (float(a["value"]), round(float(a["baseline"]), 9))
            for a in detector.push(rows)}


def read_until(broker: LocalBroker, topic: str, enough: Any, timeout: float = 90) -> list[dict[str, Any]]:
    """Rows of ``topic`` read (by one reader, as they come) until ``enough(rows)`` or ``timeout`` seconds."""
    source = fs.KafkaSource(topic, unique("reader"), consumer_config(broker), format="text")
    rows: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not enough(rows):
            batch = source.poll(max_wait="200ms")
            rows.extend(json.loads(v) for v in batch.records["value"].to_pylist())
    finally:
        source.close()
    return rows


def line_time(line: str) -> int | None:
    """Event time (ms) of a line in the logging layout, None when it does not parse."""
    parts = line.split(" - ", 3)
    if len(parts) != 4:
        return None
    try:
        stamp = datetime.strptime(parts[0], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return int(stamp.timestamp() * 1000)


def expected_json_windows(lines: list[str]) -> dict[tuple[str, int], int]:
    """ERROR lines per (service, minute) of JSON lines, read with ``json.loads``."""
    counts: Counter[tuple[str, int]] = Counter()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") == "ERROR" and isinstance(record.get("ts"), int):
            counts[(record["service"], record["ts"] - record["ts"] % WINDOW_MS)] += 1
    return dict(counts)
