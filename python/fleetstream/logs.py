"""Parse raw log lines into Arrow tables: JSON lines, logfmt, regexes with named groups, and presets
for Python ``logging``, log4j/logback and syslog (RFC 5424).

Every line in comes out either as a row of ``records`` or as a row of ``rejects`` (with the line,
its position and the reason), so ``records.num_rows + rejects.num_rows == number of lines``.

>>> from fleetstream.logs import LogParser
>>> parser = LogParser.json()
>>> result = parser.parse([
...     '{"ts": "2024-01-15T10:00:00Z", "level": "warn", "message": "disk full", "host": "db1"}',
...     'oops',
... ])
>>> result.records.column_names
['ts', 'level', 'service', 'message', 'host']
>>> result.records.to_pylist()[0]["level"]
'WARN'
>>> result.rejects.to_pylist()
[{'line': 'oops', 'position': 1, 'reason': 'invalid JSON: expected value at line 1 column 1'}]

Output schema. ``records``: ``ts`` (timestamp[ms, tz=UTC], never null), ``level`` (upper-cased),
``service``, ``message`` (utf8, null when absent), then one utf8 column per extra field in order of
first appearance (JSON numbers, booleans and nested values as compact JSON text, unless ``fields=``
gives the field a type; an extra field named like a standard column gets a trailing ``_``). ``rejects``: ``line`` (utf8; invalid UTF-8 replaced by
U+FFFD; null for a null input), ``position`` (int64: 0-based index for arrays and lists, 1-based line
number for files), ``reason`` (utf8).

Time formats (``time_format``): ``"auto"`` reads RFC 3339/ISO 8601 (``T`` or space, ``.`` or ``,``
before the fraction, zone ``Z``/``+hh:mm``/``+hhmm``/``+hh``/`` UTC`` or none, see below), RFC 2822,
and epoch numbers (JSON numbers or numeric strings) whose unit is chosen by magnitude: below 1e11
seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds (each covers 1973..5138).
Explicit: ``"rfc3339"`` (alias ``"iso8601"``), ``"epoch_s"``, ``"epoch_ms"``, ``"epoch_us"``,
``"epoch_ns"``, or a chrono strftime pattern such as ``"%d/%b/%Y:%H:%M:%S %z"`` (no time of day
means midnight). Times before 1970 or after 9999 are rejects.

Time zones (``timezone``, every format): a time written without a zone is read in ``timezone``,
``"UTC"`` by default; give an IANA name (``"Europe/Berlin"``) or ``"local"`` (the process's zone:
``TZ``, else ``/etc/localtime``), e.g. for Python ``logging``, which writes local time. Times with an
offset (``Z``, ``+01:00``, `` UTC``) and epoch numbers are instants and ignore it. Daylight saving:
a time that occurs twice (the hour repeated when clocks go back) is its first occurrence, and a time
that never occurs (the hour skipped when clocks go forward) is read with the offset in force before
the jump, as Python's ``datetime`` does with ``fold=0``.

>>> berlin = LogParser.python_logging("%(asctime)s %(message)s", timezone="Europe/Berlin")
>>> rows = berlin.parse(["2024-01-15 11:00:00,000 winter", "2024-07-01 12:00:00,000 summer"]).records.to_pylist()
>>> [r["ts"].isoformat() for r in rows]
['2024-01-15T10:00:00+00:00', '2024-07-01T10:00:00+00:00']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol, Union

import pyarrow as pa

from fleetstream import _core
from fleetstream.exceptions import ConfigError

__all__ = ["LogParser", "ParseResult"]

#: Python ``logging``'s conventional format, the default of :meth:`LogParser.python_logging`.
PYTHON_LOGGING_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
#: The classic log4j pattern layout, the default of :meth:`LogParser.log4j`.
LOG4J_PATTERN = "%d{yyyy-MM-dd HH:mm:ss,SSS} [%t] %-5p %c - %m%n"
#: Lines longer than this many bytes are rejects by default.
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
#: Most extra columns created from discovered JSON/logfmt keys by default.
DEFAULT_MAX_EXTRA_FIELDS = 1000

#: A key name, or candidate key names (the first one present in a line wins).
Keys = Union[str, Sequence[str]]


class _ArrowArrayExportable(Protocol):
    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...


class _ArrowStreamExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...


#: What :meth:`LogParser.parse` accepts.
Lines = Union[_ArrowArrayExportable, _ArrowStreamExportable, Iterable[Union[str, bytes, None]]]


class _Tables(NamedTuple):
    records: pa.Table
    rejects: pa.Table


class ParseResult(_Tables):
    """Parsed ``records`` and ``rejects`` (both ``pyarrow.Table``); unpacks as a pair.

    ``missing_fields`` names the columns that the parser looks for but that no record had (absent
    or null in every record of this parse call, which is usually a wrong key): the standard fields
    ``"level"``, ``"service"``, ``"message"`` (for a pattern, those it has a group for), then the
    extra fields named in ``extra_fields`` or ``fields``. ``warnings`` says the same in sentences.
    Both are empty when there are no records. The repr is a summary that shows them.

    >>> result = LogParser.json(service_field="svc").parse(['{"ts": 0, "level": "info", "message": "m"}'])
    >>> result.missing_fields
    ('service',)
    >>> result
    ParseResult(records=1 row, rejects=0 rows, missing_fields=('service',))
    >>> result.warnings
    ('"service" (key "svc") was absent or null in the record',)
    """

    missing_fields: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __new__(
        cls,
        records: pa.Table,
        rejects: pa.Table,
        missing: Iterable[tuple[str, str]] = (),
    ) -> ParseResult:
        self = super().__new__(cls, records, rejects)
        pairs = tuple(missing)
        self.missing_fields = tuple(field for field, _ in pairs)
        self.warnings = tuple(sentence for _, sentence in pairs)
        return self

    @property
    def num_lines(self) -> int:
        """Lines read: ``records.num_rows + rejects.num_rows``."""
        return int(self.records.num_rows + self.rejects.num_rows)

    def __repr__(self) -> str:
        def rows(n: int) -> str:
            return f"{n} row" if n == 1 else f"{n} rows"

        text = f"ParseResult(records={rows(self.records.num_rows)}, rejects={rows(self.rejects.num_rows)}"
        if self.missing_fields:
            text += f", missing_fields={self.missing_fields!r}"
        return text + ")"


def _key_list(value: Keys, option: str) -> tuple[str, ...]:
    keys = (value,) if isinstance(value, str) else tuple(value)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(f"{option} must be a key name or a non-empty list of key names, got {value!r}")
    return keys


def _names(value: str | Sequence[str] | None, option: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{option} must be a list of field names, got {value!r}")
    return names


#: Type names for :meth:`LogParser.json`'s ``fields``.
FIELD_TYPES = ("string", "int64", "float64", "bool")


def _field_types(value: Mapping[str, str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"fields must be a dict of field name to type name, got {value!r}")
    return dict(value)


def _count(value: int, option: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{option} must be an integer >= {minimum}, got {value!r}")
    return value


def _text(value: object, option: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{option} must be a str, got {type(value).__name__}")
    return value


def _rebuild(format: str, options: dict[str, Any]) -> LogParser:
    return LogParser._create(format, options)


class LogParser:
    """Turns raw log lines into a ``records`` table and a ``rejects`` table.

    Build one with a constructor per format: :meth:`json`, :meth:`logfmt`, :meth:`regex`,
    :meth:`python_logging`, :meth:`log4j`, :meth:`syslog`. A parser is immutable, thread-safe and
    picklable (it pickles as its configuration); parsing releases the GIL.

    >>> parser = LogParser.logfmt()
    >>> records, rejects = parser.parse(['ts=2024-01-15T10:00:00Z level=info msg="hello world" user=ann'])
    >>> records.to_pylist()[0]["message"], records.to_pylist()[0]["user"]
    ('hello world', 'ann')
    """

    __slots__ = ("_format", "_options", "_native")

    _format: str
    _options: dict[str, Any]
    _native: _core.LogParser

    def __init__(self) -> None:
        raise TypeError(
            "create a LogParser with LogParser.json(), .logfmt(), .regex(pattern), .python_logging(), "
            ".log4j() or .syslog()"
        )

    @classmethod
    def _create(cls, format: str, options: dict[str, Any]) -> LogParser:
        native_options: dict[str, Any] = {
            ("pattern" if k == "fmt" else k): list(v) if isinstance(v, tuple) else v for k, v in options.items()
        }
        if "fields" in native_options:
            native_options["fields"] = list(native_options["fields"].items())
        native = _core.LogParser(format, **native_options)
        self = object.__new__(cls)
        object.__setattr__(self, "_format", format)
        object.__setattr__(self, "_options", dict(options))
        object.__setattr__(self, "_native", native)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("LogParser is immutable")

    # ----------------------------------------------------------------------------------- formats

    @classmethod
    def json(
        cls,
        *,
        time_field: Keys = "ts",
        level_field: Keys = "level",
        service_field: Keys = "service",
        message_field: Keys = "message",
        time_format: str = "auto",
        timezone: str = "UTC",
        required: Sequence[str] = (),
        extra_fields: Sequence[str] | None = None,
        fields: Mapping[str, str] | None = None,
        max_extra_fields: int = DEFAULT_MAX_EXTRA_FIELDS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> LogParser:
        """JSON lines: one object per line.

        Each ``*_field`` is a key or a list of candidate keys (the first one present with a non-null
        value wins; a repeated key's last value wins). A key may be a dotted path into nested
        objects: ``"ctx.service"`` reads ``{"ctx": {"service": "api"}}``. A top-level key spelled
        exactly like the path (``{"ctx.service": ...}``) is looked up first and wins; inside a path,
        ``\\.`` is a dot that belongs to a key (``"k8s.labels.app\\.kubernetes\\.io/name"``) and
        ``\\\\`` a backslash. A path that is absent, null or crosses a non-object moves on to the next
        candidate. The object a path reads from (``ctx``) stays an extra column as JSON text.
        ``extra_fields`` may name paths too (the column is named like the path).

        Extra columns are strings by default: JSON strings as they are, numbers and booleans as
        their JSON text (``"841"``, ``"true"``), nested objects and arrays as compact JSON text.
        ``fields`` gives some of them an Arrow type: ``{"latency_ms": "int64", "ok": "bool",
        "ratio": "float64", "ctx": "string"}`` (names may be paths; with ``extra_fields``, each must
        be listed there too). ``int64`` takes integers (JSON numbers or strings such as ``"841"``;
        ``1.5`` is not one), ``float64`` finite numbers, ``bool`` ``true``/``false`` (JSON booleans
        or those strings). A value that does not convert makes the line a reject whose reason names
        the field, the value and the type; it never becomes a silent null. Typed columns are always
        in the schema (without ``extra_fields``, as the first extra columns, in the order given). All other keys (keys listed in a ``*_field``
        never do) become extra columns in order of first appearance, unless ``extra_fields`` lists
        exactly the columns to keep (then the schema is fixed). A line that would create more than
        ``max_extra_fields`` extra columns is a reject. ``required`` lists standard fields
        (``"level"``, ``"service"``, ``"message"``) whose absence makes a line a reject; the time is
        always required. A time written without a zone is read in ``timezone`` (``"UTC"`` by
        default, an IANA name or ``"local"``; see the module docs).

        >>> parser = LogParser.json(time_field=["@timestamp", "time"], message_field="msg", time_format="epoch_ms")
        >>> parser.parse(['{"time": 1705312800123, "msg": "hi", "n": 1}']).records.to_pylist()[0]["n"]
        '1'
        >>> nested = LogParser.json(service_field="ctx.service", extra_fields=["ctx.user.id"])
        >>> row = nested.parse(['{"ts": 0, "ctx": {"service": "api", "user": {"id": 7}}}']).records.to_pylist()[0]
        >>> row["service"], row["ctx.user.id"]
        ('api', '7')
        >>> typed = LogParser.json(fields={"latency_ms": "int64", "ok": "bool"})
        >>> result = typed.parse(['{"ts": 0, "latency_ms": "841", "ok": true}', '{"ts": 0, "latency_ms": "fast"}'])
        >>> result.records.select(["latency_ms", "ok"]).to_pylist()
        [{'latency_ms': 841, 'ok': True}]
        >>> result.rejects.column("reason").to_pylist()
        ['field "latency_ms" value "fast" is not an int64']
        """
        return cls._create(
            "json",
            {
                "time_field": _key_list(time_field, "time_field"),
                "level_field": _key_list(level_field, "level_field"),
                "service_field": _key_list(service_field, "service_field"),
                "message_field": _key_list(message_field, "message_field"),
                "time_format": _text(time_format, "time_format"),
                "timezone": _text(timezone, "timezone"),
                "required": _names(required, "required") or (),
                "extra_fields": _names(extra_fields, "extra_fields"),
                "fields": _field_types(fields),
                "max_extra_fields": _count(max_extra_fields, "max_extra_fields", 0),
                "max_line_bytes": _count(max_line_bytes, "max_line_bytes", 1),
            },
        )

    @classmethod
    def logfmt(
        cls,
        *,
        time_field: Keys = ("ts", "time"),
        level_field: Keys = "level",
        service_field: Keys = "service",
        message_field: Keys = ("msg", "message"),
        time_format: str = "auto",
        timezone: str = "UTC",
        required: Sequence[str] = (),
        extra_fields: Sequence[str] | None = None,
        fields: Mapping[str, str] | None = None,
        max_extra_fields: int = DEFAULT_MAX_EXTRA_FIELDS,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> LogParser:
        """logfmt: ``key=value`` pairs (``ts=2024-01-15T10:00:00Z level=info msg="a b" user=ann``).

        Quoted values use JSON/Go escapes; a bare ``key`` is a flag with value ``"true"``; ``key=``
        is the empty string. An unterminated quote or a quote inside a key or bare value makes the
        line a reject. Options as in :meth:`json`, except that keys are flat (a dot is part of the
        key name, never a path).

        >>> LogParser.logfmt().parse(['time=1705312800 msg=ok retry']).records.to_pylist()[0]["retry"]
        'true'
        """
        return cls._create(
            "logfmt",
            {
                "time_field": _key_list(time_field, "time_field"),
                "level_field": _key_list(level_field, "level_field"),
                "service_field": _key_list(service_field, "service_field"),
                "message_field": _key_list(message_field, "message_field"),
                "time_format": _text(time_format, "time_format"),
                "timezone": _text(timezone, "timezone"),
                "required": _names(required, "required") or (),
                "extra_fields": _names(extra_fields, "extra_fields"),
                "fields": _field_types(fields),
                "max_extra_fields": _count(max_extra_fields, "max_extra_fields", 0),
                "max_line_bytes": _count(max_line_bytes, "max_line_bytes", 1),
            },
        )

    @classmethod
    def regex(
        cls,
        pattern: str,
        *,
        time_format: str = "auto",
        timezone: str = "UTC",
        required: Sequence[str] = (),
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> LogParser:
        """A regular expression (Rust ``regex`` syntax, close to Python's without look-around or
        back-references) with named groups: ``ts`` (required), ``level``, ``service``, ``message``;
        every other named group is an extra column. The pattern is searched anywhere in the line
        (like ``re.search``): anchor it with ``^...$`` to match whole lines.

        >>> parser = LogParser.regex(
        ...     r'^(?P<host>\\S+) \\S+ \\S+ \\[(?P<ts>[^\\]]+)\\] "(?P<message>[^"]*)" (?P<status>\\d+)',
        ...     time_format="%d/%b/%Y:%H:%M:%S %z",
        ... )
        >>> result = parser.parse(['1.2.3.4 - - [15/Jan/2024:11:00:00 +0100] "GET / HTTP/1.1" 200 512'])
        >>> row = result.records.to_pylist()[0]
        >>> row["ts"].isoformat(), row["status"]
        ('2024-01-15T10:00:00+00:00', '200')
        """
        return cls._create(
            "regex",
            {
                "pattern": _text(pattern, "pattern"),
                "time_format": _text(time_format, "time_format"),
                "timezone": _text(timezone, "timezone"),
                "required": _names(required, "required") or (),
                "max_line_bytes": _count(max_line_bytes, "max_line_bytes", 1),
            },
        )

    @classmethod
    def python_logging(
        cls,
        fmt: str = PYTHON_LOGGING_FORMAT,
        *,
        datefmt: str | None = None,
        style: Literal["%", "{", "$"] = "%",
        timezone: str = "UTC",
        required: Sequence[str] = (),
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> LogParser:
        """Lines written by Python ``logging`` with this ``fmt``/``datefmt``/``style`` (the same
        arguments as ``logging.Formatter``).

        ``%(asctime)s`` is the time (default layout ``2024-01-15 10:00:00,123``; with a ``datefmt``,
        a ``%(msecs)d`` elsewhere in the format is added to it); without ``asctime``, ``%(created)f``
        is. ``%(name)s`` is the service, ``%(levelname)s`` the level, ``%(message)s`` the message;
        other attributes (``lineno``, ``threadName``, custom ones) are extra columns named after them.
        ``logging`` writes local time with no zone: pass the writer's zone as ``timezone``
        (``"Europe/Berlin"``, or ``"local"`` for this process's own zone); the default reads UTC.
        See :attr:`pattern` for the regex it becomes.

        >>> parser = LogParser.python_logging("%(asctime)s %(levelname)-8s %(name)s:%(lineno)d %(message)s")
        >>> parser.parse(["2024-01-15 10:00:00,123 INFO     app.db:42 slow query"]).records.to_pylist()[0]["lineno"]
        '42'
        """
        if style not in ("%", "{", "$"):
            raise ConfigError(f"style must be '%', '{{' or '$', got {style!r}")
        options: dict[str, Any] = {"fmt": _text(fmt, "fmt"), "style": style}
        if datefmt is not None:
            options["datefmt"] = _text(datefmt, "datefmt")
        options["timezone"] = _text(timezone, "timezone")
        options["required"] = _names(required, "required") or ()
        options["max_line_bytes"] = _count(max_line_bytes, "max_line_bytes", 1)
        return cls._create("python_logging", options)

    @classmethod
    def log4j(
        cls,
        pattern: str = LOG4J_PATTERN,
        *,
        timezone: str = "UTC",
        required: Sequence[str] = (),
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> LogParser:
        """Lines written by log4j, log4j2 or logback with this pattern layout.

        ``%d{...}`` is the time (Java date patterns are translated; ``%d``, ``%d{DEFAULT}`` and
        ``%d{ISO8601}`` accept any ISO 8601 time), ``%p``/``%level`` the level, ``%c``/``%logger``
        the service, ``%m``/``%msg`` the message. ``%t`` gives ``thread``, ``%X{key}`` a column named
        ``key``, and ``%C %M %L %F %l %r %T %pid %sn %x %marker %u`` give ``class``, ``method``,
        ``line``, ``file``, ``location``, ``relative``, ``thread_id``, ``pid``, ``sequence``, ``ndc``,
        ``marker``, ``uuid``. Stack traces (``%ex``) are on later lines, which become rejects.

        >>> records = LogParser.log4j().parse(["2024-01-15 10:00:00,123 [main] ERROR com.example.Foo - boom"]).records
        >>> [records.to_pylist()[0][c] for c in ("level", "service", "message", "thread")]
        ['ERROR', 'com.example.Foo', 'boom', 'main']
        """
        return cls._create(
            "log4j",
            {
                "pattern": _text(pattern, "pattern"),
                "timezone": _text(timezone, "timezone"),
                "required": _names(required, "required") or (),
                "max_line_bytes": _count(max_line_bytes, "max_line_bytes", 1),
            },
        )

    @classmethod
    def syslog(
        cls,
        *,
        timezone: str = "UTC",
        required: Sequence[str] = (),
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> LogParser:
        """Syslog RFC 5424: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG``.

        APP-NAME is the service; the level is the severity from PRI (``EMERGENCY``, ``ALERT``,
        ``CRITICAL``, ``ERROR``, ``WARNING``, ``NOTICE``, ``INFO``, ``DEBUG``); extra columns
        ``facility`` (``kern``, ``user``, ... ``local7``), ``hostname``, ``procid``, ``msgid``,
        ``structured_data``. A ``-`` header field is null.

        >>> result = LogParser.syslog().parse(["<34>1 2024-01-15T10:00:00.003Z host su - ID47 - 'su root' failed"])
        >>> row = result.records.to_pylist()[0]
        >>> row["level"], row["service"], row["facility"], row["procid"]
        ('CRITICAL', 'su', 'auth', None)
        """
        return cls._create(
            "syslog",
            {
                "timezone": _text(timezone, "timezone"),
                "required": _names(required, "required") or (),
                "max_line_bytes": _count(max_line_bytes, "max_line_bytes", 1),
            },
        )

    # ----------------------------------------------------------------------------------- parsing

    def parse(self, lines: Lines) -> ParseResult:
        """Parse ``lines``: an Arrow string/binary array or chunked array (pyarrow, polars, anything
        with ``__arrow_c_array__``/``__arrow_c_stream__``; a one-column table works too), or an
        iterable of ``str``/``bytes`` (``None`` is a null line, rejected). Positions in ``rejects``
        are 0-based indexes. One trailing ``\\n`` or ``\\r\\n`` per line is ignored.

        >>> import pyarrow as pa
        >>> parser = LogParser.logfmt()
        >>> result = parser.parse(pa.array(["ts=1705312800 msg=a", None, ""]))
        >>> result.num_lines, result.rejects.column("reason").to_pylist()
        (3, ['line is null', 'empty line'])
        """
        return ParseResult(*self._native.parse(lines))

    def parse_file(self, path: str | os.PathLike[str]) -> ParseResult:
        """Parse a text file, streamed line by line (UTF-8; ``\\n`` or ``\\r\\n`` line ends; a
        leading BOM is skipped). Positions in ``rejects`` are 1-based line numbers. A file that
        cannot be read raises :class:`~fleetstream.FleetstreamIOError`."""
        return ParseResult(*self._native.parse_file(path))

    # ----------------------------------------------------------------------------------- introspection

    @property
    def format(self) -> str:
        """``"json"``, ``"logfmt"``, ``"regex"``, ``"python_logging"``, ``"log4j"`` or ``"syslog"``."""
        return self._format

    @property
    def pattern(self) -> str | None:
        """The regex in use (for the presets, the translation of the layout); None for JSON/logfmt.

        >>> print(LogParser.python_logging("%(asctime)s %(message)s").pattern)
        ^(?P<g0>[+-]?\\d{4,5}\\-\\d{1,2}\\-\\d{1,2} \\d{1,2}:\\d{1,2}:\\d{1,2},\\d{3}) (?P<g1>.*)$
        """
        return self._native.pattern

    @property
    def options(self) -> dict[str, Any]:
        """The options this parser was built with (defaults filled in)."""
        return dict(self._options)

    def __reduce__(self) -> tuple[Any, tuple[str, dict[str, Any]]]:
        return (_rebuild, (self._format, dict(self._options)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogParser):
            return NotImplemented
        return (self._format, self._options) == (other._format, other._options)

    def __hash__(self) -> int:
        frozen = {k: tuple(v.items()) if isinstance(v, dict) else v for k, v in self._options.items()}
        return hash((self._format, tuple(sorted(frozen.items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"LogParser.{self._format}({args})"
