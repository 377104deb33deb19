"""What the alerts pipeline tells its operator besides its outputs: a loud warning when too many lines
are unreadable (with a sample line and the reason), and late contributions named one by one."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pyarrow as pa

log = logging.getLogger("fleetstream.alerts")


@dataclass
class RejectSample:
    partition: int
    offset: int
    line: str | None
    reason: str


class RejectWatch:
    """Warns when more than ``share`` of the lines of a stretch of at least ``min_lines`` lines were
    rejected, and once more at the end of a run whose lines were mostly rejected however few they
    were. Warnings are rate-limited to one per ``every`` seconds of ``now``."""

    def __init__(self, share: float, min_lines: int = 1000, every: float = 60.0) -> None:
        self.share = share
        self.min_lines = min_lines
        self.every = every
        self.lines = self.rejects = 0  # of the current stretch
        self.total_lines = self.total_rejects = 0
        self.sample: RejectSample | None = None
        self._last_warning: float | None = None
        self.warnings = 0

    def observe(self, lines: int, rejects: pa.RecordBatch, partition: int, now: float) -> str | None:
        """Count a pushed batch (``rejects``: ``line``, ``offset``, ``reason``); returns the warning
        issued, if any."""
        self.lines += lines
        self.rejects += rejects.num_rows
        self.total_lines += lines
        self.total_rejects += rejects.num_rows
        if rejects.num_rows and self.sample is None:
            row = rejects.slice(0, 1).to_pylist()[0]
            self.sample = RejectSample(partition, row["offset"], row["line"], row["reason"])
        if self.lines < self.min_lines:
            return None
        warning = None
        if self.rejects > self.share * self.lines and (self._last_warning is None or now - self._last_warning >= self.every):
            warning = self._warn(self.lines, self.rejects)
            self._last_warning = now
        self.lines = self.rejects = 0
        self.sample = None
        return warning

    def finish(self) -> str | None:
        """At the end of a run: the whole run's share, when no warning said it already."""
        if self.warnings or not self.total_lines or self.total_rejects <= self.share * self.total_lines:
            return None
        return self._warn(self.total_lines, self.total_rejects)

    def _warn(self, lines: int, rejects: int) -> str:
        text = (f"{rejects:,} of {lines:,} log lines ({rejects / lines:.0%}) could not be read "
                f"(more than the {self.share:.0%} allowed by --max-reject-share): they count in no window.")
        if self.sample is not None:
            shown = (self.sample.line or "")[:200]
            text += (f" For example partition {self.sample.partition} offset {self.sample.offset}: {shown!r}: "
                     f"{self.sample.reason}.")
        text += " Check --format (auto reads JSON objects and Python logging's default layout); --rejects-topic keeps them."
        self.warnings += 1
        log.warning(text)
        return text


def report_late_contributions(late: pa.RecordBatch, shown: int) -> int:
    """Logs late contributions (at most ``10 - shown`` of them, then only counts); returns how many
    were logged one by one."""
    logged = 0
    for row in late.to_pylist():
        if shown + logged >= 10:
            break
        log.warning("late contribution: %s errors of %r in window [%s, %s) from input partition %s arrived after "
                    "the window was closed and published; they count in no window", row["errors"], row["service"],
                    row["window_start"], row["window_end"], row["source"])
        logged += 1
    return logged


def rejects_rows(rejects: pa.RecordBatch, topic: str, partition: int) -> pa.Table:
    """Rejected lines as rows for the rejects topic: topic, partition, offset, reason, line."""
    n = rejects.num_rows
    return pa.table({
        "topic": pa.array([topic] * n, pa.string()),
        "partition": pa.array([partition] * n, pa.int32()),
        "offset": rejects.column("offset"),
        "reason": rejects.column("reason"),
        "line": rejects.column("line"),
    })

