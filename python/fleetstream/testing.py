"""Realistic generated data for demos, notebooks, tests and benchmarks (deterministic per seed)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone

__all__ = ["LogStreamSpec", "generate_log_lines"]

_MESSAGES = {
    "INFO": ["request served", "cache hit", "user signed in", "order created", "job finished"],
    "WARNING": ["slow query", "retrying request", "cache miss storm", "queue depth high"],
    "ERROR": ["upstream timeout", "payment gateway returned 502", "database connection reset", "unhandled exception"],
    "DEBUG": ["payload decoded", "span closed"],
}


@dataclass(frozen=True)
class LogStreamSpec:
    """What :func:`generate_log_lines` produces.

    ``spikes`` maps a service to (start minute, length in minutes, error multiplier): during that
    stretch the service logs that many times its usual errors.
    """

    events: int = 200_000
    services: int = 20
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    rate_per_s: float = 50.0
    error_share: float = 0.05
    max_disorder_ms: int = 3_000
    corrupt_share: float = 0.001
    spikes: dict[str, tuple[int, int, float]] = field(
        default_factory=lambda: {"checkout": (45, 3, 12.0), "search": (80, 2, 15.0)}
    )
    seed: int = 7
    format: str = "python"  # "python" (logging's "%(asctime)s - %(name)s - %(levelname)s - %(message)s") or "json"


def service_names(count: int) -> list[str]:
    base = ["checkout", "search", "payments", "inventory", "auth", "catalog", "shipping", "cart", "pricing", "reviews"]
    return [base[i] if i < len(base) else f"service-{i:02d}" for i in range(count)]


def generate_log_lines(spec: LogStreamSpec = LogStreamSpec()) -> list[str]:
    """Log lines in arrival order: event times increase at ``rate_per_s`` with up to
    ``max_disorder_ms`` of disorder, a few corrupt lines, and error spikes as ``spec.spikes`` says."""
    rng = random.Random(spec.seed)
    services = service_names(spec.services)
    weights = [1.0 / (i + 1) for i in range(len(services))]
    step_ms = 1000.0 / spec.rate_per_s
    lines = []
    for i in range(spec.events):
        ts = spec.start_ms + int(i * step_ms) + rng.randint(0, spec.max_disorder_ms)
        service = rng.choices(services, weights)[0]
        minute = (ts - spec.start_ms) // 60_000
        error_share = spec.error_share
        spike = spec.spikes.get(service)
        if spike and spike[0] <= minute < spike[0] + spike[1]:
            error_share = min(0.95, error_share * spike[2])
        roll = rng.random()
        level = "ERROR" if roll < error_share else "WARNING" if roll < error_share + 0.1 else "DEBUG" if roll > 0.97 else "INFO"
        message = rng.choice(_MESSAGES[level])
        if rng.random() < spec.corrupt_share:
            lines.append(rng.choice(["", "<binary garbage \x00\x01>", "2026-13-45 99:99:99,000 - ??? - ERROR - broken clock", '{"truncated": '] ))
            continue
        if spec.format == "json":
            lines.append(json.dumps({"ts": ts, "level": level, "service": service, "message": message}))
        else:
            stamp = datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
            asctime = stamp.strftime("%Y-%m-%d %H:%M:%S") + f",{ts % 1000:03d}"
            lines.append(f"{asctime} - {service} - {level} - {message}")
    return lines
