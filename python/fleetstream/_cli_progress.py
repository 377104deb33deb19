"""Progress reporting shared by the long-running commands."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping


def run_reporting_progress(run: Callable[[], Mapping[str, int]], progress: Callable[[], str],
                           every: float) -> Mapping[str, int]:
    """Runs a long-running pipeline (``run``), printing ``progress()`` to stderr every ``every`` seconds
    (never when 0) and its final counts when it ends."""
    done = threading.Event()

    def report() -> None:
        while not done.wait(every):
            print(f"progress: {progress()}", file=sys.stderr, flush=True)

    if every > 0:
        threading.Thread(target=report, daemon=True).start()
    try:
        counts = run()
    finally:
        done.set()
    print("done: " + ", ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr, flush=True)
    return counts
