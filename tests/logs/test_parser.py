"""Tests of ``fleetstream.logs.LogParser``: every format and preset, every time kind, rejects with
positions and reasons, every input kind, files, pickling, and property tests against pure-Python
oracles (``records + rejects == lines`` and each good line's fields round-trip)."""

from __future__ import annotations

import doctest
import io
import json
import logging
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import math
import os
import re
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleetstream.logs
from fleetstream.exceptions import ConfigError, FleetstreamError, FleetstreamIOError, SchemaError
from fleetstream.logs import LogParser, ParseResult

T0 = 1_705_312_800_000  # 2024-01-15T10:00:00Z
MAX_EVENT_TIME = 253_402_300_799_999
UTC_TS = pa.timestamp("ms", tz="UTC")


def ms(table: pa.Table, row: int = 0) -> int:
    return int(table.column("ts").cast(pa.int64())[row].as_py())


def row(table: pa.Table, i: int = 0) -> dict[str, Any]:
    return table.slice(i, 1).to_pylist()[0]


def reasons(result: ParseResult) -> list[tuple[int, str]]:
    return list(zip(result.rejects.column("position").to_pylist(), result.rejects.column("reason").to_pylist()))


# ------------------------------------------------------------------------------------------ schema


def test_output_schemas() -> None:
    result = LogParser.json().parse(['{"ts": 0, "a": 1}'])
    schema = result.records.schema
    assert schema.names == ["ts", "level", "service", "message", "a"]
    assert schema.field("ts").type == UTC_TS and not schema.field("ts").nullable
    assert all(schema.field(n).type == pa.string() for n in schema.names[1:])
    assert result.rejects.schema == pa.schema(
        [pa.field("line", pa.string()), pa.field("position", pa.int64(), nullable=False), pa.field("reason", pa.string(), nullable=False)]
    )


def test_empty_input_keeps_schema() -> None:
    records, rejects = LogParser.syslog().parse([])
    assert records.num_rows == 0 and rejects.num_rows == 0
    assert records.schema.names == ["ts", "level", "service", "message", "facility", "hostname", "procid", "msgid", "structured_data"]
    assert LogParser.json(extra_fields=["host"]).parse([]).records.schema.names[-1] == "host"


# ------------------------------------------------------------------------------------------ JSON


def test_json_fields_levels_and_extras() -> None:
    lines = [
        '{"ts": "2024-01-15T10:00:00Z", "level": "warn", "service": "api", "message": "m", "user": "ann", "n": 3}',
        '{"ts": "2024-01-15T10:00:01.5Z", "level": "Info", "message": {"b": [1, 2.5, null], "a": true}, "ok": false, "user": null, "z": 1.0}',
        '{"level": "info", "message": "no time"}',
        '{"ts": "2024-01-15T10:00:00Z", "level": 30, "ts_": "x", "service": ["a"]}',
    ]
    result = LogParser.json().parse(lines)
    records = result.records
    assert records.column_names == ["ts", "level", "service", "message", "user", "n", "ok", "z", "ts_"]
    assert ms(records, 0) == T0 and ms(records, 1) == T0 + 1500
    assert records.column("level").to_pylist() == ["WARN", "INFO", "30"]
    assert records.column("service").to_pylist() == ["api", None, '["a"]']
    assert records.column("message").to_pylist() == ["m", '{"b":[1,2.5,null],"a":true}', None]
    assert records.column("user").to_pylist() == ["ann", None, None]
    assert records.column("n").to_pylist() == ["3", None, None]
    assert records.column("ok").to_pylist() == [None, "false", None]
    assert records.column("z").to_pylist() == [None, "1.0", None]
    assert records.column("ts_").to_pylist() == [None, None, "x"]
    assert reasons(result) == [(2, 'missing time: no key "ts"')]


def test_json_configured_keys_required_and_fixed_columns() -> None:
    parser = LogParser.json(
        time_field=["@timestamp", "time"],
        level_field="severity",
        service_field="app",
        message_field="msg",
        required=["service"],
        extra_fields=["host", "pid"],
    )
    result = parser.parse(
        [
            '{"time": "2024-01-15T10:00:00Z", "@timestamp": "2024-01-15T10:00:05Z", "severity": "error", "app": "x", "msg": "m", "pid": 7, "other": 1}',
            '{"time": null, "@timestamp": "2024-01-15T10:00:00Z", "app": "y"}',
            '{"time": "2024-01-15T10:00:00Z", "msg": "no app"}',
            '{"@timestamp": null, "app": "z"}',
        ]
    )
    assert result.records.column_names == ["ts", "level", "service", "message", "host", "pid"]
    assert ms(result.records, 0) == T0 + 5000  # "@timestamp" ranks first
    assert row(result.records) == {**row(result.records), "level": "ERROR", "service": "x", "pid": "7", "host": None}
    assert reasons(result) == [
        (2, 'missing required field "service" (key "app")'),
        (3, 'missing time: key "@timestamp" is null'),
    ]


