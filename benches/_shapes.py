"""Deterministic data of the shape-matrix benchmark (``bench_shapes.py``): numpy, vectorised.

Both generators return one pyarrow Table (a single chunk) in arrival order, with times as
``timestamp[ms, tz=UTC]`` (for every cell of both families), and the same bytes for the same
arguments and seed.

Keys (``key_dictionary``): ``n`` distinct keys of one type, then drawn per event by index:

* ``short``         ``svc-000123`` (windows) / ``user-00012345`` (sessions): fixed-width strings;
* ``uuid``          36-char random UUID-4 strings (``8-4-4-4-12`` lowercase hex), from the seed;
* ``int64-dense``   0 .. n-1;
* ``int64-random``  distinct values drawn from the full signed 64-bit range.

No key is null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a multiple of every window size used
MINUTE_MS = 60_000
GAP_MS = 30 * MINUTE_MS
TIMESTAMP = pa.timestamp("ms", tz="UTC")
KEY_TYPES = ("short", "uuid", "int64-dense", "int64-random")
N_PAGES = 50
PAGES = pa.array([f"/page/{i:02d}" for i in range(N_PAGES)], pa.string())
# Sessions: the share of within-session gaps that are exactly 0 (same-millisecond clicks: first/last
# then depend on arrival order) and exactly the 30-minute gap (still one session).
P_TIE, P_EXACT_GAP = 0.05, 0.01
P_JUST_OVER = 0.02  # between sessions: the gap + 1 ms (a new session)


def _fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """(n, width) uint8 ASCII matrix -> pa.string() array without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars).tobytes()))


def _numbered(prefix: str, n: int, digits: int) -> pa.Array:
    head = np.frombuffer(prefix.encode(), np.uint8)
    chars = np.empty((n, head.size + digits), np.uint8)
    chars[:, : head.size] = head
    i = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    for p in range(digits):
        chars[:, head.size + p] = (i // 10 ** (digits - 1 - p)) % 10 + ord("0")
    return _fixed_width_strings(chars)


def _uuids(n: int, rng: np.random.Generator) -> pa.Array:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexes = np.frombuffer(raw.tobytes().hex().encode("ascii"), np.uint8).reshape(n, 32)
    chars = np.full((n, 36), ord("-"), np.uint8)
    for lo, hi, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19), (20, 32, 24)):
        chars[:, at : at + hi - lo] = hexes[:, lo:hi]
    return _fixed_width_strings(chars)


def key_dictionary(key_type: str, n: int, rng: np.random.Generator, family: str) -> pa.Array:
    """``n`` distinct keys of ``key_type`` (see the module docstring)."""
    if key_type == "short":
        return _numbered("svc-", n, 6) if family == "windows" else _numbered("user-", n, 8)
    if key_type == "uuid":
        return _uuids(n, rng)
    if key_type == "int64-dense":
        return pa.array(np.arange(n, dtype=np.int64))
    if key_type == "int64-random":
        info = np.iinfo(np.int64)
        values = np.unique(rng.integers(info.min, info.max, size=n, dtype=np.int64, endpoint=True))
        while values.size < n:  # a collision in 2^64 values: draw the missing ones again
            extra = rng.integers(info.min, info.max, size=n - values.size, dtype=np.int64, endpoint=True)
            values = np.unique(np.concatenate([values, extra]))
        return pa.array(rng.permutation(values))
    raise ValueError(f"unknown key type {key_type!r}")


