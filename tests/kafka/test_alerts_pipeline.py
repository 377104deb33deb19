"""The alerts pipeline end to end, in real processes against the real broker.

Every run is checked against an independent oracle: window counts computed in plain Python from the
generated lines and alerts from the pure-Python reference detector. The result must not depend on how
the input topic is keyed (by service, randomly, not at all), on ``kill -9`` at random moments, on
several processes sharing the partitions, nor on an input partition that never receives data.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from fleetstream.testing import LocalBroker, LogStreamSpec, generate_log_lines

from alerts_helpers import (WINDOW_MS, alert_values, distinct, expected_alerts, expected_windows, finish, line_time,
                            produce_lines, read_json, read_until, start, wait_for_progress, window_counts)
from kafka_helpers import unique

SPEC = LogStreamSpec(events=40_000, services=8, rate_per_s=40, spikes={"checkout": (11, 2, 12.0), "search": (14, 1, 15.0)},
                     seed=11)


def make_topics(broker: LocalBroker, partitions: int, *outs: str) -> str:
    topic = unique("logs")
    broker.create_topic(topic, partitions)
    for out in outs:
        broker.create_topics({f"{out}-alerts": 1, f"{out}-windows": 1})
    return topic


def oracle(lines: list[str]) -> tuple[dict, dict]:
    windows = expected_windows(lines)
    alerts = expected_alerts(windows)
    # The data must exercise the spike rule, or comparing alerts would prove little.
    assert {service for service, _ in alerts} >= {"checkout", "search"}
    return windows, alerts


@pytest.mark.slow
def test_windows_and_alerts_do_not_depend_on_how_the_topic_is_keyed(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(SPEC)
    windows, alerts = oracle(lines)
    errors = sum(1 for line in lines if " - ERROR - " in line and line.count(" - ") == 3 and "???" not in line)
    assert sum(windows.values()) == errors  # the oracle itself, against a plainer count
    runs = {}
    for keying in ("service", "random", "none"):
        out = unique(keying)
        topic = make_topics(broker, 3, out)
        produce_lines(broker, topic, lines, keying, seed=1)
        runs[keying] = (out, start(broker, topic, unique(keying), tmp_path / keying, out, "--idle-exit", "3"))
    for keying, (out, process) in runs.items():
        finish(process)
        got_windows = window_counts(read_json(broker, f"{out}-windows"))
        assert sum(got_windows.values()) == errors, keying
        assert got_windows == windows, keying
        assert alert_values(read_json(broker, f"{out}-alerts")) == alerts, keying


@pytest.mark.slow
def test_kill_9_at_random_moments_then_restart_matches_the_oracle(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(SPEC)
    windows, alerts = oracle(lines)
    out = unique("crash")
    topic = make_topics(broker, 3, out)
    rng = random.Random(5)
    thirds = [lines[: len(lines) // 3], lines[len(lines) // 3: 2 * len(lines) // 3], lines[2 * len(lines) // 3:]]
    group, state = unique("crashy"), tmp_path / "crash"
    kills = 0
    for i, chunk in enumerate(thirds):
        # Random keys: every service's lines are spread over every partition.
        produce_lines(broker, topic, chunk, "random", seed=i)
        process = start(broker, topic, group, state, out, "--batch-size", "500", "--checkpoint-every", "300ms",
                        "--max-rate", "6000")
        # Wait until it processes (the group join takes a few seconds), then kill it mid-stream.
        wait_for_progress(process, lambda line: not line.startswith("progress: 0 messages"))
        time.sleep(rng.uniform(0.0, 1.5))  # a chunk takes about 2 s at --max-rate 6000
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        kills += 1
    err = finish(start(broker, topic, group, state, out, "--idle-exit", "3"), timeout=180)
    assert "restored=" in err and kills == 3
    print(err.splitlines()[-1])  # the final run's counts (duplicates: replayed partials dropped)

    window_rows = read_json(broker, f"{out}-windows")
    print(f"{len(window_rows) - len(distinct(window_rows))} window rows replayed identically after the kills")
    # Nothing lost, nothing counted twice: every error line is in exactly one window count.
    assert window_counts(window_rows) == windows
    assert alert_values(read_json(broker, f"{out}-alerts")) == alerts


@pytest.mark.slow
def test_two_processes_split_the_partitions_and_match_the_oracle(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(SPEC)
    windows, alerts = oracle(lines)
    out = unique("two")
    topic = make_topics(broker, 4, out)
    half = len(lines) // 2
    produce_lines(broker, topic, lines[:half], "random", seed=1)
    group, state = unique("pair"), tmp_path / "pair"
    first = start(broker, topic, group, state, out, "--idle-exit", "10", "--batch-size", "2000")
    wait_for_progress(first, lambda line: True)
    second = start(broker, topic, group, state, out, "--idle-exit", "10", "--batch-size", "2000")
    # Produce the second half once the second member owns input partitions.
    wait_for_progress(second, lambda line: not line.rstrip().endswith("partitions []"))
    produce_lines(broker, topic, lines[half:], "random", seed=2)
    err_first, err_second = finish(first, 180), finish(second, 180)
    assert "restored=" in err_first + err_second

    window_rows = read_json(broker, f"{out}-windows")
    # Clean hand-over: no window emitted twice, and the union is the whole answer.
    assert Counter((w["service"], w["window_start"]) for w in window_rows).most_common(1)[0][1] == 1
    assert window_counts(window_rows) == windows
    assert alert_values(read_json(broker, f"{out}-alerts")) == alerts


@pytest.mark.slow
def test_an_input_partition_without_data_does_not_hold_windows_back(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(SPEC)
    windows, alerts = oracle(lines)
    out = unique("idle")
    topic = make_topics(broker, 3, out)
    produce_lines(broker, topic, lines, "explicit", partitions=[0, 1])  # partition 2 stays empty
    # Each partition's watermark: its latest line time minus the 5 s delay. Windows ending by the lower
    # one are complete; the last ones stay open (no --idle-exit: the input has not ended).
    latest = [max(t for t in (line_time(line) for line in lines[p::2]) if t is not None) for p in (0, 1)]
    watermark = min(latest) - 5_000
    closed = {k: n for k, n in windows.items() if k[1] + WINDOW_MS <= watermark}
    assert 0 < len(closed) < len(windows)
    process = start(broker, topic, unique("idle"), tmp_path / "idle", out, "--idle-partition", "1s")
    try:
        published = read_until(broker, f"{out}-windows", lambda rows: len(rows) >= len(closed))
        assert len(published) >= len(closed), "windows were held back by the empty partition"
    finally:
        process.send_signal(signal.SIGTERM)  # stops cleanly, without ending the input
    err = finish(process)
    assert "idle_marks=" in err and "idle_marks=0," not in err, err[-2000:]
    # Every published count is exact, and no window the data had completed was held back. (Later
    # windows may be published too: partitions 0 and 1 also go idle, caught up, after a second.)
    got = window_counts(read_json(broker, f"{out}-windows"))
    assert {k: windows.get(k) for k in got} == got
    assert closed.keys() <= got.keys()
    got_alerts = alert_values(read_json(broker, f"{out}-alerts"))
    assert {k: alerts.get(k) for k in got_alerts} == got_alerts
    assert {k for k in alerts if k in closed} <= got_alerts.keys()