def test_json_bad_lines_become_rejects() -> None:
    lines = ["[1, 2]", '{"ts": ', '"text"', '{"ts": "2024-01-15T10:00:00Z"} extra', "{'ts': 1}", '{"ts": true}', '{"ts": {"a": 1}}']
    result = LogParser.json().parse(lines)
    assert result.records.num_rows == 0
    got = dict(reasons(result))
    assert got[0].startswith("invalid JSON: invalid type: sequence, expected a JSON object")
    assert got[1].startswith("invalid JSON: EOF while parsing")
    assert got[2].startswith("invalid JSON: invalid type: string")
    assert got[3].startswith("invalid JSON: trailing characters")
    assert got[4].startswith("invalid JSON: key must be a string")
    assert got[5] == 'time key "ts" is a JSON boolean ("true"); expected a string or a number'
    assert got[6] == 'time key "ts" is a JSON object ("{\\"a\\":1}"); expected a string or a number'


# ------------------------------------------------------------------------------------------ times


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"2024-01-15T10:00:00Z"', T0),
        ('"2024-01-15T10:00:00.123456Z"', T0 + 123),
        ('"2024-01-15T12:00:00+02:00"', T0),
        ('"2024-01-15T12:00:00+0200"', T0),
        ('"2024-01-15T10:00:00"', T0),
        ('"2024-01-15 10:00:00,250"', T0 + 250),
        ('"2024-01-15 10:00:00 UTC"', T0),
        ('"2024-01-15"', T0 - 36_000_000),
        ('"Mon, 15 Jan 2024 10:00:00 +0000"', T0),
        ("1705312800", T0),
        ("1705312800.5", T0 + 500),
        ("1705312800123", T0 + 123),
        ("1705312800123456", T0 + 123),
        ("1705312800123456789", T0 + 123),
        ('"1705312800"', T0),
        ('"1705312800123"', T0 + 123),
        ("0", 0),
    ],
)
def test_auto_time(value: str, expected: int) -> None:
    result = LogParser.json().parse([f'{{"ts": {value}}}'])
    assert reasons(result) == []
    assert ms(result.records) == expected


@pytest.mark.parametrize(
    ("time_format", "value", "expected"),
    [
        ("rfc3339", '"2024-01-15T10:00:00.5Z"', T0 + 500),
        ("iso8601", '"2024-01-15 10:00:00"', T0),
        ("epoch_s", "1705312800", T0),
        ("epoch_s", '"1705312800.123"', T0 + 123),
        ("epoch_ms", "1000", 1000),
        ("epoch_ms", "1705312800123", T0 + 123),
        ("epoch_us", "1705312800123456", T0 + 123),
        ("epoch_ns", '"1705312800123456789"', T0 + 123),
        ("%d/%b/%Y:%H:%M:%S %z", '"15/Jan/2024:11:00:00 +0100"', T0),
        ("%Y%m%d %H%M%S", '"20240115 100000"', T0),
        ("%d.%m.%Y", '"15.01.2024"', T0 - 36_000_000),
    ],
)
def test_explicit_time_formats(time_format: str, value: str, expected: int) -> None:
    result = LogParser.json(time_format=time_format).parse([f'{{"ts": {value}}}'])
    assert reasons(result) == []
    assert ms(result.records) == expected


def test_time_rejects_name_field_and_value() -> None:
    parser = LogParser.json(time_format="epoch_s")
    result = parser.parse(['{"ts": -1}', '{"ts": 253402300800}', '{"ts": "soon"}', '{"ts": "' + "9" * 200 + 'x"}'])
    got = reasons(result)
    assert got[0] == (0, 'time key "ts" value "-1" is out of range: time -1000 ms is before 1970-01-01 (negative epoch time)')
    assert got[1][1].startswith('time key "ts" value "253402300800" is out of range: time 253402300800000 ms is after 9999-12-31')
    assert got[2] == (2, 'cannot parse time key "ts" value "soon": expected epoch seconds')
    assert got[3][1].startswith('cannot parse time key "ts" value "' + "9" * 80 + '…"')
    result = LogParser.json(time_format="rfc3339").parse(['{"ts": 1705312800}'])
    assert reasons(result) == [(0, 'time key "ts" is the number "1705312800"; expected an RFC 3339/ISO 8601 time')]
    result = LogParser.json(time_format="%Y-%m-%d %H:%M").parse(['{"ts": "2024-01-15"}'])
    assert reasons(result) == [
        (0, 'cannot parse time key "ts" value "2024-01-15": expected a time matching "%Y-%m-%d %H:%M" (premature end of input)')
    ]
    result = LogParser.json().parse(['{"ts": "1969-12-31T23:59:59Z"}'])
    assert "is before 1970-01-01" in reasons(result)[0][1]


# ------------------------------------------------------------------------------------------ logfmt


