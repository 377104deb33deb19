"""What a new user meets first (issue 19): ``--version``, a description and help for every command and
option, durations written as "1s" everywhere, a demo that says its parts and refuses bad counts in one
line, and a dead-letter summary that is not cut mid-sentence."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import timedelta

import pytest

import fleetstream
from fleetstream._cli_alerts import idle_after
from fleetstream._cli_args import HelpFormatter, duration, seconds, whole_seconds
from fleetstream._cli_payments import clipped
from fleetstream.cli import build_parser, main

DURATION_TYPES = (duration, seconds, whole_seconds, idle_after)
# The options that are durations; a new one must be added here, so it cannot be left a bare float.
DURATION_OPTIONS = {
    "demo": {"--route-seconds"},
    "alerts": {"--window", "--watermark", "--idle-partition", "--checkpoint-every", "--idle-exit", "--progress-every"},
    "payments": {"--max-wait", "--idle-exit", "--refresh-every", "--progress-every"},
    "payments-gen": set(),
    "dispatch": {"--freeze", "--buffer", "--improve-every", "--improve-time-limit", "--checkpoint-every", "--merge-wait",
                 "--idle-exit", "--progress-every"},
    "dispatch-sim": {"--step", "--progress-every"},
    "solve": {"--time-limit"},
    "parse-logs": set(),
}
REQUIRED = {"alerts": ["--brokers", "b", "--group", "g"], "payments": ["--brokers", "b", "--group", "g", "--reference", "r",
                                                                       "--db", "d"],
            "payments-gen": ["--brokers", "b"], "dispatch": ["--brokers", "b", "--fleet", "f", "--group", "g"],
            "solve": ["x.vrp"], "parse-logs": ["a.log", "--format", "json"]}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def test_version_prints_the_package_version() -> None:
    run = subprocess.run([sys.executable, "-m", "fleetstream", "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"fleetstream {fleetstream.__version__}\n"


def test_every_command_is_described_in_the_top_level_help() -> None:
    top = build_parser().format_help()
    assert set(subcommands()) == set(DURATION_OPTIONS)
    for name, parser in subcommands().items():
        assert parser.description and len(parser.description) > 20, name
        # the description is the command's line in `fleetstream --help` (wrapped there)
        assert " ".join(parser.description.split()[:3]) in " ".join(top.split()), (name, top)


def test_every_option_has_help_and_shows_its_default() -> None:
    for name, parser in subcommands().items():
        assert parser.formatter_class is HelpFormatter, name
        formatter = parser._get_formatter()
        for action in options(parser):
            assert action.help and action.help.strip(), (name, action.option_strings)
            if action.default is not None and action.default is not False:
                shown = formatter._get_help_string(action) or ""
                assert "default" in shown, (name, action.option_strings, shown)
                assert str(action.default) in shown % {"default": action.default}, (name, action.option_strings)


def test_no_help_text_shows_raw_markup() -> None:
    texts = [build_parser().format_help()] + [parser.format_help() for parser in subcommands().values()]
    for text in texts:
        assert "``" not in text, text


def test_every_duration_option_takes_units_and_a_bare_number_is_seconds() -> None:
    for name, parser in subcommands().items():
        found = {a.option_strings[0] for a in options(parser) if a.type in DURATION_TYPES}
        assert found == DURATION_OPTIONS[name], name
        for option in found:
            args = [name, *REQUIRED.get(name, [])]
            values = [getattr(parser.parse_args([*REQUIRED.get(name, []), option, text]), option[2:].replace("-", "_"))
                      for text in ("2s", "2000ms", "2")]
            assert values[0] == values[1] == values[2], (args, option, values)
            assert values[0] in (2, 2.0, timedelta(seconds=2)), (args, option, values)


def test_route_seconds_accepts_1s_and_means_one_second(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["demo", "--route-seconds", "1s"]).route_seconds == 1.0
    assert parser.parse_args(["demo", "--route-seconds", "1"]).route_seconds == 1.0
    assert parser.parse_args(["demo"]).route_seconds == 2.0
    assert main(["demo", "--events", "0", "--clicks", "0", "--payments", "0", "--orders", "3", "--route-seconds", "300ms"]) == 0
    assert "(0.3 s time limit" in capsys.readouterr().out


def test_alert_windows_and_idle_partition_read_durations() -> None:
    parser = build_parser()
    args = parser.parse_args(["alerts", *REQUIRED["alerts"], "--window", "60", "--watermark", "1500ms"])
    assert (args.window, args.watermark, args.idle_partition) == (timedelta(minutes=1), timedelta(seconds=1.5),
                                                                  timedelta(seconds=30))
    for off in ("off", "none", "0"):
        assert parser.parse_args(["alerts", *REQUIRED["alerts"], "--idle-partition", off]).idle_partition is None


def test_demo_help_names_its_four_parts() -> None:
    demo = subcommands()["demo"]
    text = " ".join(demo.format_help().split())
    for part in ("error-log alerts", "sessionization", "exactly-once payments", "delivery routes"):
        assert part in text, text
    for option in ("--events", "--clicks", "--payments", "--orders"):
        (action,) = (a for a in options(demo) if option in a.option_strings)
        assert "0 skips it" in (action.help or ""), option


def test_demo_with_zero_clicks_skips_that_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--events", "2000", "--clicks", "0", "--payments", "0", "--orders", "0"]) == 0
    out = capsys.readouterr().out
    assert "alert(s) raised" in out and "sessionizing" not in out, out
    assert main(["demo", "--events", "0", "--clicks", "1", "--payments", "0", "--orders", "0"]) == 0
    out = capsys.readouterr().out
    assert "error-log alerts" not in out and "1 sessions" in out, out


@pytest.mark.parametrize("option", ["--events", "--clicks", "--payments", "--orders"])
def test_a_negative_demo_count_is_one_line_and_no_traceback(option: str) -> None:
    run = subprocess.run([sys.executable, "-m", "fleetstream", "demo", option, "-1"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1] == f"fleetstream demo: error: argument {option}: expected 0 or more, got -1"


def test_dead_letter_reasons_are_shown_whole(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--events", "0", "--clicks", "0", "--orders", "0", "--payments", "20000"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("top dead-letter reasons:"):].splitlines()[1:]
    assert len(summary) == 3, out
    for line in summary:
        assert line.count("(") == line.count(")") and line.count('"') % 2 == 0, line
    # this reason was cut to 'amount "12.345" has more than 2 decimals (USD has 2 decimals' before
    assert any(line.endswith('amount "12.345" has more than 2 decimals (USD has 2 decimals)') for line in summary), summary


def test_a_very_long_reason_is_cut_at_a_word_saying_how_much_is_left() -> None:
    reason = "field " + "x" * 20 + " " + " ".join(["word"] * 100)
    text = clipped(reason, 60)
    kept, rest = text.split("…(")
    assert reason.startswith(kept) and reason[len(kept)] == " " and len(kept) <= 60
    assert rest == f"{len(reason) - len(kept)} more characters)"
    assert clipped("short reason", 60) == "short reason"
