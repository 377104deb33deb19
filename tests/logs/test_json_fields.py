"""JSON parser: nested key paths (``service_field="ctx.service"``), standard fields never found in a
parse call, and typed extra fields (``fields={"latency_ms": "int64"}``)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from fleetstream.exceptions import ConfigError
from fleetstream.logs import LogParser

T0_LINE = '"ts": "2024-01-15T10:00:00Z"'


def rows(parser: LogParser, lines: list[str]) -> list[dict[str, Any]]:
    result = parser.parse(lines)
    assert result.rejects.num_rows == 0, result.rejects.to_pylist()
    got: list[dict[str, Any]] = result.records.to_pylist()
    return got


# ------------------------------------------------------------------------------------------ paths


def test_nested_service_path_reads_inside_objects() -> None:
    # The case: service_field="ctx.service" gave service=None on every row.
    parser = LogParser.json(service_field="ctx.service", level_field="log.level", message_field="msg")
    got = rows(
        parser,
        [
            '{' + T0_LINE + ', "ctx": {"service": "api", "pod": "a-1"}, "log": {"level": "warn"}, "msg": "m1"}',
            '{' + T0_LINE + ', "ctx": {"service": "db"}, "msg": "m2"}',
            '{' + T0_LINE + ', "msg": "m3"}',
        ],
    )
    assert [(r["service"], r["level"], r["message"]) for r in got] == [
        ("api", "WARN", "m1"),
        ("db", None, "m2"),
        (None, None, "m3"),
    ]
    # The object a path reads from is still an extra column, as JSON text.
    assert got[0]["ctx"] == '{"service":"api","pod":"a-1"}'


def test_nested_time_path_and_candidates() -> None:
    parser = LogParser.json(time_field=["meta.ts", "ts"], service_field=["ctx.service", "service"])
    result = parser.parse(
        [
            '{"meta": {"ts": 1705312800}, "ctx": {"service": "inner"}, "service": "outer"}',
            '{"ts": 1705312801, "ctx": {"service": null}, "service": "outer"}',
        ]
    )
    got = result.records.to_pylist()
    assert [int(r["ts"].timestamp()) for r in got] == [1705312800, 1705312801]
    # The first candidate with a non-null value wins; a null at the path moves on.
    assert [r["service"] for r in got] == ["inner", "outer"]


def test_literal_dotted_key_wins_and_escaped_dot() -> None:
    parser = LogParser.json(service_field="ctx.service")
    got = rows(parser, ['{' + T0_LINE + ', "ctx.service": "literal", "ctx": {"service": "nested"}}'])
    assert got[0]["service"] == "literal"
    labels = LogParser.json(service_field=r"labels.app\.kubernetes\.io/name")
    got = rows(labels, ['{' + T0_LINE + ', "labels": {"app.kubernetes.io/name": "web", "app": {"kubernetes": 1}}}'])
    assert got[0]["service"] == "web"


def test_extra_field_paths() -> None:
    parser = LogParser.json(extra_fields=["ctx.user.id", "host"])
    got = rows(parser, ['{' + T0_LINE + ', "ctx": {"user": {"id": 42}}, "host": "h1"}', '{' + T0_LINE + "}"])
    assert [(r["ctx.user.id"], r["host"]) for r in got] == [("42", "h1"), (None, None)]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LogParser.json(service_field="ctx..service"), 'json: service_field: bad key path "ctx..service"'),
        (lambda: LogParser.json(time_field="ctx."), "json: time_field: bad key path"),
        (lambda: LogParser.json(extra_fields=[".a"]), "json: extra_fields: bad key path"),
        (lambda: LogParser.json(level_field="a\\b"), "backslash must be followed"),
    ],
)
def test_bad_paths_are_config_errors(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build()


def test_logfmt_keys_are_flat() -> None:
    parser = LogParser.logfmt(service_field="ctx.service")
    got = rows(parser, ["ts=1705312800 ctx.service=api msg=hi"])
    assert got[0]["service"] == "api"


# ------------------------------------------------------------------------------------------ missing fields


def test_field_never_found_is_reported() -> None:
    parser = LogParser.json(service_field="svc")  # the lines call it "service"
    lines = [
        '{' + T0_LINE + ', "level": "info", "message": "a", "service": "api"}',
        '{' + T0_LINE + ', "level": "info", "message": null, "service": "api"}',
        "garbage",
    ]
    result = parser.parse(lines)
    assert result.missing_fields == ("service",)
    assert result.warnings == ('"service" (key "svc") was absent or null in all 2 records',)
    assert repr(result) == "ParseResult(records=2 rows, rejects=1 row, missing_fields=('service',))"
    # Still a pair; pickles with its warnings; _replace gives a result without them.
    records, rejects = result
    assert records.column("service").null_count == 2 and rejects.num_rows == 1
    import pickle

    assert pickle.loads(pickle.dumps(result)).warnings == result.warnings
    assert result._replace(rejects=rejects.slice(0, 0)).missing_fields == ()


def test_nothing_reported_when_found_once_or_no_records() -> None:
    parser = LogParser.json()
    result = parser.parse(['{' + T0_LINE + ', "level": "info", "service": "a", "message": "m"}', '{' + T0_LINE + "}"])
    assert result.missing_fields == () and result.warnings == ()
    assert repr(result) == "ParseResult(records=2 rows, rejects=0 rows)"
    assert parser.parse(["nope"]).missing_fields == ()
    assert parser.parse([]).missing_fields == ()


def test_presets_report_only_fields_they_have(tmp_path: Any) -> None:
    # No %(name)s in the format: the service is not looked for, so not reported.
    parser = LogParser.python_logging("%(asctime)s %(levelname)s %(message)s")
    assert parser.parse(["2024-01-15 10:00:00,123 INFO hi"]).missing_fields == ()
    path = tmp_path / "app.log"
    path.write_text('{"ts": 0, "msg": "x"}\n')
    result = LogParser.json().parse_file(path)
    assert result.missing_fields == ("level", "service", "message")


# ------------------------------------------------------------------------------------------ typed fields


def test_typed_fields_get_arrow_types_and_bad_values_are_rejects() -> None:
    import pyarrow as pa

    parser = LogParser.json(fields={"latency_ms": "int64", "ok": "bool", "ratio": "float64", "ctx": "string"})
    lines = [
        '{' + T0_LINE + ', "latency_ms": "841", "ok": true, "ratio": 0.5, "ctx": {"a": 1}, "n": 2}',
        '{' + T0_LINE + ', "latency_ms": 12, "ok": "false", "ratio": "2"}',
        '{' + T0_LINE + ', "latency_ms": "slow"}',
        '{' + T0_LINE + ', "ok": "yes"}',
    ]
    result = parser.parse(lines)
    schema = result.records.schema
    assert [schema.field(n).type for n in ("latency_ms", "ok", "ratio", "ctx", "n")] == [
        pa.int64(),
        pa.bool_(),
        pa.float64(),
        pa.string(),
        pa.string(),
    ]
    assert result.records.select(["latency_ms", "ok", "ratio", "ctx", "n"]).to_pylist() == [
        {"latency_ms": 841, "ok": True, "ratio": 0.5, "ctx": '{"a":1}', "n": "2"},
        {"latency_ms": 12, "ok": False, "ratio": 2.0, "ctx": None, "n": None},
    ]
    assert result.rejects.select(["position", "reason"]).to_pylist() == [
        {"position": 2, "reason": 'field "latency_ms" value "slow" is not an int64'},
        {"position": 3, "reason": 'field "ok" value "yes" is not a bool'},
    ]


def test_typed_fields_without_fields_stay_strings_and_work_for_logfmt_and_paths() -> None:
    assert rows(LogParser.json(), ['{' + T0_LINE + ', "latency_ms": 841}'])[0]["latency_ms"] == "841"
    got = rows(LogParser.logfmt(fields={"status": "int64"}), ["ts=1705312800 status=200 msg=ok"])
    assert got[0]["status"] == 200
    got = rows(LogParser.json(fields={"http.status": "int64"}), ['{' + T0_LINE + ', "http": {"status": 503}}'])
    assert got[0]["http.status"] == 503


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LogParser.json(fields={"a": "int"}), 'fields: unknown type "int" for field "a"'),
        (lambda: LogParser.json(fields={"level": "int64"}), 'fields: "level" is a standard column'),
        (lambda: LogParser.json(fields={"a": "int64"}, extra_fields=["b"]), 'fields: "a" is not in extra_fields'),
        (lambda: LogParser.json(fields=["a"]), "fields must be a dict"),  # type: ignore[arg-type]
    ],
)
def test_typed_fields_config_errors(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


def test_typed_fields_parser_pickles_and_hashes() -> None:
    import pickle

    parser = LogParser.json(fields={"a": "int64"})
    assert pickle.loads(pickle.dumps(parser)) == parser
    assert hash(parser) == hash(LogParser.json(fields={"a": "int64"}))
    assert eval(repr(parser), {"LogParser": LogParser}) == parser  # noqa: S307


def test_named_extra_fields_never_found_are_reported() -> None:
    parser = LogParser.json(extra_fields=["host", "ctx.pod"], fields={"ctx.pod": "string"})
    result = parser.parse(['{' + T0_LINE + ', "level": "i", "service": "s", "message": "m", "host": "h"}'])
    assert result.missing_fields == ("ctx.pod",)
    assert result.warnings == ('extra field "ctx.pod" was absent or null in the record',)
    discovered = LogParser.json(fields={"latency_ms": "int64"}).parse(['{' + T0_LINE + ', "level": "i", "service": "s", "message": "m"}'])
    assert discovered.missing_fields == ("latency_ms",)
    # A typed column is there (all null, with its type) even when no record has it.
    assert discovered.records.schema.field("latency_ms").type == pa.int64()
    assert discovered.records.column("latency_ms").null_count == 1
    assert LogParser.json(fields={"b": "bool"}).parse([]).records.column_names == ["ts", "level", "service", "message", "b"]