def test_logfmt() -> None:
    lines = [
        'ts=2024-01-15T10:00:00Z level=info msg="hello \\"world\\"" service=web status=200 dry',
        "time=1705312800 level=debug message=plain empty= path=/a=b",
        'ts=2024-01-15T10:00:00Z msg="unterminated',
        "ts=2024-01-15T10:00:00Z bad\"key=1",
        "msg=no-time",
    ]
    result = LogParser.logfmt().parse(lines)
    records = result.records
    assert records.column_names == ["ts", "level", "service", "message", "status", "dry", "empty", "path"]
    assert row(records, 0) | {"ts": None} == {
        "ts": None,
        "level": "INFO",
        "service": "web",
        "message": 'hello "world"',
        "status": "200",
        "dry": "true",
        "empty": None,
        "path": None,
    }
    assert row(records, 1)["empty"] == "" and row(records, 1)["path"] == "/a=b"
    assert row(records, 1)["message"] == "plain"
    assert reasons(result) == [
        (2, 'invalid logfmt at byte 29: unterminated quoted value for key "msg"'),
        (3, "invalid logfmt at byte 28: unexpected '\"' in a key"),
        (4, 'missing time: no keys "ts", "time"'),
    ]


# ------------------------------------------------------------------------------------------ regex


def test_regex_groups_and_search_semantics() -> None:
    parser = LogParser.regex(r"(?P<ts>\d{4}-\d\d-\d\dT\S+) (?P<level>\w+) (?:\[(?P<thread>[^\]]+)\] )?(?P<message>.*)")
    result = parser.parse(["prefix 2024-01-15T10:00:00Z warn [main] hi", "2024-01-15T10:00:00Z error bye", "nothing here"])
    assert result.records.column_names == ["ts", "level", "service", "message", "thread"]
    assert result.records.column("thread").to_pylist() == ["main", None]
    assert result.records.column("level").to_pylist() == ["WARN", "ERROR"]
    assert result.records.column("service").to_pylist() == [None, None]
    assert reasons(result) == [(2, "line does not match the regex pattern")]
    assert parser.pattern is not None and parser.format == "regex"


def test_regex_required_fields() -> None:
    parser = LogParser.regex(r"^(?P<ts>\S+)(?: (?P<level>[A-Z]+))?$", required=["level"])
    result = parser.parse(["2024-01-15T10:00:00Z", "2024-01-15T10:00:00Z INFO"])
    assert reasons(result) == [(0, 'missing required field "level" (group "level")')]


# ------------------------------------------------------------------------------------------ presets


