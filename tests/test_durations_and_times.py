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
    with pytest.raises(fs.SchemaError, match=r'look like seconds since the epoch \(2024-01-15 10:00:00 UTC to .*pa.timestamp\("s"\)'):
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
