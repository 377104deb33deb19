"""``timezone=``: zone-less times read in a zone, on every format; explicit offsets ignore it."""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
from typing import Any

import pytest

from fleetstream.exceptions import ConfigError
from fleetstream.logs import LogParser


def utc_ms(text: str) -> int:
    """Milliseconds for ``YYYY-mm-dd HH:MM`` read as UTC (the hand-computed expectation)."""
    import time

    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M")) * 1000


def ts_ms(parser: LogParser, lines: list[str]) -> list[int]:
    result = parser.parse(lines)
    assert result.rejects.num_rows == 0, result.rejects.to_pylist()
    return [int(t.timestamp() * 1000) for t in result.records.column("ts").to_pylist()]


def test_default_stays_utc() -> None:
    assert ts_ms(LogParser.python_logging(), ["2024-01-15 11:00:00,000 - app - INFO - hi"]) == [
        utc_ms("2024-01-15 11:00")
    ]


def test_berlin_both_sides_of_both_dst_changes() -> None:
    parser = LogParser.json(timezone="Europe/Berlin")
    lines = [
        '{"ts": "2024-03-31 01:30:00"}',  # CET +01:00, before clocks jump 02:00 -> 03:00
        '{"ts": "2024-03-31 03:30:00"}',  # CEST +02:00
        '{"ts": "2024-03-31 02:30:00"}',  # skipped: read with the offset before the jump (+01:00)
        '{"ts": "2024-10-27 01:30:00"}',  # CEST +02:00, before clocks go 03:00 -> 02:00
        '{"ts": "2024-10-27 02:30:00"}',  # repeated: the first occurrence (+02:00)
        '{"ts": "2024-10-27 03:30:00"}',  # CET +01:00
        '{"ts": "2024-10-27T02:30:00+01:00"}',  # the second 02:30, written with its offset
        '{"ts": 1705312800}',  # an epoch ignores timezone
    ]
    assert ts_ms(parser, lines) == [
        utc_ms("2024-03-31 00:30"),
        utc_ms("2024-03-31 01:30"),
        utc_ms("2024-03-31 01:30"),
        utc_ms("2024-10-26 23:30"),
        utc_ms("2024-10-27 00:30"),
        utc_ms("2024-10-27 02:30"),
        utc_ms("2024-10-27 01:30"),
        utc_ms("2024-01-15 10:00"),
    ]


@pytest.mark.parametrize(
    ("parser", "line", "expected"),
    [
        (LogParser.logfmt(timezone="America/New_York"), 'ts="2024-01-15 05:00:00" msg=x', "2024-01-15 10:00"),
        (
            LogParser.regex(r"^(?P<ts>\S+ \S+) (?P<message>.*)$", timezone="Asia/Tokyo"),
            "2024-01-15 19:00:00 x",
            "2024-01-15 10:00",
        ),
        (
            LogParser.log4j(timezone="Europe/Berlin"),
            "2024-07-01 12:00:00,000 [main] INFO a.B - x",
            "2024-07-01 10:00",
        ),
        (
            LogParser.syslog(timezone="Europe/Berlin"),  # RFC 5424 times carry an offset: unchanged
            "<34>1 2024-01-15T10:00:00Z host su - - - x",
            "2024-01-15 10:00",
        ),
    ],
)
def test_every_preset_takes_timezone(parser: LogParser, line: str, expected: str) -> None:
    assert ts_ms(parser, [line]) == [utc_ms(expected)]


def test_real_logging_line_under_tz_berlin_with_local() -> None:
    # The case: a real logging line written under TZ=Europe/Berlin came out an hour off.
    fmt = "%(asctime)s %(levelname)s %(message)s"
    writer = (
        "import logging, sys\n"
        "h = logging.StreamHandler(sys.stdout)\n"
        f"h.setFormatter(logging.Formatter({fmt!r}))\n"
        "r = logging.LogRecord('app', logging.INFO, 'x', 1, 'hi', None, None)\n"
        "r.created = 1705312800.5\n"
        "r.msecs = 500.0\n"
        "h.emit(r)\n"
    )
    env = {**os.environ, "TZ": "Europe/Berlin"}
    run = subprocess.run([sys.executable, "-c", writer], env=env, capture_output=True, text=True, check=True)
    line = run.stdout.strip()
    assert line == "2024-01-15 11:00:00,500 INFO hi"  # local (CET) time, no zone
    expected = utc_ms("2024-01-15 10:00") + 500
    assert ts_ms(LogParser.python_logging(fmt), [line]) == [expected + 3_600_000]  # UTC default: an hour off
    assert ts_ms(LogParser.python_logging(fmt, timezone="Europe/Berlin"), [line]) == [expected]
    # "local" is the reading process's zone: read under the same TZ, it finds the true instant.
    reader = (
        "from fleetstream.logs import LogParser\n"
        f"p = LogParser.python_logging({fmt!r}, timezone='local')\n"
        f"print(int(p.parse([{line!r}]).records.column('ts')[0].as_py().timestamp() * 1000))\n"
    )
    run = subprocess.run([sys.executable, "-c", reader], env=env, capture_output=True, text=True, check=True)
    assert int(run.stdout) == expected


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "+01:00", "Europe/berlin "])
def test_unknown_zone_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="timezone: unknown time zone"):
        LogParser.json(timezone=bad)
    with pytest.raises(ConfigError, match="timezone: unknown time zone"):
        LogParser.syslog(timezone=bad)


def test_timezone_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="timezone must be a str"):
        LogParser.logfmt(timezone=1)  # type: ignore[arg-type]