def _python_log_lines(fmt: str, datefmt: str | None, style: str, records: list[dict[str, Any]]) -> list[str]:
    """Lines written by the real ``logging`` module (UTC times)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter = logging.Formatter(fmt, datefmt, style)  # type: ignore[arg-type]
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    for spec in records:
        logger = logging.getLogger(spec["name"])
        logger.propagate = False
        logger.handlers = [handler]
        logger.setLevel(logging.DEBUG)
        logger.log(spec["level"], spec["message"], extra=spec.get("extra"))
    return stream.getvalue().splitlines()


@pytest.mark.parametrize(
    ("fmt", "datefmt", "style"),
    [
        ("%(asctime)s - %(name)s - %(levelname)s - %(message)s", None, "%"),
        ("%(asctime)s %(levelname)-8s %(name)s:%(lineno)d [%(threadName)s] %(message)s", None, "%"),
        ("%(asctime)s.%(msecs)03d %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S", "%"),
        ("{asctime} | {levelname:>8} | {name} | {request_id} | {message}", None, "{"),
        ("$asctime $levelname $name: $message", "%d/%m/%Y %H:%M:%S", "$"),
    ],
)
def test_python_logging_against_real_logging(fmt: str, datefmt: str | None, style: str) -> None:
    specs = [
        {"name": "app.db", "level": logging.WARNING, "message": "slow query - 2.5 s", "extra": {"request_id": "r1"}},
        {"name": "root", "level": logging.INFO, "message": "a: b [c] {d}", "extra": {"request_id": "r-2"}},
        {"name": "x", "level": logging.CRITICAL, "message": "", "extra": {"request_id": "r3"}},
    ]
    before = int(time.time() * 1000)
    lines = _python_log_lines(fmt, datefmt, style, specs)
    after = int(time.time() * 1000)
    result = LogParser.python_logging(fmt, datefmt=datefmt, style=style).parse(lines)  # type: ignore[arg-type]
    assert reasons(result) == []
    records = result.records
    assert records.column("service").to_pylist() == ["app.db", "root", "x"]
    assert records.column("level").to_pylist() == ["WARNING", "INFO", "CRITICAL"]
    expected_messages = [s["message"] for s in specs]
    if fmt.endswith("$message"):
        pass
    assert records.column("message").to_pylist() == expected_messages
    resolution = 1000 if datefmt and "msecs" not in fmt else 1
    for i in range(3):
        assert before - resolution <= ms(records, i) <= after, (lines[i], ms(records, i))
    if "request_id" in fmt:
        assert records.column("request_id").to_pylist() == ["r1", "r-2", "r3"]
    if "lineno" in fmt:
        assert all(v.isdigit() for v in records.column("lineno").to_pylist())
        assert records.column("threadName").to_pylist() == [threading.current_thread().name] * 3


def test_python_logging_created_and_errors() -> None:
    parser = LogParser.python_logging("%(created)f:%(levelname)s:%(name)s:%(message)s")
    result = parser.parse(["1705312800.250000:INFO:root:hello: world"])
    assert ms(result.records) == T0 + 250
    assert row(result.records)["message"] == "hello: world"
    with pytest.raises(ConfigError, match="a time is required"):
        LogParser.python_logging("%(levelname)s:%(name)s:%(message)s")
    with pytest.raises(ConfigError, match="at byte 12"):
        LogParser.python_logging("%(asctime)s %z")
    with pytest.raises(ConfigError, match="style"):
        LogParser.python_logging(style="#")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="datefmt"):
        LogParser.python_logging(datefmt="%Y-%Q")


def test_log4j_default_and_logback_layouts() -> None:
    result = LogParser.log4j().parse(
        [
            "2024-01-15 10:00:00,123 [main] ERROR com.example.Foo - message - with dash",
            "2024-01-15 10:00:00,124 [pool-1 thread-2] INFO  c.e.Bar - ok",
            "\tat com.example.Foo.bar(Foo.java:10)",
        ]
    )
    records = result.records
    assert records.column_names == ["ts", "level", "service", "message", "thread"]
    assert [ms(records, i) for i in range(2)] == [T0 + 123, T0 + 124]
    assert records.column("level").to_pylist() == ["ERROR", "INFO"]
    assert records.column("thread").to_pylist() == ["main", "pool-1 thread-2"]
    assert records.column("message").to_pylist() == ["message - with dash", "ok"]
    assert reasons(result) == [(2, "line does not match the log4j pattern")]

    parser = LogParser.log4j("%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %highlight(%-5level) [%thread] %logger{36} %X{request-id} - %msg%n%ex")
    records = parser.parse(["2024-01-15T12:00:00.123+02:00 WARN  [exec-1] c.e.Web abc-1 - hi"]).records
    assert ms(records) == T0 + 123
    assert records.column_names[-2:] == ["thread", "request-id"]
    assert row(records)["request-id"] == "abc-1"
    with pytest.raises(ConfigError, match="not supported"):
        LogParser.log4j("%d %bogus %m")
    with pytest.raises(ConfigError, match="has no %d"):
        LogParser.log4j("%p %m")


def test_syslog_rfc5424() -> None:
    lines = [
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8",
        '<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - [exampleSDID@32473 iut="3" eventSource="Application"] %% It\'s time to make the do-nuts.',
        "<13>1 - host app - - - no time",
        "<200>1 2003-10-11T22:14:15Z h a - - - bad pri",
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
    ]
    result = LogParser.syslog().parse(lines)
    r0, r1 = row(result.records, 0), row(result.records, 1)
    assert (r0["level"], r0["service"], r0["facility"], r0["hostname"], r0["procid"], r0["msgid"]) == (
        "CRITICAL",
        "su",
        "auth",
        "mymachine.example.com",
        None,
        "ID47",
    )
    assert r0["message"] == "'su root' failed for lonvick on /dev/pts/8"
    assert r0["structured_data"] is None
    assert ms(result.records, 0) == 1_065_910_455_003
    assert (r1["level"], r1["facility"], r1["procid"]) == ("NOTICE", "local4", "8710")
    assert r1["structured_data"] == '[exampleSDID@32473 iut="3" eventSource="Application"]'
    assert ms(result.records, 1) == 1_061_727_255_000
    assert reasons(result) == [
        (2, 'missing time: TIMESTAMP is the NILVALUE "-"'),
        (3, "syslog PRI <200> is out of range (0..=191)"),
        (4, "line does not match the syslog pattern"),
    ]


# ------------------------------------------------------------------------------------------ rejects


def test_rejects_keep_line_position_and_reason() -> None:
    lines: list[str | bytes | None] = [
        '{"ts": 0}',
        "",
        "   ",
        None,
        b'{"ts": 0, "m": "\xff"}',
        '{"ts": 0}\r\n',
        "not json",
    ]
    result = LogParser.json().parse(lines)
    assert result.records.num_rows == 2
    assert result.rejects.to_pylist() == [
        {"line": "", "position": 1, "reason": "empty line"},
        {"line": "   ", "position": 2, "reason": "empty line"},
        {"line": None, "position": 3, "reason": "line is null"},
        {"line": '{"ts": 0, "m": "\ufffd"}', "position": 4, "reason": "invalid UTF-8 at byte 16"},
        {"line": "not json", "position": 6, "reason": "invalid JSON: expected ident at line 1 column 2"},
    ]


def test_surrogate_escaped_str_is_invalid_utf8() -> None:
    line = b'{"ts": 0, "m": "\xe9"}'.decode("utf-8", "surrogateescape")
    result = LogParser.json().parse([line])
    assert reasons(result) == [(0, "invalid UTF-8 at byte 16")]


def test_big_lines() -> None:
    message = "é" * 5_000_000  # 10 MB
    result = LogParser.logfmt().parse([f'ts=0 msg="{message}"'])
    assert row(result.records)["message"] == message
    parser = LogParser.logfmt(max_line_bytes=100)
    result = parser.parse(["ts=0 msg=" + "x" * 200, "ts=0 msg=ok"])
    assert result.records.num_rows == 1
    assert result.rejects.column("reason").to_pylist() == [
        "line is 209 bytes, over max_line_bytes=100 (the line column holds its first 100 bytes)"
    ]
    assert result.rejects.column("line").to_pylist() == [("ts=0 msg=" + "x" * 200)[:100]]


def test_column_limit() -> None:
    parser = LogParser.logfmt(max_extra_fields=2)
    result = parser.parse(["ts=0 a=1 b=2", "ts=0 c=3", "ts=0 b=4"])
    assert result.records.column_names == ["ts", "level", "service", "message", "a", "b"]
    assert reasons(result) == [
        (
            1,
            'field "c" would be extra column number 3, over max_extra_fields=2 (raise max_extra_fields or list the '
            "wanted columns in extra_fields)",
        )
    ]


# ------------------------------------------------------------------------------------------ inputs


GOOD = "ts=1705312800 msg=a"
BAD = "msg=b"


@pytest.mark.parametrize(
    "make",
    [
        lambda lines: lines,
        lambda lines: tuple(lines),
        lambda lines: iter(lines),
        lambda lines: (line for line in lines),
        lambda lines: [line.encode() if line is not None else None for line in lines],
        lambda lines: [bytearray(line.encode()) if line is not None else None for line in lines],
        lambda lines: pa.array(lines, pa.string()),
        lambda lines: pa.array(lines, pa.large_string()),
        lambda lines: pa.array(lines, pa.string_view()),
        lambda lines: pa.array([x.encode() if x is not None else None for x in lines], pa.binary()),
        lambda lines: pa.array([x.encode() if x is not None else None for x in lines], pa.large_binary()),
        lambda lines: pa.array([x.encode() if x is not None else None for x in lines], pa.binary_view()),
        lambda lines: pa.array(lines, pa.string()).dictionary_encode(),
        lambda lines: pa.chunked_array([pa.array(lines[:1], pa.string()), pa.array([], pa.string()), pa.array(lines[1:], pa.string())]),
        lambda lines: pa.table({"line": lines}),
        lambda lines: pa.record_batch({"line": pa.array(lines, pa.string())}),
    ],
)
def test_input_kinds(make: Any) -> None:
    lines = [GOOD, BAD, None, GOOD, BAD]
    result = LogParser.logfmt().parse(make(lines))
    assert result.records.num_rows == 2
    assert [p for p, _ in reasons(result)] == [1, 2, 4]
    assert result.rejects.column("line").to_pylist() == [BAD, None, BAD]


def test_dataframe_libraries() -> None:
    import numpy
    import pandas
    import polars

    result = LogParser.logfmt().parse(polars.Series("line", [GOOD, BAD]))
    assert (result.records.num_rows, result.rejects.num_rows) == (1, 1)
    result = LogParser.logfmt().parse(pandas.Series([GOOD, BAD, GOOD]))
    assert (result.records.num_rows, result.rejects.num_rows) == (2, 1)
    result = LogParser.logfmt().parse(numpy.array([GOOD, BAD]))
    assert (result.records.num_rows, result.rejects.num_rows) == (1, 1)


def test_wrong_inputs_raise_typed_errors(tmp_path: Path) -> None:
    parser = LogParser.logfmt()
    with pytest.raises(TypeError, match="not a single str"):
        parser.parse(GOOD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a single bytes"):
        parser.parse(GOOD.encode())
    with pytest.raises(TypeError, match="use parse_file"):
        parser.parse(tmp_path)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"lines\[1\] is int; expected str, bytes or None"):
        parser.parse([GOOD, 5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of str/bytes"):
        parser.parse(42)  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="got Int64"):
        parser.parse(pa.array([1, 2]))
    with pytest.raises(SchemaError):
        parser.parse(pa.table({"a": ["x"], "b": ["y"]}))


def test_many_lines_cross_internal_chunks() -> None:
    n = 200_000
    lines = [f"ts={1_705_312_800 + i} i={i}" if i % 7 else f"bad {i}" for i in range(n)]
    for data in (lines, pa.array(lines)):
        result = LogParser.logfmt().parse(data)
        assert result.num_lines == n
        assert result.rejects.column("position").to_pylist() == list(range(0, n, 7))
        assert result.records.column("i").to_pylist()[:3] == ["1", "2", "3"]


def test_parse_is_thread_safe() -> None:
    parser = LogParser.json()
    lines = [json.dumps({"ts": T0 + i, "i": i}) for i in range(20_000)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(parser.parse, [lines] * 8))
    assert all(r.records.equals(results[0].records) for r in results)


# ------------------------------------------------------------------------------------------ files


def test_parse_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(
        b"\xef\xbb\xbfts=1705312800 msg=first\r\n"
        b"\n"
        b"ts=1705312801 msg=\xff\n"
        b"garbage\n" + b"ts=1705312802 msg=" + b"y" * 3_000_000 + b"\n" + b"ts=1705312803 msg=last"
    )
    parser = LogParser.logfmt()
    result = parser.parse_file(path)
    assert result.num_lines == 6
    assert result.records.column("message").to_pylist()[0] == "first"
    assert len(result.records.column("message").to_pylist()[1]) == 3_000_000
    assert result.records.column("message").to_pylist()[2] == "last"
    assert reasons(result) == [(2, "empty line"), (3, "invalid UTF-8 at byte 18"), (4, 'missing time: no keys "ts", "time"')]
    assert parser.parse_file(str(path)).records.equals(result.records)

    small = LogParser.logfmt(max_line_bytes=1000).parse_file(path)
    assert small.rejects.column("reason").to_pylist()[-1].startswith("line is 3000018 bytes, over max_line_bytes=1000")
    assert small.rejects.column("position").to_pylist()[-1] == 5


def test_parse_file_errors(tmp_path: Path) -> None:
    parser = LogParser.json()
    with pytest.raises(FleetstreamIOError, match="missing.log") as info:
        parser.parse_file(tmp_path / "missing.log")
    assert isinstance(info.value, OSError) and isinstance(info.value, FleetstreamError)
    with pytest.raises(FleetstreamIOError, match="is a directory"):
        parser.parse_file(tmp_path)


# ------------------------------------------------------------------------------------------ config


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LogParser.json(time_format="fancy"), 'unknown time_format "fancy"'),
        (lambda: LogParser.json(time_format="%Y-%Q"), "invalid strftime time_format"),
        (lambda: LogParser.json(required=["host"]), 'required: unknown field "host"'),
        (lambda: LogParser.json(extra_fields=["level"]), "is a standard column"),
        (lambda: LogParser.json(time_field="ts", level_field="ts"), 'key "ts" is given for both time_field and level_field'),
        (lambda: LogParser.json(time_field=[]), "time_field must be a key name"),
        (lambda: LogParser.json(max_line_bytes=0), "max_line_bytes must be an integer >= 1"),
        (lambda: LogParser.json(max_extra_fields=-1), "max_extra_fields must be an integer >= 0"),
        (lambda: LogParser.regex(r"(?P<time>\S+)"), 'no named group "ts"'),
        (lambda: LogParser.regex(r"(?P<ts>\S+"), "invalid regex pattern"),
        (lambda: LogParser.regex(r"(?P<ts>\S+)", time_format="epoch_minutes"), "unknown time_format"),
        (lambda: LogParser.log4j("%d{ABSOLUTE} %m"), "has no date"),
    ],
)
def test_config_errors(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        build()


def test_config_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        LogParser.regex("(")
    with pytest.raises(TypeError, match="LogParser.json"):
        LogParser()


# ------------------------------------------------------------------------------------------ pickling


ALL_PARSERS = [
    LogParser.json(),
    LogParser.json(time_field=("@timestamp", "ts"), extra_fields=["host"], required=["message"], time_format="epoch_ms"),
    LogParser.logfmt(max_extra_fields=5),
    LogParser.regex(r"^(?P<ts>\S+) (?P<message>.*)$", time_format="%Y-%m-%dT%H:%M:%S%z"),
    LogParser.python_logging("{asctime} {message}", style="{", datefmt="%Y-%m-%d %H:%M:%S"),
    LogParser.log4j(),
    LogParser.syslog(required=["message"]),
]


@pytest.mark.parametrize("parser", ALL_PARSERS, ids=lambda p: p.format)
def test_pickle_repr_and_equality(parser: LogParser) -> None:
    clone = pickle.loads(pickle.dumps(parser))
    assert clone == parser and hash(clone) == hash(parser)
    assert clone.pattern == parser.pattern and clone.format == parser.format
    assert eval(repr(parser), {"LogParser": LogParser}) == parser  # noqa: S307
    lines = ['{"ts": 0}', "ts=0 a=1", "x"]
    a, b = parser.parse(lines), clone.parse(lines)
    assert a.records.equals(b.records) and a.rejects.equals(b.rejects)
    with pytest.raises(AttributeError):
        parser._format = "x"  # type: ignore[misc]


def test_parse_result_is_a_named_pair() -> None:
    result = LogParser.json().parse(['{"ts": 0}', "x"])
    records, rejects = result
    assert records is result.records and rejects is result.rejects
    assert result.num_lines == 2


def test_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(fleetstream.logs, optionflags=doctest.ELLIPSIS)
    assert tried > 5 and failures == 0


# ------------------------------------------------------------------------------------------ properties
#
# Oracles: small pure-Python parsers implementing the documented rules for JSON lines (with RFC 3339
# "Z" strings and epoch numbers as times) and logfmt.


# Rust's char::is_whitespace (Python's str.isspace also counts \x1c-\x1f).
RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
DECIMAL = re.compile(r"([+-]?)(\d+)(?:\.(\d*))?")


def oracle_epoch(sign: str, whole: str, fraction: str) -> int:
    """Epoch milliseconds by magnitude: < 1e11 seconds, < 1e14 ms, < 1e17 us, else ns (floored)."""
    magnitude = int(whole)
    digits = 0 if magnitude < 10**11 else 3 if magnitude < 10**14 else 6 if magnitude < 10**17 else 9
    value = Fraction(int(whole + fraction), 10 ** len(fraction)) * (-1 if sign == "-" else 1)
    return math.floor(value * 1000 / 10**digits)


def oracle_time(value: Any) -> int | None:
    """Documented ``auto`` rules, for the kinds of times the strategies generate."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        result = oracle_epoch("-" if value < 0 else "", str(abs(value)), "")
    elif isinstance(value, str):
        text = value.strip(RUST_WHITESPACE)
        decimal = DECIMAL.fullmatch(text)
        if decimal:
            result = oracle_epoch(decimal[1], decimal[2], decimal[3] or "")
        elif ISO_MS.fullmatch(text):
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            result = (parsed - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)
        else:
            return None
    else:
        return None
    return result if 0 <= result <= MAX_EVENT_TIME else None


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


