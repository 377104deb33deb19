"""``fleetstream parse-logs``: files in, records out (Parquet, CSV, stdout), every unusable line in
the rejects file with its file, line number and reason, and the counts on stderr."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.parquet as pq
import pytest

from fleetstream.cli import main

A = ['{"ts": "2024-01-15T10:00:00Z", "level": "error", "service": "api", "message": "boom", "user": "ann"}',
     "not json at all",
     '{"ts": "2024-01-15T10:00:01Z", "level": "info", "message": "ok", "latency_ms": 12}']
B = ['{"ts": "2024-01-15T10:00:02Z", "level": "warn", "service": "db", "message": "slow"}', '{"level": "info"}']


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(A) + "\n")
    b.write_text("\n".join(B) + "\n")
    return a, b


def test_records_and_rejects_of_several_files(logs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = logs
    out = tmp_path / "records.parquet"
    assert main(["parse-logs", str(a), str(b), "--format", "json", "--output", str(out)]) == 0
    records = pq.read_table(out)
    assert records.column("message").to_pylist() == ["boom", "ok", "slow"]
    # each file's extra keys are columns of the whole table, null where a file had none
    assert records.column("user").to_pylist() == ["ann", None, None]
    assert records.column("latency_ms").to_pylist() == [None, "12", None]
    rejects = csv.read_csv(f"{out}.rejects.csv").to_pylist()
    assert [(Path(r["file"]).name, r["line"], r["text"]) for r in rejects] == [("a.jsonl", 2, "not json at all"),
                                                                            ("b.jsonl", 2, '{"level": "info"}')]
    assert all(r["reason"] for r in rejects)
    err = capsys.readouterr().err
    assert "5 lines in 2 file(s): 3 records, 2 rejected (written to" in err and "a.jsonl:2: " in err


def test_csv_on_standard_output_and_rejects_where_asked(logs: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = logs
    rejects = tmp_path / "bad.parquet"
    run = subprocess.run([sys.executable, "-m", "fleetstream", "parse-logs", str(a), "--format", "json", "--rejects",
                          str(rejects)], capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    table = csv.read_csv(io.BytesIO(run.stdout))
    assert [s or None for s in table.column("service").to_pylist()] == ["api", None] and table.num_rows == 2  # CSV: null is empty
    assert pq.read_table(rejects).column("line").to_pylist() == [2]
    assert b"3 lines in 1 file(s): 2 records, 1 rejected (written to" in run.stderr


@pytest.mark.parametrize("args, message", [
    (["nope.log", "--format", "json"], "FleetstreamIOError: nope.log: no such file"),
    (["{a}", "--format", "regex"], "ConfigError: --format regex needs --layout"),
    (["{a}", "--format", "syslog", "--time-format", "epoch_s"], "ConfigError: --time-format does not apply to --format syslog"),
    (["{a}", "--format", "json", "--output", "out.txt"], "ConfigError: the records out.txt: write .parquet or .csv"),
])
def test_mistakes_are_one_line_and_exit_1(logs: tuple[Path, Path], tmp_path: Path, args: list[str], message: str) -> None:
    a, _ = logs
    run = subprocess.run([sys.executable, "-m", "fleetstream", "parse-logs", *[x.format(a=a) for x in args]],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"fleetstream parse-logs: {message}" + run.stderr.strip().split(message, 1)[1]]


def test_python_logging_lines_with_their_layout(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("2024-01-15 10:00:00,123 ERROR app.db:42 timeout\n2024-01-15 10:00:01,000 INFO app.db:43 ok\n")
    out = tmp_path / "r.csv"
    assert main(["parse-logs", str(log), "--format", "python", "--layout",
                 "%(asctime)s %(levelname)s %(name)s:%(lineno)d %(message)s", "--output", str(out)]) == 0
    table = csv.read_csv(out)
    assert table.column("service").to_pylist() == ["app.db", "app.db"] and table.column("lineno").to_pylist() == [42, 43]
    assert not Path(f"{out}.rejects.csv").exists()  # nothing rejected, no file
    assert isinstance(table, pa.Table)
