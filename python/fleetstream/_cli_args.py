"""What every command shares: how a subcommand is registered (description, defaults in its help) and the
argument types (durations, counts), checked when the command line is parsed so a mistake is one line."""

from __future__ import annotations

import argparse
import math
from datetime import timedelta


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the help already names it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (not action.option_strings or any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))
                or "default" in text):
            return text
        if text.endswith(")"):  # "... (0 skips it)" -> "... (0 skips it; default 60)"
            return f"{text[:-1]}; default %(default)s)"
        return f"{text} (default %(default)s)"


def add_parser(commands: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """A subcommand whose one-line ``help`` is both its line in ``fleetstream --help`` and its description."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help, formatter_class=HelpFormatter)
    return parser


def duration(text: str) -> timedelta:
    """A duration option: a bare number is seconds (as for every option of the command line),
    else a duration such as "500ms", "10s", "5m" or "1h30m"."""
    try:
        seconds = float(text)
    except ValueError:
        from fleetstream import _core

        try:
            return timedelta(milliseconds=_core.parse_duration(text))
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative duration, got {text!r}")
    return timedelta(seconds=seconds)


def seconds(text: str) -> float:
    """A :func:`duration` option for code that takes seconds: "1s", "500ms" or a bare number of seconds."""
    return duration(text).total_seconds()


def whole_seconds(text: str) -> int:
    """A :func:`duration` option for code that steps by whole seconds ("30s", "1m", 30), at least one."""
    value = duration(text).total_seconds()
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds, 1 or more, got {text!r}")
    return int(value)


def count(text: str) -> int:
    """A number of things, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def positive(text: str) -> int:
    """A number of things, 1 or more."""
    value = count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected 1 or more, got 0")
    return value