STANDARD = {"ts": "ts", "level": "level", "service": "service", "message": "message"}


def oracle_json(line: str | bytes | None) -> dict[str, Any] | None:
    """The record the parser must produce for ``line``, or None for a reject."""
    if line is None:
        return None
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or "ts" not in obj:
        return None
    ts = oracle_time(obj["ts"])
    if ts is None:
        return None
    level = as_text(obj.get("level"))
    return {
        "ts": ts,
        "level": level.upper() if level is not None else None,
        "service": as_text(obj.get("service")),
        "message": as_text(obj.get("message")),
        "extras": {k: as_text(v) for k, v in obj.items() if k not in STANDARD},
    }


def unquote(quoted: str) -> str:
    try:
        text: str = json.loads(quoted)
        return text
    except ValueError:
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), quoted[1:-1])


def oracle_logfmt(line: str) -> dict[str, Any] | None:
    pairs: dict[str, str] = {}
    i = 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        j = i
        while j < len(line) and line[j] not in " =":
            if line[j] == '"':
                return None
            j += 1
        key = line[i:j]
        if j == len(line) or line[j] == " ":
            pairs[key] = "true"
            i = j
            continue
        if not key:
            return None
        j += 1
        if j < len(line) and line[j] == '"':
            k = j + 1
            while k < len(line) and line[k] != '"':
                k += 2 if line[k] == "\\" else 1
            if k >= len(line) or (k + 1 < len(line) and line[k + 1] != " "):
                return None
            pairs[key] = unquote(line[j : k + 1])
            i = k + 1
        else:
            k = j
            while k < len(line) and line[k] != " ":
                if line[k] == '"':
                    return None
                k += 1
            pairs[key] = line[j:k]
            i = k
    time_key = "ts" if "ts" in pairs else "time" if "time" in pairs else None
    if time_key is None:
        return None
    ts = oracle_time(pairs[time_key])
    if ts is None:
        return None
    message_key = "msg" if "msg" in pairs else "message" if "message" in pairs else None
    used = {time_key, "level", "service", message_key}
    level = pairs.get("level")
    return {
        "ts": ts,
        "level": level.upper() if level is not None else None,
        "service": pairs.get("service"),
        "message": pairs.get(message_key) if message_key else None,
        "extras": {k: v for k, v in pairs.items() if k not in used and k not in ("ts", "time", "msg", "message")},
    }


