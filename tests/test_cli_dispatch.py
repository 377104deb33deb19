"""``fleetstream dispatch`` and ``dispatch-sim`` options (the runs themselves: tests/kafka/test_dispatch_pipeline.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import fleetstream as fs
from fleetstream.cli import build_parser, main
from fleetstream.routing._model import span

REQUIRED = ["dispatch", "--brokers", "127.0.0.1:1", "--fleet", "fleet.csv", "--group", "g"]


@pytest.mark.parametrize(("text", "seconds"), [("300", 300), ("2.5", 2.5), ("10s", 10), ("5m", 300), ("1h30m", 5400),
                                               ("500ms", 0.5)])
def test_a_bare_number_is_seconds_like_every_other_option(text: str, seconds: float) -> None:
    for option in ("--improve-every", "--freeze", "--buffer", "--checkpoint-every"):
        args = build_parser().parse_args([*REQUIRED, option, text])
        value = getattr(args, option[2:].replace("-", "_"))
        assert value == timedelta(seconds=seconds), (option, value)
    if seconds == int(seconds):
        assert span(build_parser().parse_args([*REQUIRED, "--improve-every", text]).improve_every, "x") == seconds


def test_the_defaults_are_durations() -> None:
    args = build_parser().parse_args(REQUIRED)
    assert (args.freeze, args.buffer, args.improve_every, args.checkpoint_every) == (
        timedelta(minutes=15), timedelta(0), timedelta(seconds=10), timedelta(seconds=2))


@pytest.mark.parametrize("text", ["-5", "ten", "5 parsecs", "nan"])
def test_a_bad_duration_exits_2_naming_the_option(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*REQUIRED, "--improve-every", text])
    assert exit_.value.code == 2
    assert "--improve-every" in capsys.readouterr().err


def test_fleet_only_writes_the_fleet_the_dispatcher_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = tmp_path / "fleet.csv"
    assert main(["dispatch-sim", "--fleet", str(fleet), "--fleet-only", "--orders", "10", "--vans", "3", "--waves", "2"]) == 0
    assert "fleet of 6 vehicles (3 vans x 2 waves)" in capsys.readouterr().err
    d = fs.routing.Dispatcher(fs.routing.read_fleet(str(fleet)))
    assert d.vehicles().num_rows == 6


def test_playing_a_day_needs_brokers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dispatch-sim", "--fleet", str(tmp_path / "fleet.csv"), "--orders", "10", "--vans", "1"]) == 1
    assert "--brokers is required" in capsys.readouterr().err
