"""Deterministic synthetic click stream for the sessionization benchmark (numpy, vectorised).

``generate(n, users)`` returns a pyarrow Table in arrival order with columns

* ``user_id``  int64: ``users`` users (0 .. users-1), each starting at a random moment of the first hour;
* ``ts``       timestamp[ms, UTC]: event time. Between two clicks of a user the gap is
               - 6 %: uniform in [31 min, 6 h]      (the user leaves: a new session),
               - 1 %: exactly 30 min                (still the same session: the gap is inclusive),
               - 93 %: 1 s + exponential(40 s)      (browsing: almost always well under 5 minutes);
* ``page``     string: one of 20 pages (a payload column nobody aggregates: clicks carry more than
               keys and times).

The stream holds the ``n`` earliest clicks of all users together (what a live source would have
produced by then, the same shape as ``fleetstream.testing.generate_clicks``), ordered by arrival:
arrival = event time + a delay uniform in [0, 10 s), so the stream is out of order by strictly less
than 10 s and no event is late under a 10 s watermark (streaming results then equal batch results).
Same ``(n, users, seed)`` give the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
GAP_MS = 30 * 60_000
MAX_DISORDER_MS = 10_000  # exclusive
P_LEAVE, P_EXACT = 0.06, 0.01
PAGES = ["/", "/search", "/cart", "/checkout", "/pay", "/account", "/help", "/about"] + [
    f"/product/{i}" for i in range(12)
]


def _gaps(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    roll = rng.random(shape)
    leave = rng.integers(31 * 60_000, 6 * 3_600_000 + 1, size=shape, dtype=np.int64)
    browse = 1_000 + rng.exponential(40_000, size=shape).astype(np.int64)
    return np.where(roll < P_LEAVE, leave, np.where(roll < P_LEAVE + P_EXACT, GAP_MS, browse))


def _event_times(n: int, users: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(user, ts) of the n earliest clicks over all users, in event-time order."""
    start = START_MS + rng.integers(0, 3_600_000, size=users, dtype=np.int64)
    per_user = max(8, int(1.2 * n / users) + 8)
    ts = start[:, None] + np.concatenate(
        [np.zeros((users, 1), np.int64), np.cumsum(_gaps(rng, (users, per_user - 1)), axis=1)], axis=1
    )
    user_chunks, ts_chunks = [np.repeat(np.arange(users, dtype=np.int64), per_user)], [ts.ravel()]
    last = ts[:, -1].copy()
    del ts
    while n:
        all_ts = np.concatenate(ts_chunks)
        cutoff = np.partition(all_ts, n - 1)[n - 1]
        # Users whose clicks end before the cut-off would miss their tail: give them more clicks.
        short = np.flatnonzero(last <= cutoff)
        if short.size == 0:
            break
        more = last[short, None] + np.cumsum(_gaps(rng, (short.size, per_user)), axis=1)
        user_chunks.append(np.repeat(short.astype(np.int64), per_user))
        ts_chunks.append(more.ravel())
        last[short] = more[:, -1]
    user, ts_flat = np.concatenate(user_chunks), np.concatenate(ts_chunks)
    order = np.lexsort((user, ts_flat))[:n]  # by time, then user: deterministic
    return user[order], ts_flat[order]


def generate(n: int, users: int = 100_000, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    user, ts = _event_times(n, users, rng)
    arrival = ts + rng.integers(0, MAX_DISORDER_MS, size=n, dtype=np.int64)
    order = np.argsort(arrival, kind="stable")
    user, ts = user[order], ts[order]
    page = rng.integers(0, len(PAGES), size=n, dtype=np.int32)
    return pa.table(
        {
            "user_id": pa.array(user, pa.int64()),
            "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "page": pa.DictionaryArray.from_arrays(pa.array(page), pa.array(PAGES)).cast(pa.string()),
        }
    )


def data_path(directory: Path, n: int, users: int, seed: int) -> Path:
    return directory / f"clicks_{n}_u{users}_seed{seed}.arrow"


def ensure(n: int, users: int, seed: int, directories: list[Path]) -> Path:
    """Path of the Arrow IPC file for (n, users, seed): an existing one, else generated into the first
    writable directory."""
    for d in directories:
        p = data_path(d, n, users, seed)
        if p.exists():
            return p
    for d in directories:
        try:
            d.mkdir(parents=True, exist_ok=True)
            if not os.access(d, os.W_OK):
                continue
            p = data_path(d, n, users, seed)
            tmp = p.with_suffix(".tmp")
            table = generate(n, users, seed)
            with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table, max_chunksize=max(1, table.num_rows))  # one batch: no concat on read
            tmp.replace(p)
            return p
        except OSError:
            continue
    raise OSError(f"none of {[str(d) for d in directories]} is writable")


def load(path: Path) -> pa.Table:
    """Read the whole file into memory (not memory-mapped: the RSS baseline then holds the data)."""
    with pa.OSFile(str(path), "rb") as f:
        return ipc.open_file(f).read_all()