def check_against_oracle(result: ParseResult, expected: list[dict[str, Any] | None]) -> None:
    assert result.num_lines == len(expected)
    assert result.rejects.column("position").to_pylist() == [i for i, e in enumerate(expected) if e is None]
    good = [e for e in expected if e is not None]
    records = result.records
    assert records.num_rows == len(good)
    columns: list[str] = []
    for e in good:
        columns.extend(k for k in e["extras"] if k not in columns)
    names = [c + "_" if c in STANDARD else c for c in columns]
    assert records.column_names == ["ts", "level", "service", "message", *names]
    ts = records.column("ts").cast(pa.int64()).to_pylist()
    for i, e in enumerate(good):
        got = row(records, i)
        assert ts[i] == e["ts"]
        assert (got["level"], got["service"], got["message"]) == (e["level"], e["service"], e["message"])
        for column, name in zip(columns, names):
            assert got[name] == e["extras"].get(column), (column, got, e)


# Below U+3000 so that Python's and Rust's Unicode case tables agree on upper-casing levels.
texts = st.text(st.characters(max_codepoint=0x2FFF, exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.sampled_from([0.5, -1.25, 100.0, 3.75]), texts
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=6)
times = st.one_of(
    st.integers(0, MAX_EVENT_TIME).map(lambda v: datetime.fromtimestamp(v / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")),
    st.integers(0, 99_999_999_999),  # epoch seconds
    st.integers(10**11, 10**14 - 1),  # epoch milliseconds
    st.integers(-(10**12), -1),  # before 1970: reject
    st.sampled_from(["yesterday", "2024-13-01T00:00:00Z", "", None, True]),
)
field_names = st.sampled_from(["user", "host", "n", "nested", "é", "ts_", "a b", "level", "service", "message"])
json_objects = st.lists(st.tuples(field_names, json_values), max_size=5).flatmap(
    lambda pairs: st.one_of(times.map(lambda t: [("ts", t), *pairs]), st.just(pairs))
)


def corrupt(line: str, how: int) -> str | bytes | None:
    if how == 0:
        return line[: len(line) // 2]
    if how == 1:
        return line.encode() + b"\xff"
    if how == 2:
        return "  "
    if how == 3:
        return None
    if how == 4:
        return json.dumps([line])
    return line + " }"


json_lines = st.lists(
    st.tuples(json_objects, st.integers(0, 12)).map(
        lambda t: (
            "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}" for k, v in t[0]) + "}"
            if t[1] > 5
            else corrupt("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in t[0]) + "}", t[1])
        )
    ),
    max_size=25,
)

input_kinds = st.sampled_from(["list", "bytes", "arrow", "arrow_binary", "chunked"])


def as_input(lines: list[str | bytes | None], kind: str) -> Any:
    def to_bytes(x: str | bytes | None) -> bytes | None:
        return x.encode("utf-8", "surrogatepass") if isinstance(x, str) else x

    def to_str(x: str | bytes | None) -> str | None:
        return x.decode("utf-8", "surrogateescape") if isinstance(x, bytes) else x

    if kind == "list":
        return [to_str(x) for x in lines]
    if kind == "bytes":
        return [to_bytes(x) for x in lines]
    if kind == "arrow_binary":
        return pa.array([to_bytes(x) for x in lines], pa.binary())
    valid = all(not isinstance(x, bytes) for x in lines)
    if not valid:
        return pa.array([to_bytes(x) for x in lines], pa.large_binary())
    if kind == "chunked":
        half = len(lines) // 2
        return pa.chunked_array([pa.array(lines[:half], pa.string()), pa.array(lines[half:], pa.string())], pa.string())
    return pa.array(lines, pa.string())


PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("FLEETSTREAM_LOGS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(lines=json_lines, kind=input_kinds)
def test_json_lines_match_oracle(lines: list[str | bytes | None], kind: str) -> None:
    result = LogParser.json().parse(as_input(lines, kind))
    check_against_oracle(result, [oracle_json(line) for line in lines])


logfmt_keys = st.sampled_from(["ts", "time", "level", "service", "msg", "message", "user", "a.b", "x-y", "é"])
logfmt_values = st.one_of(
    st.text(
        st.characters(max_codepoint=0x2FFF, exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], exclude_characters='"='),
        min_size=1,
        max_size=8,
    ),
    texts.map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.sampled_from(["1.5", "+7", "-3", "1e9", " 12 ", "2024-01-15T10:00:00.000Z", "1705312800123"]).map(json.dumps),
    st.integers(0, 10**13).map(str),
    st.just(""),
)
logfmt_pairs = st.tuples(logfmt_keys, logfmt_values).map(lambda kv: f"{kv[0]}={kv[1]}")
logfmt_flags = logfmt_keys
logfmt_corrupt = st.sampled_from(['bad"key=1', 'q="open', "=v", 'v=a"b', 'z="x"y'])
logfmt_times = st.one_of(times.filter(lambda t: t is not True and t is not None).map(str), logfmt_values).map(
    lambda t: f"{'ts' if len(t) % 2 else 'time'}={json.dumps(t) if (' ' in t or not t) else t}"
)
logfmt_good_times = st.one_of(st.integers(0, 10**14 - 1), times.filter(lambda t: isinstance(t, str) and "T" in t)).map(
    lambda t: f"ts={t}"
)
logfmt_lines = st.lists(
    st.tuples(
        st.one_of(logfmt_times.map(lambda t: [t]), logfmt_good_times.map(lambda t: [t]), st.just([])),
        st.lists(st.one_of(logfmt_pairs, logfmt_pairs, logfmt_flags), max_size=5),
        st.lists(logfmt_corrupt, max_size=1).flatmap(lambda bad: st.just(bad) if not bad else st.sampled_from([bad, [], [], []])),
    ).flatmap(lambda parts: st.permutations(parts[0] + parts[1] + parts[2]).map(" ".join)),
    max_size=25,
)


@PROPERTY_SETTINGS
@given(lines=logfmt_lines, kind=input_kinds)
def test_logfmt_lines_match_oracle(lines: list[str], kind: str) -> None:
    result = LogParser.logfmt().parse(as_input(list(lines), kind))
    check_against_oracle(result, [oracle_logfmt(line) if line.strip() else None for line in lines])
