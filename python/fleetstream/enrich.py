"""Reference data for enrichment, joined in the Rust core: :class:`ReferenceTable`.

>>> import pyarrow as pa, fleetstream as fs
>>> merchants = fs.ReferenceTable(pa.table({"merchant_id": ["m1", "m2"], "category": ["books", "games"]}),
...                               key="merchant_id")
>>> joined, misses = merchants.join(pa.table({"merchant_id": ["m2", "m9"], "cents": [500, 100]}), on="merchant_id")
>>> joined.to_pylist(), misses
([{'merchant_id': 'm2', 'cents': 500, 'category': 'games'}], [1])

Versioned data (FX rates with effective dates) is looked up *as of* each event's time:

>>> import datetime as dt
>>> fx = fs.ReferenceTable(pa.table({"currency": ["EUR", "EUR"], "valid_from": [dt.date(2026, 1, 1), dt.date(2026, 1, 5)],
...                                  "rate_to_usd": ["1.05", "1.10"]}), key="currency", effective="valid_from")
>>> at = pa.array([dt.datetime(2026, 1, 4, 23, 59), dt.datetime(2026, 1, 5)], pa.timestamp("ms", tz="UTC"))
>>> fx.join(pa.table({"currency": ["EUR", "EUR"], "ts": at}), on="currency", at="ts")[0]["rate_to_usd"].to_pylist()
['1.05', '1.10']
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fleetstream import _core
from fleetstream.exceptions import ConfigError, FleetstreamIOError

__all__ = ["ReferenceTable"]

Loader = Callable[[], Any]


class ReferenceTable:
    """Rows indexed by ``key`` (string or integer column); with ``effective`` (a date, timestamp or
    int64-milliseconds column), each key has versions and a lookup takes the one in force at the
    event's time. Duplicate keys (or key + effective pairs) and null keys are a
    :class:`~fleetstream.exceptions.SchemaError` naming the rows.

    ``data`` is anything speaking the Arrow PyCapsule interface (pyarrow, polars, pandas via pyarrow).
    The ``from_csv`` / ``from_parquet`` / ``from_query`` constructors remember their source: with
    ``refresh_every`` seconds, :meth:`maybe_refresh` (called by the pipelines between batches)
    reloads it and swaps the index atomically; lookups in flight keep the version they started with.
    """

    def __init__(self, data: Any, key: str, *, effective: str | None = None, loader: Loader | None = None,
                 refresh_every: float | None = None, source: str | None = None) -> None:
        if refresh_every is not None and loader is None:
            raise ConfigError("refresh_every needs a source to reload from: use from_csv, from_parquet or from_query")
        if refresh_every is not None and refresh_every <= 0:
            raise ConfigError(f"refresh_every must be positive seconds, got {refresh_every}")
        self._native = _core.ReferenceTable(data, key, effective)
        self._loader = loader
        self.refresh_every = refresh_every
        self.source = source
        self.refreshes = 0
        self._loaded_at = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], key: str, *, effective: str | None = None,
                 column_types: dict[str, Any] | None = None, refresh_every: float | None = None) -> ReferenceTable:
        """Read a CSV file (pyarrow's reader; pass ``column_types={"rate_to_usd": pa.string()}`` to keep
        decimals exact, which :meth:`fx_rates_csv` does for you)."""
        import pyarrow.csv as pacsv

        def load() -> Any:
            try:
                options = pacsv.ConvertOptions(column_types=column_types or {})
                return pacsv.read_csv(str(path), convert_options=options)
            except FileNotFoundError as exc:
                raise FleetstreamIOError(f"reference CSV {path}: {exc}") from exc
            except Exception as exc:  # pyarrow's ArrowInvalid: a malformed file
                raise ConfigError(f"reference CSV {path}: {exc}") from exc

        return cls(load(), key, effective=effective, loader=load, refresh_every=refresh_every, source=str(path))

    @classmethod
    def fx_rates_csv(cls, path: str | os.PathLike[str], *, key: str = "currency", effective: str = "valid_from",
                     rate_column: str = "rate_to_usd", refresh_every: float | None = None) -> ReferenceTable:
        """FX rates from a CSV (``currency,valid_from,rate_to_usd``), the rate kept as exact decimal text."""
        import pyarrow as pa

        return cls.from_csv(path, key, effective=effective, column_types={rate_column: pa.string()},
                            refresh_every=refresh_every)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str], key: str, *, effective: str | None = None,
                     refresh_every: float | None = None) -> ReferenceTable:
        """Read a Parquet file; ``key``, ``effective`` and ``refresh_every`` (seconds) as for the
        constructor. A missing file raises ``FleetstreamIOError``."""
        import pyarrow.parquet as pq

        def load() -> Any:
            if not Path(path).exists():
                raise FleetstreamIOError(f"reference Parquet file {path} does not exist")
            return pq.read_table(str(path))

        return cls(load(), key, effective=effective, loader=load, refresh_every=refresh_every, source=str(path))

    @classmethod
    def from_query(cls, dsn: str, query: str, key: str, *, effective: str | None = None,
                   refresh_every: float | None = None) -> ReferenceTable:
        """Rows of ``query`` from ``sqlite:///path`` (stdlib sqlite3) or ``postgresql://...`` (psycopg)."""
        def load() -> Any:
            return _query_table(dsn, query)

        return cls(load(), key, effective=effective, loader=load, refresh_every=refresh_every,
                   source=f"query on {dsn.split('@')[-1]}")

    def refresh(self) -> None:
        """Reload from the source now and swap the index in."""
        if self._loader is None:
            raise ConfigError("this reference table has no source to reload from")
        with self._lock:
            self._native.replace(self._loader())
            self.refreshes += 1
            self._loaded_at = time.monotonic()

    def replace(self, data: Any) -> None:
        """Swap in new rows (same key and effective column)."""
        with self._lock:
            self._native.replace(data)

    def maybe_refresh(self) -> bool:
        """Refresh if ``refresh_every`` seconds passed since the last load; True if it did."""
        if self.refresh_every is None or time.monotonic() - self._loaded_at < self.refresh_every:
            return False
        self.refresh()
        return True

    def join(self, data: Any, on: str, at: str | None = None) -> tuple[Any, list[int]]:
        """(rows of ``data`` with a match and the reference columns appended, row numbers without one)."""
        return self._native.join(data, on, at)

    @property
    def native(self) -> _core.ReferenceTable:
        """The native index (for fleetstream's own pipelines)."""
        return self._native

    @property
    def data(self) -> Any:
        """The current rows, a pyarrow Table."""
        return self._native.data

    @property
    def key(self) -> str:
        """The column rows are looked up by."""
        return self._native.key

    @property
    def effective(self) -> str | None:
        """The column saying from when a row is valid (None: rows are always valid)."""
        return self._native.effective

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return f"ReferenceTable(key={self.key!r}, effective={self.effective!r}, rows={len(self)})"


def _query_table(dsn: str, query: str) -> Any:
    import pyarrow as pa

    if dsn.startswith("sqlite://"):
        import sqlite3

        path = dsn[len("sqlite://"):]
        path = path[1:] if path.startswith("/") else path
        with sqlite3.connect(path) as conn:
            cursor = conn.execute(query)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
    else:
        try:
            import psycopg
        except ImportError:
            raise ConfigError("from_query on PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from None
        with psycopg.connect(dsn) as pg:
            result = pg.execute(query)
            names = [d.name for d in result.description or []]
            rows = result.fetchall()
    columns: Sequence[list[Any]] = [[row[i] for row in rows] for i in range(len(names))]
    return pa.table({name: pa.array(values) for name, values in zip(names, columns)})