def _stable_order(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, kind="stable") for non-negative int64 values, faster: sort (value, index)
    packed in one int64 (an unstable sort of distinct numbers is stable)."""
    bits = max(1, (values.size - 1).bit_length())
    if values.size and int(values.max()) >= 1 << (63 - bits):
        return np.argsort(values, kind="stable")
    return np.sort((values << bits) | np.arange(values.size, dtype=np.int64)) & ((1 << bits) - 1)


def _take(dictionary: pa.Array, index: np.ndarray) -> pa.Array:
    """dictionary[index]; fixed-width strings (all generated ones) gathered as byte rows in numpy."""
    if not pa.types.is_string(dictionary.type):
        return pa.array(dictionary.to_numpy()[index])
    offsets = np.frombuffer(dictionary.buffers()[1], np.int32)[: len(dictionary) + 1]
    width = int(offsets[1] - offsets[0])
    chars = np.frombuffer(dictionary.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].reshape(len(dictionary), width)
    return _fixed_width_strings(chars[index])


def _timestamps(ms: np.ndarray) -> pa.Array:
    return pa.array(ms, pa.int64()).cast(TIMESTAMP)


def window_events(n: int, keys: int, key_type: str, span_minutes: float, disorder_ms: int, seed: int) -> pa.Table:
    """``n`` events of ``keys`` keys (uniform), evenly spread over ``span_minutes``, columns
    ``ts``, ``key``, ``value`` (int64, for sum and max).

    Arrival order follows a base time that increases evenly; event time = base + a delay uniform in
    [0, disorder_ms), so the stream is out of order by strictly less than ``disorder_ms`` and, with a
    watermark of at least ``disorder_ms``, no event is late."""
    rng = np.random.default_rng(seed)
    dictionary = key_dictionary(key_type, keys, rng, "windows")
    span_ms = max(1, int(span_minutes * MINUTE_MS))
    ts = START_MS + (np.arange(n, dtype=np.int64) * span_ms) // n
    if disorder_ms:
        ts += rng.integers(0, disorder_ms, size=n, dtype=np.int64)
    key_index = rng.integers(0, keys, size=n, dtype=np.int64)
    value = rng.integers(-1_000, 1_000_000, size=n, dtype=np.int64)
    return pa.table({"ts": _timestamps(ts), "key": _take(dictionary, key_index), "value": pa.array(value)})


def session_events(users: int, sessions_per_user: int, events_per_session: float, key_type: str, disorder_ms: int, seed: int) -> pa.Table:
    """Clicks of ``users`` users, each with ``sessions_per_user`` sessions of 1 + Poisson(e - 1)
    events (mean ``events_per_session``); columns ``ts``, ``key``, ``page`` (one of 50 strings).

    Per user: the first click at a random moment of the first hour (so the users' sessions overlap in
    time), then within a session gaps of 0 ms (P_TIE: ties, where first/last follow arrival order),
    exactly 30 min (P_EXACT_GAP: the same session) or 1 ms .. 5 min; between sessions 30 min + 1 ms
    (P_JUST_OVER) or 30 min + 1 ms + exponential(2 h). Arrival order: event time + a delay uniform in
    [0, disorder_ms), stable (equal arrival keys keep generation order)."""
    rng = np.random.default_rng(seed)
    dictionary = key_dictionary(key_type, users, rng, "sessions")
    n_sessions = users * sessions_per_user
    per_session = 1 + rng.poisson(events_per_session - 1, size=n_sessions).astype(np.int64)
    n = int(per_session.sum())
    session_of_event = np.repeat(np.arange(n_sessions, dtype=np.int64), per_session)
    user_of_event = session_of_event // sessions_per_user  # sessions are laid out user by user
    session_first_event = np.cumsum(per_session) - per_session
    first_of_session = np.zeros(n, bool)
    first_of_session[session_first_event] = True

    roll = rng.random(n)
    within = np.where(roll < P_TIE, 0, np.where(roll < P_TIE + P_EXACT_GAP, GAP_MS, rng.integers(1, 5 * MINUTE_MS + 1, size=n)))
    between = GAP_MS + 1 + np.where(rng.random(n) < P_JUST_OVER, 0, rng.exponential(2 * 3_600_000, size=n).astype(np.int64))
    step = np.where(first_of_session, between, within)
    first_of_user = np.zeros(n, bool)
    first_of_user[session_first_event[::sessions_per_user]] = True
    step[first_of_user] = 0
    elapsed = np.cumsum(step)
    user_start = START_MS + rng.integers(0, 3_600_000, size=users, dtype=np.int64)
    ts = user_start[user_of_event] + elapsed - elapsed[first_of_user][user_of_event]
    del elapsed, step, within, between, roll, first_of_session, session_of_event

    arrival = ts - START_MS
    if disorder_ms:
        arrival += rng.integers(0, disorder_ms, size=n, dtype=np.int64)
    order = _stable_order(arrival)
    del arrival
    page = rng.integers(0, N_PAGES, size=n, dtype=np.int32)[order]
    return pa.table(
        {
            "ts": _timestamps(ts[order]),
            "key": _take(dictionary, user_of_event[order]),
            "page": pc.take(PAGES, pa.array(page)),
        }
    )
