"""fs.ReferenceTable: hash and as-of joins against a scan-based reference (hypothesis), loading from
CSV / Parquet / a query, refresh without restarting, and typed errors."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fleetstream as fs
from fleetstream.exceptions import ConfigError, FleetstreamIOError, SchemaError

DAY_MS = 86_400_000


@settings(max_examples=150, deadline=None)
@given(
    reference=st.dictionaries(st.integers(0, 30), st.text(max_size=4), max_size=15),
    probes=st.lists(st.one_of(st.integers(0, 40), st.none()), max_size=40),
)
def test_hash_join_matches_a_scan(reference: dict[int, str], probes: list[int | None]) -> None:
    table = fs.ReferenceTable(pa.table({"id": pa.array(list(reference), pa.int64()),
                                        "label": pa.array(list(reference.values()), pa.string())}), key="id")
    joined, misses = table.join(pa.table({"id": pa.array(probes, pa.int64()), "pos": list(range(len(probes)))}), on="id")
    expect_hits = [(i, p, reference[p]) for i, p in enumerate(probes) if p is not None and p in reference]
    assert [(r["pos"], r["id"], r["label"]) for r in joined.to_pylist()] == expect_hits
    assert misses == [i for i, p in enumerate(probes) if p is None or p not in reference]


@settings(max_examples=150, deadline=None)
@given(
    versions=st.dictionaries(st.tuples(st.sampled_from(["EUR", "GBP", "JPY"]), st.integers(0, 20)),
                             st.decimals(min_value=0, max_value=10, places=4).map(str), max_size=25),
    probes=st.lists(st.tuples(st.sampled_from(["EUR", "GBP", "JPY", "CHF"]), st.integers(-1, 22 * DAY_MS)), max_size=30),
)
def test_as_of_join_takes_the_latest_version_not_after_the_event(versions: dict[tuple[str, int], str],
                                                                  probes: list[tuple[str, int]]) -> None:
    epoch = dt.date(1970, 1, 1)
    items = list(versions.items())
    table = fs.ReferenceTable(pa.table({
        "currency": pa.array([c for (c, _), _ in items], pa.string()),
        "valid_from": pa.array([epoch + dt.timedelta(days=d) for (_, d), _ in items], pa.date32()),
        "rate": pa.array([r for _, r in items], pa.string()),
    }), key="currency", effective="valid_from")
    events = pa.table({"currency": pa.array([c for c, _ in probes], pa.string()), "ts": pa.array([t for _, t in probes], pa.int64())})
    joined, misses = table.join(events, on="currency", at="ts")

    def scan(currency: str, ts: int) -> str | None:
        best = None
        for (c, day), rate in items:
            if c == currency and day * DAY_MS <= ts and (best is None or day > best[0]):
                best = (day, rate)
        return None if best is None else best[1]

    expected = [scan(c, t) for c, t in probes]
    assert joined.column("rate").to_pylist() == [r for r in expected if r is not None]
    assert misses == [i for i, r in enumerate(expected) if r is None]


def test_sources_and_refresh_without_restart(tmp_path: Path) -> None:
    csv = tmp_path / "merchants.csv"
    csv.write_text("merchant_id,category\nm1,books\nm2,games\n")
    table = fs.ReferenceTable.from_csv(csv, "merchant_id", refresh_every=0.05)
    assert len(table) == 2 and not table.maybe_refresh()
    probe = pa.table({"merchant_id": ["m3"]})
    assert table.join(probe, on="merchant_id")[1] == [0]
    csv.write_text("merchant_id,category\nm1,books\nm2,games\nm3,travel\n")
    time.sleep(0.06)
    assert table.maybe_refresh() and table.refreshes == 1
    assert table.join(probe, on="merchant_id")[0].column("category").to_pylist() == ["travel"]

    pq.write_table(pa.table({"merchant_id": ["p1"], "tier": ["low"]}), tmp_path / "m.parquet")
    assert fs.ReferenceTable.from_parquet(tmp_path / "m.parquet", "merchant_id").data.num_rows == 1
    with sqlite3.connect(tmp_path / "ref.db") as conn:
        conn.execute("CREATE TABLE merchants (merchant_id TEXT, name TEXT)")
        conn.execute("INSERT INTO merchants VALUES ('q1', 'Q'), ('q2', 'R')")
    from_db = fs.ReferenceTable.from_query(f"sqlite:///{tmp_path / 'ref.db'}", "SELECT * FROM merchants", "merchant_id")
    assert sorted(from_db.data.column("name").to_pylist()) == ["Q", "R"]


def test_errors_name_rows_and_columns(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match='rows 0 and 2 have the same "k"'):
        fs.ReferenceTable(pa.table({"k": ["a", "b", "a"]}), key="k")
    with pytest.raises(SchemaError, match='no key column "id"'):
        fs.ReferenceTable(pa.table({"k": ["a"]}), key="id")
    with pytest.raises(SchemaError, match="is null"):
        fs.ReferenceTable(pa.table({"k": pa.array(["a", None])}), key="k")
    with pytest.raises(SchemaError, match="keys must be strings or int"):
        fs.ReferenceTable(pa.table({"k": [1.5]}), key="k")
    versioned = fs.ReferenceTable(pa.table({"k": ["a"], "from": pa.array([0], pa.int64())}), key="k", effective="from")
    with pytest.raises(ConfigError, match="versioned"):
        versioned.join(pa.table({"k": ["a"]}), on="k")
    with pytest.raises(ConfigError, match="refresh_every needs a source"):
        fs.ReferenceTable(pa.table({"k": ["a"]}), key="k", refresh_every=5)
    with pytest.raises(FleetstreamIOError):
        fs.ReferenceTable.from_csv(tmp_path / "missing.csv", "k")
