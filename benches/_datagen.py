"""Deterministic synthetic log events for the window benchmarks.

``generate(n)`` returns a pyarrow Table with columns

* ``ts``       timestamp[ms, UTC]: arrival order, increasing base time plus a jitter in [0, 5 s), so the
               stream is out of order by up to (strictly less than) 5 seconds; 10 M events span 24 hours;
* ``service``  string: 50 services ("svc-00" .. "svc-49") with unequal traffic;
* ``level``    string: ERROR about 5 %, WARN, INFO, DEBUG;
* ``latency_ms`` int32: a payload column nobody aggregates (logs have more than keys and times).

A few error spikes are injected: during SPIKE_MINUTES minutes at a handful of moments, a share of all
events is re-assigned to one service at level ERROR.  Same ``n`` and ``seed`` give the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

N_SERVICES = 50
SERVICES = [f"svc-{i:02d}" for i in range(N_SERVICES)]
LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"]
LEVEL_P = [0.15, 0.70, 0.10, 0.05]
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MS_PER_EVENT = 8.64  # 10 M events = 24 h
MAX_JITTER_MS = 5_000  # exclusive
N_SPIKES = 6
SPIKE_MINUTES = 2
SPIKE_SHARE = 0.04  # of all events during a spike


def generate(n: int, seed: int = 42) -> pa.Table:
    rng = np.random.default_rng(seed)
    base = START_MS + np.floor(np.arange(n, dtype=np.float64) * MS_PER_EVENT).astype(np.int64)
    ts = base + rng.integers(0, MAX_JITTER_MS, size=n, dtype=np.int64)
    weights = rng.pareto(1.5, N_SERVICES) + 1.0
    service = rng.choice(N_SERVICES, size=n, p=weights / weights.sum()).astype(np.int32)
    level = rng.choice(len(LEVELS), size=n, p=LEVEL_P).astype(np.int32)
    span_ms = int(n * MS_PER_EVENT)
    if span_ms > 60 * 60_000:  # spikes only make sense with an hour of history
        for k in range(N_SPIKES):
            # spread over the stream, after the first hour (so every service has a baseline)
            at = START_MS + 60 * 60_000 + (k + 1) * (span_ms - 60 * 60_000) // (N_SPIKES + 1)
            lo, hi = np.searchsorted(base, [at, at + SPIKE_MINUTES * 60_000])
            hit = lo + np.flatnonzero(rng.random(hi - lo) < SPIKE_SHARE)
            service[hit] = rng.integers(0, N_SERVICES)
            level[hit] = LEVELS.index("ERROR")
    latency = rng.lognormal(3.0, 1.0, size=n).astype(np.int32)
    return pa.table(
        {
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "service": pa.DictionaryArray.from_arrays(pa.array(service), pa.array(SERVICES)).cast(pa.string()),
            "level": pa.DictionaryArray.from_arrays(pa.array(level), pa.array(LEVELS)).cast(pa.string()),
            "latency_ms": pa.array(latency, pa.int32()),
        }
    )


def data_path(directory: Path, n: int, seed: int) -> Path:
    return directory / f"logs_{n}_seed{seed}.arrow"


def ensure(n: int, seed: int, directories: list[Path]) -> Path:
    """Path of the Arrow IPC file for (n, seed): an existing one, else generated into the first writable dir."""
    for d in directories:
        p = data_path(d, n, seed)
        if p.exists():
            return p
    for d in directories:
        try:
            d.mkdir(parents=True, exist_ok=True)
            if not os.access(d, os.W_OK):
                continue
            p = data_path(d, n, seed)
            tmp = p.with_suffix(".tmp")
            table = generate(n, seed)
            with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)  # one record batch: reading it back needs no concatenation
            tmp.replace(p)
            return p
        except OSError:
            continue
    raise OSError(f"none of {[str(d) for d in directories]} is writable")


def load(path: Path) -> pa.Table:
    """Read the whole file into memory (not memory-mapped: the RSS baseline then holds the data)."""
    with pa.OSFile(str(path), "rb") as f:
        return ipc.open_file(f).read_all()
