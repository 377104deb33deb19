"""Durations and times of day given by users: what is accepted, and what the refusals say."""

from __future__ import annotations

from datetime import timedelta

import pytest

import fleetstream as fs
from fleetstream._time import duration_ms
from fleetstream.routing._model import time_of_day


@pytest.mark.parametrize("text", ["-5m", "-1", " -2s", "-0.5h"])
def test_a_negative_duration_says_it_is_negative(text: str) -> None:
    with pytest.raises(fs.ConfigError, match="must not be negative") as caught:
        duration_ms(text, "watermark")
    assert str(caught.value).startswith("watermark: ")
    with pytest.raises(fs.ConfigError, match="must not be negative"):
        fs.Tumbling(text)


@pytest.mark.parametrize("text, ms", [("5m", 300_000), ("1h30m", 5_400_000), ("250ms", 250), ("0s", 0), ("90", 90)])
def test_durations_as_text(text: str, ms: int) -> None:
    assert duration_ms(text, "x") == ms == duration_ms(timedelta(milliseconds=ms), "x")


@pytest.mark.parametrize("text, seconds", [("00:00", 0), ("08:30", 30_600), ("23:59:59", 86_399), ("24:00", 86_400),
                                           (" 7:05 ", 25_500)])
def test_times_of_day(text: str, seconds: int) -> None:
    assert time_of_day(text, "shift") == seconds


@pytest.mark.parametrize("text", ["25:00", "24:01", "24:00:01", "48:00"])
def test_an_hour_past_the_day_is_refused_with_how_to_say_it(text: str) -> None:
    with pytest.raises(fs.ConfigError, match=r"hours go from 00 to 23 .* 90000 for 01:00"):
        time_of_day(text, "shift")
    m = fs.routing.Model()
    depot = m.add_depot(x=0, y=0)
    with pytest.raises(fs.ConfigError, match="shift"):
        m.add_vehicle_type(count=1, capacity=[5], start=depot, shift=("08:00", text))


@pytest.mark.parametrize("text", ["8h", "08:60", "ab:cd", "08", ""])
def test_other_malformed_times_of_day(text: str) -> None:
    with pytest.raises(fs.ConfigError, match="expected a time of day"):
        time_of_day(text, "shift")


@pytest.mark.parametrize("make", [lambda: fs.WindowAggregator(fs.Tumbling("1m"), key="service"),
                                  lambda: fs.Sessionizer("30m", key="service")])
def test_integer_epoch_seconds_are_refused_not_read_as_1970(make) -> None:
    """int64 epoch seconds read as milliseconds gave windows in January 1970 without a word; the
    error names the unit they look like and how to say it, and nothing was applied."""
    import pyarrow as pa
    import pyarrow.compute as pc

    seconds = [1_705_312_800, 1_705_312_830, 1_705_312_900]
    table = pa.table({"ts": pa.array(seconds, pa.int64()), "service": ["api"] * 3})
    operator = make()
    with pytest.raises(fs.SchemaError, match=r'look like seconds since the epoch \(2024-01-15 10:00:00 UTC to .*time_unit="s"'):
        operator.push(table)
    for unit, factor in (("us", 1_000_000), ("ns", 1_000_000_000)):
        with pytest.raises(fs.SchemaError, match=f'look like {"micro" if unit == "us" else "nano"}seconds'):
            operator.push(table.set_column(0, "ts", pa.array([s * factor for s in seconds], pa.int64())))
    # Said with its unit, the same column is read right.
    out = operator.push(table.set_column(0, "ts", pc.cast(table["ts"], pa.timestamp("s"))))
    out = pa.concat_tables([out, operator.flush()])
    start = out.column("window_start" if "window_start" in out.column_names else "session_start")[0].as_py()
    assert (start.year, start.month, start.day, start.hour) == (2024, 1, 15, 10)
    # Milliseconds of real dates and small synthetic times are integers as before.
    assert make().push(pa.table({"ts": [1_705_312_800_000], "service": ["a"]})).num_rows == 0
    assert make().push(pa.table({"ts": [0, 60_000], "service": ["a", "a"]})).num_rows in (0, 1)


@pytest.mark.parametrize("make", [lambda **o: fs.WindowAggregator(fs.Tumbling("1m"), key="service", **o),
                                  lambda **o: fs.Sessionizer("30m", key="service", **o)])
@pytest.mark.parametrize("unit, per_second", [("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)])
def test_time_unit_reads_integers_in_that_unit_and_snapshots_keep_it(make, unit: str, per_second: int) -> None:
    import pyarrow as pa

    seconds = [1_705_312_800, 1_705_312_830, 1_705_312_900]
    table = pa.table({"ts": pa.array([s * per_second + (per_second // 2) for s in seconds], pa.int64()),
                      "service": ["api"] * 3})
    half = 0 if unit == "s" else 500  # per_second // 2 of the unit, in milliseconds
    as_timestamps = table.set_column(0, "ts", pa.array([s * 1000 + half for s in seconds], pa.timestamp("ms")))
    operator, reference = make(time_unit=unit), make()
    assert operator.time_unit == unit and reference.time_unit == "ms"
    first = operator.push(table.slice(0, 2))
    operator = type(operator).restore(operator.snapshot())
    assert operator.time_unit == unit
    got = pa.concat_tables([first, operator.push(table.slice(2)), operator.flush()])
    want = pa.concat_tables([reference.push(as_timestamps), reference.flush()])
    assert got.equals(want)
    if unit != "ms":  # milliseconds of the same dates are refused in another unit, naming them
        with pytest.raises(fs.SchemaError, match="look like milliseconds"):
            make(time_unit=unit).push(pa.table({"ts": [s * 1000 for s in seconds], "service": ["api"] * 3}))


def test_time_unit_is_checked_and_older_snapshots_read_milliseconds() -> None:
    import pyarrow as pa

    for bad in ("min", "S", 1000):
        with pytest.raises(fs.ConfigError, match='time_unit must be "s", "ms", "us" or "ns"'):
            fs.WindowAggregator(fs.Tumbling("1m"), time_unit=bad)  # type: ignore[arg-type]
        with pytest.raises(fs.ConfigError, match="time_unit"):
            fs.Sessionizer(time_unit=bad)  # type: ignore[arg-type]
    # A snapshot from before time_unit is this one without its settings' trailing bytes.
    windows = fs.WindowAggregator(fs.Tumbling("1m"), key="k", time_unit="s")
    windows.push(pa.table({"ts": [1_705_312_800], "k": ["a"]}))
    assert fs.WindowAggregator.restore(windows.snapshot()[:-1]).time_unit == "ms"
    sessions = fs.Sessionizer(key="k", time_unit="us")
    sessions.push(pa.table({"ts": [1_705_312_800_000_000], "k": ["a"]}))
    older = fs.Sessionizer.restore(sessions.snapshot()[:-2])
    assert (older.time_unit, older.null_keys) == ("ms", "group")
