"""Fault injection for crash tests: ``FLEETSTREAM_FAULT=point:n`` makes the process SIGKILL itself the
n-th time it reaches ``point`` (e.g. ``after_commit:7``, right after the 7th database commit). Unset,
:func:`reach` costs one dictionary lookup."""

from __future__ import annotations

import os
import signal

_spec = os.environ.get("FLEETSTREAM_FAULT", "")
_point, _, _count = _spec.partition(":")
_remaining = int(_count or 1) if _point else 0


def reach(point: str) -> None:
    global _remaining
    if point != _point:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
