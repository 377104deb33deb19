"""The alerts pipeline end to end, in real processes against the real broker: a clean run, a run
killed with SIGKILL at random moments and restarted, and two processes sharing the partitions."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import fleetstream as fs
from fleetstream.testing import LocalBroker, LogStreamSpec, generate_log_lines

from kafka_helpers import consumer_config, drain, unique

SPEC = LogStreamSpec(events=40_000, services=8, rate_per_s=40, spikes={"checkout": (11, 2, 12.0), "search": (14, 1, 15.0)},
                     seed=11)


def produce_lines(broker: LocalBroker, topic: str, lines: list[str]) -> None:
    """Keyed by service (the second field of the logging layout), so a service stays on one partition."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i, line in enumerate(lines):
        parts = line.split(" - ")
        key = parts[1].encode() if len(parts) >= 4 else b"corrupt"
        producer.produce(topic, line.encode(), key=key)
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


def distinct(rows: list[dict[str, Any]], key: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows by identity; replayed duplicates must be identical (a double count would differ)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        k = tuple(row[name] for name in key)
        assert out.setdefault(k, row) == row, f"conflicting outputs for {k}: {out[k]} vs {row}"
    return out


def make_topics(broker: LocalBroker, partitions: int, *outs: str) -> str:
    topic = unique("logs")
    broker.create_topic(topic, partitions)
    for out in outs:
        broker.create_topics({f"{out}-alerts": 1, f"{out}-windows": 1})
    return topic


def clean_run(broker: LocalBroker, topic: str, tmp_path: Path, out: str) -> tuple[dict, dict]:
    finish(start(broker, topic, unique("clean"), tmp_path / "clean", out, "--idle-exit", "3"))
    windows = distinct(read_json(broker, f"{out}-windows"), ("service", "window_start"))
    alerts = distinct(read_json(broker, f"{out}-alerts"), ("service", "window_start"))
    return windows, alerts


@pytest.mark.slow
def test_kill_9_at_random_moments_then_restart_matches_a_clean_run(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(SPEC)
    clean_out, crash_out = unique("clean"), unique("crash")
    topic = make_topics(broker, 3, clean_out, crash_out)
    rng = random.Random(5)
    thirds = [lines[: len(lines) // 3], lines[len(lines) // 3: 2 * len(lines) // 3], lines[2 * len(lines) // 3:]]
    group, state = unique("crashy"), tmp_path / "crash"
    kills = 0
    for chunk in thirds:
        produce_lines(broker, topic, chunk)
        process = start(broker, topic, group, state, crash_out, "--batch-size", "500", "--checkpoint-every", "300ms",
                        "--max-rate", "6000")
        # Wait until it processes (the group join takes a few seconds), then kill it mid-stream.
        deadline = time.monotonic() + 60
        assert process.stderr is not None
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if line.startswith("progress:") and not line.startswith("progress: 0 messages"):
                break
        time.sleep(rng.uniform(0.0, 1.5))  # a chunk takes about 2 s at --max-rate 6000
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        kills += 1
    err = finish(start(broker, topic, group, state, crash_out, "--idle-exit", "3"), timeout=180)
    assert "restored=" in err and kills == 3

    windows, alerts = clean_run(broker, topic, tmp_path, clean_out)
    crash_rows = read_json(broker, f"{crash_out}-windows")
    crash_windows = distinct(crash_rows, ("service", "window_start"))
    print(f"{len(crash_rows) - len(crash_windows)} window rows replayed identically after the kills")
    crash_alerts = distinct(read_json(broker, f"{crash_out}-alerts"), ("service", "window_start"))
    # Nothing lost, nothing counted twice: every error line is in exactly one window count.
    errors = sum(1 for line in lines if " - ERROR - " in line and line.count(" - ") == 3 and "???" not in line)
    assert sum(w["errors"] for w in windows.values()) == errors
    assert crash_windows == windows
    assert crash_alerts == alerts
    assert {k[0] for k in alerts} >= {"checkout", "search"}


@pytest.mark.slow
def test_two_processes_split_the_partitions_and_match_one(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(SPEC)
    one_out, two_out = unique("one"), unique("two")
    topic = make_topics(broker, 4, one_out, two_out)
    half = len(lines) // 2
    produce_lines(broker, topic, lines[:half])
    group, state = unique("pair"), tmp_path / "pair"
    first = start(broker, topic, group, state, two_out, "--idle-exit", "10", "--batch-size", "2000")
    assert first.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if first.stderr.readline().startswith("progress: ") :
            break
    second = start(broker, topic, group, state, two_out, "--idle-exit", "10", "--batch-size", "2000")
    assert second.stderr is not None
    # Produce the second half once the second member owns partitions.
    deadline = time.monotonic() + 60
    owned = ""
    while time.monotonic() < deadline:
        line = second.stderr.readline()
        if line.startswith("progress:") and not line.rstrip().endswith("partitions []"):
            owned = line
            break
    assert owned, "the second process never got partitions"
    produce_lines(broker, topic, lines[half:])
    err_first, err_second = finish(first, 180), finish(second, 180)
    assert "restored=" in err_first + err_second

    windows, alerts = clean_run(broker, topic, tmp_path, one_out)
    pair_windows = read_json(broker, f"{two_out}-windows")
    # Clean hand-over: no window emitted twice, and the union equals the single-process run.
    assert Counter((w["service"], w["window_start"]) for w in pair_windows).most_common(1)[0][1] == 1
    assert distinct(pair_windows, ("service", "window_start")) == windows
    assert distinct(read_json(broker, f"{two_out}-alerts"), ("service", "window_start")) == alerts
