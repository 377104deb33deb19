"""The ``parse-logs`` command: log files in, a table of records out (Parquet, CSV or CSV on stdout),
and every line it could not use in a rejects file with the reason, counted on stderr.

    fleetstream parse-logs app.log --format python --output records.parquet
    fleetstream parse-logs a.jsonl b.jsonl --format json --output - > records.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fleetstream._cli_args import add_parser

FORMATS = ("json", "logfmt", "python", "log4j", "syslog", "regex")


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parse = add_parser(commands, "parse-logs", "parse log files (JSON lines, logfmt, Python logging, log4j, syslog or a "
                                               "regex) into a table: Parquet, CSV, or CSV on standard output; unusable "
                                               "lines go to a rejects file with the reason")
    parse.add_argument("files", metavar="FILE", nargs="+", help="log files (UTF-8, one record per line)")
    parse.add_argument("--format", choices=FORMATS, required=True, help="the lines' format")
    parse.add_argument("--layout", default=None,
                       help="python: the logging.Formatter format string; log4j: the pattern layout; regex: the "
                            "pattern with named groups (ts required); the format's default when not given")
    parse.add_argument("--time-format", default=None,
                       help="json, logfmt, regex: how times are written (auto, epoch_s, epoch_ms, rfc3339 or a "
                            "strftime pattern)")
    parse.add_argument("--output", "-o", default="-",
                       help="where the records go: a .parquet or .csv file, or - for CSV on standard output")
    parse.add_argument("--rejects", default=None,
                       help="a .csv or .parquet file for the lines that could not be used (file, line, reason, text); "
                            "default: OUTPUT.rejects.csv next to a file output, none for standard output (the count "
                            "and first reasons are printed either way)")
    parse.set_defaults(run=parse_logs)


def _parser(args: argparse.Namespace) -> Any:
    from fleetstream.exceptions import ConfigError
    from fleetstream.logs import LogParser

    layout, time_format = args.layout, args.time_format
    if time_format is not None and args.format not in ("json", "logfmt", "regex"):
        raise ConfigError(f"--time-format does not apply to --format {args.format} (its layout says how times are written)")
    if layout is not None and args.format not in ("python", "log4j", "regex"):
        raise ConfigError(f"--layout does not apply to --format {args.format}")
    times = {} if time_format is None else {"time_format": time_format}
    if args.format == "json":
        return LogParser.json(**times)
    if args.format == "logfmt":
        return LogParser.logfmt(**times)
    if args.format == "python":
        return LogParser.python_logging() if layout is None else LogParser.python_logging(layout)
    if args.format == "log4j":
        return LogParser.log4j() if layout is None else LogParser.log4j(layout)
    if args.format == "syslog":
        return LogParser.syslog()
    if layout is None:
        raise ConfigError("--format regex needs --layout: the pattern, with a named group ts for the time")
    return LogParser.regex(layout, **times)


def _write(table: Any, path: str, what: str) -> None:
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    from fleetstream.exceptions import ConfigError, FleetstreamIOError

    if path == "-":
        csv.write_csv(table, sys.stdout.buffer)
        sys.stdout.flush()
        return
    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ConfigError(f"{what} {path}: write .parquet or .csv (or - for CSV on standard output)")
    try:
        if suffix == ".parquet":
            pq.write_table(table, path)
        else:
            csv.write_csv(table, path)
    except OSError as error:
        raise FleetstreamIOError(f"cannot write {what} to {path}: {error.strerror or error}") from None


def parse_logs(args: argparse.Namespace) -> int:
    """Parses every file, writes the records and the rejects; errors are ``FleetstreamError`` s,
    which ``main`` prints as one line."""
    import pyarrow as pa

    from fleetstream.exceptions import FleetstreamIOError

    parser = _parser(args)
    records, rejects = [], []
    for name in args.files:
        if not Path(name).is_file():
            raise FleetstreamIOError(f"{name}: {'no such file' if not Path(name).exists() else 'not a file'}")
        result = parser.parse_file(name)
        records.append(result.records)
        rejected = result.rejects  # line (the text), position (its 1-based line number), reason
        rejects.append(pa.table({"file": pa.array([name] * rejected.num_rows, pa.string()), "line": rejected["position"],
                                 "reason": rejected["reason"], "text": rejected["line"]}))
    # JSON and logfmt files may each have their own extra columns: the union, missing ones null.
    table = pa.concat_tables(records, promote_options="permissive")
    rejected = pa.concat_tables(rejects, promote_options="permissive")
    _write(table, args.output, "the records")
    rejects_path = args.rejects or (None if args.output == "-" else f"{args.output}.rejects.csv")
    if rejects_path is not None and rejected.num_rows:
        _write(rejected, rejects_path, "the rejects")
    lines = table.num_rows + rejected.num_rows
    where = "" if not rejected.num_rows else (f" (written to {rejects_path})" if rejects_path else " (not written: give --rejects FILE)")
    print(f"parse-logs: {lines:,} lines in {len(args.files)} file(s): {table.num_rows:,} records, "
          f"{rejected.num_rows:,} rejected{where}", file=sys.stderr)
    reasons = rejected.column("reason").to_pylist() if rejected.num_rows else []
    positions = rejected.column("line").to_pylist() if rejected.num_rows else []
    for name, position, reason in list(zip(rejected.column("file").to_pylist(), positions, reasons))[:5]:
        print(f"  {name}:{position}: {reason}", file=sys.stderr)
    if len(reasons) > 5:
        print(f"  ... and {len(reasons) - 5:,} more", file=sys.stderr)
    return 0
