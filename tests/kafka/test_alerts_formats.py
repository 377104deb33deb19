"""The alerts pipeline on log lines of another format than it was told, or of no format at all: lines
are read in the format they are in, and whatever cannot be read is counted, kept and reported."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fleetstream.testing import LocalBroker, LogStreamSpec, generate_log_lines

from alerts_helpers import (alert_values, expected_alerts, expected_json_windows, finish, produce_lines, read_json,
                            start, window_counts)
from kafka_helpers import unique

SPEC = LogStreamSpec(events=40_000, services=8, rate_per_s=40, spikes={"checkout": (11, 2, 12.0)}, seed=5)


@pytest.mark.slow
def test_json_lines_need_no_format_option(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(dataclasses.replace(SPEC, format="json"))
    windows = expected_json_windows(lines)
    alerts = expected_alerts(windows)
    assert "checkout" in {service for service, _ in alerts}
    out, topic = unique("json"), unique("logs")
    broker.create_topics({topic: 2, f"{out}-alerts": 1, f"{out}-windows": 1})
    produce_lines(broker, topic, lines, "random")
    err = finish(start(broker, topic, unique("g"), tmp_path, out, "--idle-exit", "3"))  # no --format
    assert window_counts(read_json(broker, f"{out}-windows")) == windows
    assert alert_values(read_json(broker, f"{out}-alerts")) == alerts
    # Each line read in its own format: the generator's few corrupt non-JSON lines go to the other parser.
    not_json = sum(1 for line in lines if not line.lstrip().startswith("{"))
    assert f"json_lines={len(lines) - not_json}, python_lines={not_json}," in err, err[-1000:]
    assert "could not be read" not in err


@pytest.mark.slow
def test_unreadable_lines_are_counted_kept_and_reported_loudly(broker: LocalBroker, tmp_path: Path) -> None:
    lines = generate_log_lines(dataclasses.replace(SPEC, events=3_000))  # Python logging's layout
    out, topic, rejects = unique("wrong"), unique("logs"), unique("rejects")
    broker.create_topics({topic: 2, f"{out}-alerts": 1, f"{out}-windows": 1, rejects: 1})
    produce_lines(broker, topic, lines, "random")
    err = finish(start(broker, topic, unique("g"), tmp_path, out, "--idle-exit", "3", "--format", "json",
                       "--rejects-topic", rejects))
    # Counted: every line is a reject, in the progress line and the final counts.
    assert f"lines={len(lines)}" in err and f"parse_rejects={len(lines)}" in err, err[-2000:]
    assert "rejected (100.0%)" in err
    # Reported loudly, with a sample line, where it is, and why.
    warning = next(line for line in err.splitlines() if "could not be read" in line)
    assert warning.startswith("WARNING") and "partition " in warning and " offset " in warning and "--format" in warning
    # Kept: each line once, with its partition, offset and reason.
    kept = read_json(broker, rejects)
    assert sorted(row["line"] for row in kept) == sorted(lines)
    assert len({(row["partition"], row["offset"]) for row in kept}) == len(lines)
    assert all(row["topic"] == topic and row["reason"] for row in kept)
    # The warning's sample is one of them, with its reason.
    assert any(f"offset {row['offset']}: " in warning and row["reason"] in warning for row in kept)
    assert read_json(broker, f"{out}-windows", idle=1.0) == []
