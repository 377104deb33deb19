"""The SpikeDetector's Python surface. Rule semantics against the reference: test_spike_properties.py."""

from __future__ import annotations

import pickle
from typing import Any

import pyarrow as pa
import pytest

import fleetstream as fs

MIN = 60_000


def windows(service: str, values: list[int], start: int = 0) -> pa.Table:
    n = len(values)
    return pa.table(
        {
            "service": [service] * n,
            "window_start": [start + i * MIN for i in range(n)],
            "window_end": [start + (i + 1) * MIN for i in range(n)],
            "errors": values,
        }
    )


def test_alerts_go_to_the_table_and_the_callback() -> None:
    seen: list[dict[str, Any]] = []
    det = fs.SpikeDetector(value="errors", key="service", history=3, factor=3.0, floor=5, on_alert=seen.append)
    alerts = det.push(windows("api", [2, 3, 1, 40, 2]))
    assert alerts.column_names == ["service", "window_start", "window_end", "value", "baseline", "rule"]
    assert alerts.to_pydict()["value"] == [40.0]
    assert alerts.to_pydict()["baseline"] == [2.0]
    assert [a["service"] for a in seen] == ["api"]


def test_missing_windows_count_as_zero() -> None:
    det = fs.SpikeDetector(value="errors", key="service", history=3, factor=3.0, floor=5)
    det.push(windows("api", [9, 9, 9]))
    # Two silent minutes, then 10: baseline mean(9, 0, 0) = 3, and 10 > 9.
    alerts = det.push(windows("api", [10], start=5 * MIN))
    assert alerts.to_pydict()["baseline"] == [3.0]


def test_cooldown_and_other_rules() -> None:
    det = fs.SpikeDetector(value="errors", key="service", history=2, factor=2.0, floor=0, cooldown=1)
    assert det.push(windows("api", [1, 1, 10, 100, 1000])).to_pydict()["value"] == [10.0, 1000.0]
    z = fs.SpikeDetector(value="errors", key="service", history=4, rule="zscore", threshold=2.0, floor=0)
    assert z.push(windows("api", [10, 12, 10, 12, 30])).to_pydict()["value"] == [30.0]
    e = fs.SpikeDetector(value="errors", key="service", history=1, rule="ewma", alpha=0.5, factor=2.0, floor=0)
    assert e.push(windows("api", [10, 10, 30])).to_pydict()["baseline"] == [10.0]


def test_out_of_order_windows_raise_and_change_nothing() -> None:
    det = fs.SpikeDetector(value="errors", key="service", history=1, floor=0)
    det.push(windows("api", [1, 1], start=10 * MIN))
    snapshot = det.snapshot()
    with pytest.raises(fs.OrderError, match="time order"):
        det.push(windows("api", [100], start=5 * MIN))
    assert det.snapshot() == snapshot


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(history=0), "history"),
        (dict(factor=-1.0), "factor"),
        (dict(floor=-1.0), "floor"),
        (dict(rule="median"), "unknown spike rule"),
        (dict(rule="ewma", alpha=0.0), "alpha"),
    ],
)
def test_bad_options_raise_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(fs.ConfigError, match=message):
        fs.SpikeDetector(value="errors", key="service", **options)


def test_missing_value_column_is_a_schema_error() -> None:
    det = fs.SpikeDetector(value="count", key="service")
    with pytest.raises(fs.SchemaError, match='"count"'):
        det.push(windows("api", [1]))


def test_snapshot_and_pickle_resume_exactly() -> None:
    det = fs.SpikeDetector(value="errors", key="service", history=3, factor=3.0, floor=5)
    det.push(windows("api", [2, 3, 1]))
    clone = pickle.loads(pickle.dumps(det))
    restored = fs.SpikeDetector.restore(det.snapshot())
    expected = det.push(windows("api", [40], start=3 * MIN))
    assert clone.push(windows("api", [40], start=3 * MIN)).equals(expected)
    assert restored.push(windows("api", [40], start=3 * MIN)).equals(expected)
    assert expected.num_rows == 1
