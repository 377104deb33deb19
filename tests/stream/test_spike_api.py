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
        (dict(history=-1), "history"),
        (dict(history=1.5), "history"),
        (dict(history=True), "history"),
        (dict(cooldown=-1), "cooldown"),
        (dict(factor=-1.0), "factor"),
        (dict(factor=float("inf")), "factor"),
        (dict(floor=-1.0), "floor"),
        (dict(floor="5"), "floor"),
        (dict(rule="median"), "rule must be one of 'mean', 'zscore', 'ewma'"),
        (dict(rule="ewma", alpha=0.0), "alpha"),
        # options the chosen rule does not use are checked too
        (dict(alpha=2.0), "alpha"),
        (dict(threshold=float("nan")), "threshold"),
        (dict(on_alert="print"), "on_alert"),
    ],
)
def test_bad_options_raise_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(fs.ConfigError, match=message):
        fs.SpikeDetector(value="errors", key="service", **options)


def test_errors_name_the_row_of_the_whole_input_and_change_nothing() -> None:
    """A table of several chunks is one input: the row counts over all of it, and a bad row in a
    later chunk leaves the state as it was (the earlier chunks are not applied either)."""
    det = fs.SpikeDetector(value="errors", key="service", history=1, floor=0)
    det.push(windows("db", [5]))
    w = windows("api", [1, 2, 3])
    snapshot = det.snapshot()
    twice = pa.concat_tables([w, w])
    assert len(twice.to_batches()) == 2
    with pytest.raises(fs.OrderError, match="row 3:"):
        det.push(twice)
    assert det.snapshot() == snapshot
    fresh = fs.SpikeDetector(value="errors", key="service", history=1, floor=0)
    fresh.push(windows("db", [5]))
    assert det.push(w).equals(fresh.push(w)) and det.snapshot() == fresh.snapshot()
    with pytest.raises(fs.ConfigError, match="value must be the name"):
        fs.SpikeDetector(value="")


def test_repr_shows_the_options_of_its_rule() -> None:
    assert repr(fs.SpikeDetector(value="errors", key="service", history=3, rule="ewma", alpha=0.5, cooldown=2)) == (
        "SpikeDetector(value='errors', key=['service'], rule='ewma', history=3, factor=3, floor=20, alpha=0.5, cooldown=2)")
    assert "threshold=2.5" in repr(fs.SpikeDetector(rule="zscore", threshold=2.5, step="1m"))
    assert repr(fs.SpikeDetector()).startswith("SpikeDetector(value='errors', key=[], rule='mean'")


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
