"""ExactlyOnceSink against real SQLite and PostgreSQL: atomic batches with offsets, idempotent
replays, fencing, batch marks, the read model, and typed errors. Dedup/upsert logic is checked
against a plain-dict reference with hypothesis."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fleetstream as fs
from fleetstream.exceptions import ConfigError, FencedError, SchemaError, SinkError

from .db import execute, query

TP = ("pay", 0)


def rows(ids: list[str], merchants: list[str], cents: list[int]) -> pa.Table:
    return pa.table({"payment_id": pa.array(ids, pa.string()), "merchant": pa.array(merchants, pa.string()),
                     "cents": pa.array(cents, pa.int64())})


def dead_letters(offsets: list[int]) -> pa.Table:
    n = len(offsets)
    return pa.table({"topic": ["pay"] * n, "partition": pa.array([0] * n, pa.int32()),
                     "offset": pa.array(offsets, pa.int64()), "reason": ["bad"] * n,
                     "payload": pa.array([b"\x00{" + bytes([o % 256]) for o in offsets], pa.binary())})


def make_sink(dsn: str, mode: str = "insert", table: str = "payments") -> fs.ExactlyOnceSink:
    read_model = fs.ReadModel(f"{table}_by_merchant", group_by=["merchant"], sums=["cents"]) if mode == "insert" else None
    return fs.ExactlyOnceSink(dsn, table, key=["payment_id"], mode=mode, read_model=read_model)


def test_batch_offsets_dead_letters_and_read_model_commit_together(dsn: str) -> None:
    sink = make_sink(dsn)
    gen = sink.claim([TP])[TP].generation
    result = sink.write(rows(["a", "b", "c"], ["m1", "m2", "m1"], [100, 200, 300]), dead_letters([3, 4]),
                        offsets={TP: 5}, generations={TP: gen})
    assert result == fs.sinks.WriteResult(applied=True, rows=3, written=3, duplicates=0, dead_letters=2)
    assert sorted(query(dsn, "SELECT payment_id, merchant, cents FROM payments")) == [
        ("a", "m1", 100), ("b", "m2", 200), ("c", "m1", 300)]
    assert sorted(query(dsn, "SELECT merchant, row_count, cents FROM payments_by_merchant")) == [("m1", 2, 400), ("m2", 1, 200)]
    assert query(dsn, 'SELECT topic, partition, "offset", reason FROM payments_dead_letters ORDER BY 3') == [
        ("pay", 0, 3, "bad"), ("pay", 0, 4, "bad")]
    assert bytes(query(dsn, "SELECT payload FROM payments_dead_letters ORDER BY \"offset\"")[0][0]) == b"\x00{\x03"
    assert sink.resume_offsets() == {TP: 5}

    # A replay of the same input (and a batch overlapping it) changes nothing already stored.
    replay = sink.write(rows(["a", "b", "c", "d"], ["m1", "m2", "m1", "m2"], [100, 200, 300, 5]), dead_letters([3, 4]),
                        offsets={TP: 6}, generations={TP: gen})
    assert (replay.written, replay.duplicates, replay.dead_letters) == (1, 3, 0)
    assert sorted(query(dsn, "SELECT merchant, row_count, cents FROM payments_by_merchant")) == [("m1", 2, 400), ("m2", 2, 205)]
    assert query(dsn, "SELECT COUNT(*) FROM payments_dead_letters") == [(2,)]


def test_a_zombie_writer_is_fenced_and_rolled_back(dsn: str) -> None:
    old, new = make_sink(dsn), make_sink(dsn)
    old_gen = old.claim([TP])[TP].generation
    old.write(rows(["a"], ["m1"], [1]), offsets={TP: 1}, generations={TP: old_gen})
    claim = new.claim([TP])[TP]
    assert claim == fs.sinks.Claim(next_offset=1, generation=old_gen + 1)
    with pytest.raises(FencedError, match=r"generation 1 for pay\[0\] is no longer current \(stored: 2\)"):
        old.write(rows(["b"], ["m1"], [2]), dead_letters([7]), offsets={TP: 9}, generations={TP: old_gen})
    # Nothing of the fenced batch is visible, and the new owner goes on from the stored offset.
    assert query(dsn, "SELECT payment_id FROM payments") == [("a",)]
    assert query(dsn, "SELECT COUNT(*) FROM payments_dead_letters") == [(0,)]
    assert new.resume_offsets() == {TP: 1}
    new.write(rows(["b"], ["m1"], [2]), offsets={TP: 2}, generations={TP: claim.generation})
    assert query(dsn, "SELECT row_count, cents FROM payments_by_merchant") == [(2, 3)]


def test_a_failing_statement_rolls_the_whole_batch_back(dsn: str) -> None:
    sink = make_sink(dsn, mode="upsert")
    gen = sink.claim([TP])[TP].generation
    sink.write(rows(["a"], ["m1"], [1]), offsets={TP: 1}, generations={TP: gen})
    # A CHECK constraint added behind the sink's back makes the next batch fail inside its transaction.
    execute(dsn, "DROP TABLE payments")
    execute(dsn, "CREATE TABLE payments (payment_id TEXT PRIMARY KEY, merchant TEXT, cents BIGINT CHECK (cents < 1000))")
    fresh = make_sink(dsn, mode="upsert")
    with pytest.raises(SinkError, match="(?i)check"):
        fresh.write(rows(["x", "y"], ["m1", "m1"], [5, 5000]), dead_letters([1]), offsets={TP: 3}, generations={TP: gen})
    assert query(dsn, "SELECT COUNT(*) FROM payments") == [(0,)]
    assert query(dsn, "SELECT COUNT(*) FROM payments_dead_letters") == [(0,)]
    assert fresh.resume_offsets() == {TP: 1}


def test_batch_marks_make_a_replayed_batch_a_no_op(dsn: str) -> None:
    sink = make_sink(dsn, mode="upsert")
    first = sink.write(rows(["a", "b"], ["m", "m"], [1, 2]), batch=("q1", 0))
    assert first.applied and first.written == 2
    assert sink.is_applied("q1", 0) and not sink.is_applied("q1", 1) and not sink.is_applied("q2", 0)
    again = sink.write(rows(["a", "b"], ["m", "m"], [10, 20]), batch=("q1", 0))
    assert not again.applied
    assert sorted(query(dsn, "SELECT payment_id, cents FROM payments")) == [("a", 1), ("b", 2)]
    assert sink.write(rows(["a"], ["m"], [7]), batch=("q1", 1)).applied
    assert sorted(query(dsn, "SELECT payment_id, cents FROM payments")) == [("a", 7), ("b", 2)]


def test_typed_errors_name_what_is_wrong(dsn: str) -> None:
    with pytest.raises(ConfigError, match="not a valid identifier"):
        fs.ExactlyOnceSink(dsn, "pay; DROP TABLE x", key=["id"])
    with pytest.raises(ConfigError, match="mode"):
        fs.ExactlyOnceSink(dsn, "t", key=["id"], mode="merge")
    with pytest.raises(ConfigError, match='read_model needs mode="insert"'):
        fs.ExactlyOnceSink(dsn, "t", key=["id"], mode="upsert", read_model=fs.ReadModel("rm", ["id"]))
    sink = fs.ExactlyOnceSink(dsn, "t", key=["id"])
    with pytest.raises(SchemaError, match='no key column "id"'):
        sink.write(pa.table({"other": [1]}))
    with pytest.raises(SchemaError, match="does not store"):
        sink.write(pa.table({"id": [1], "tags": [[1, 2]]}))
    with pytest.raises(SchemaError, match="has nulls"):
        sink.write(pa.table({"id": pa.array([1, None], pa.int64())}))
    with pytest.raises(SchemaError, match="dead letters have no column"):
        sink.write(None, pa.table({"topic": ["x"]}))
    with pytest.raises(ConfigError, match="claim"):
        sink.write(pa.table({"id": [1]}), offsets={TP: 1})
    sink.write(pa.table({"id": [1], "v": ["x"]}))
    with pytest.raises(SchemaError, match='exists without column "w"'):
        fs.ExactlyOnceSink(dsn, "t", key=["id"]).write(pa.table({"id": [2], "w": ["y"]}))
    with pytest.raises(ConfigError, match="expected sqlite"):
        fs.ExactlyOnceSink("mysql://u:secret@host/db", "t", key=["id"])


def test_types_round_trip(dsn: str) -> None:
    import datetime as dt

    sink = fs.ExactlyOnceSink(dsn, "typed", key=["id"], mode="upsert")
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    sink.write(pa.table({
        "id": pa.array([1, 2], pa.int32()), "name": ["tab\there", None], "ok": [True, False], "ratio": [0.25, -1.5],
        "day": pa.array([dt.date(2026, 1, 2), None], pa.date32()),
        "at": pa.array([when, None], pa.timestamp("ms", tz="UTC")), "blob": [b"\\\x00", b""],
    }))
    got = query(dsn, "SELECT id, name, ok, ratio, day, at, blob FROM typed ORDER BY id")
    first, second = got
    assert first[0] == 1 and first[1] == "tab\there" and bool(first[2]) and first[3] == 0.25
    assert str(first[4]) == "2026-01-02" and bytes(first[6]) == b"\\\x00"
    assert str(first[5]).replace("T", " ").startswith("2026-01-02 03:04:05.678")
    assert second[1] is None and not bool(second[2]) and second[4] is None and second[5] is None


# -- property: the table and read model equal a dict-based reference after any batches and replays --

batches_strategy = st.lists(
    st.lists(st.tuples(st.sampled_from("abcdefgh"), st.sampled_from(["m1", "m2", "m3"]), st.integers(-10**12, 10**12)),
             max_size=12),
    min_size=1, max_size=6,
)


def reference(batches: list[list[tuple[str, str, int]]], mode: str) -> dict[str, tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for batch in batches:
        for key, merchant, cents in batch:
            if mode == "upsert" or key not in table:
                table[key] = (merchant, cents)
    return table


def check_against_reference(dsn: str, batches: Any, mode: str, replay: list[int]) -> None:
    table = f"p_{uuid.uuid4().hex[:8]}"
    sink = make_sink(dsn, mode, table)
    gen = sink.claim([TP])[TP].generation
    # A first row outside the generated keys creates the tables (an empty batch creates nothing).
    applied: list[list[tuple[str, str, int]]] = [[("zz", "m0", 1)]]
    sink.write(rows(["zz"], ["m0"], [1]), offsets={TP: 0}, generations={TP: gen})
    for i, batch in enumerate(batches):
        for again in ([i] + [j for j in replay if j < i])[:2]:  # each batch, and sometimes an earlier one again
            chosen = batches[again]
            data = rows([k for k, _, _ in chosen], [m for _, m, _ in chosen], [c for _, _, c in chosen])
            sink.write(data, offsets={TP: again + 1}, generations={TP: gen})
            applied.append(chosen)
    expect = reference(applied, mode)
    got = {k: (m, c) for k, m, c in query(dsn, f"SELECT payment_id, merchant, cents FROM {table}")}
    assert got == expect
    if mode == "insert":
        totals: dict[str, tuple[int, int]] = {}
        for merchant, cents in expect.values():
            count, total = totals.get(merchant, (0, 0))
            totals[merchant] = (count + 1, total + cents)
        model = {m: (n, c) for m, n, c in query(dsn, f"SELECT merchant, row_count, cents FROM {table}_by_merchant")}
        assert model == totals


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches_strategy, mode=st.sampled_from(["insert", "upsert"]), replay=st.lists(st.integers(0, 5), max_size=3))
def test_upsert_and_dedup_match_a_reference_sqlite(sqlite_dsn: str, batches: Any, mode: str, replay: list[int]) -> None:
    check_against_reference(sqlite_dsn, batches, mode, replay)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches_strategy, mode=st.sampled_from(["insert", "upsert"]), replay=st.lists(st.integers(0, 5), max_size=3))
def test_upsert_and_dedup_match_a_reference_postgres(postgres_dsn: str, batches: Any, mode: str, replay: list[int]) -> None:
    check_against_reference(postgres_dsn, batches, mode, replay)


def test_writers_starting_together_create_the_tables_once(postgres_dsn: str) -> None:
    """Members of a consumer group start at once: each opens its sink and writes its first batch,
    creating the same tables concurrently. PostgreSQL's IF NOT EXISTS does not make that safe
    (a duplicate key in pg_type); every writer must still succeed."""
    import threading

    writers, rounds = 8, 10
    for round_ in range(rounds):
        table = f"payments_{round_}"
        start = threading.Barrier(writers)
        errors: list[BaseException] = []

        def write(member: int) -> None:
            try:
                start.wait()
                sink = make_sink(postgres_dsn, table=table)
                tp = ("pay", member)
                gen = sink.claim([tp])[tp].generation
                sink.write(rows([f"p{member}"], ["m"], [member]), dead_letters([0]).slice(0, 0), offsets={tp: 1}, generations={tp: gen})
            except BaseException as error:  # collected, asserted below
                errors.append(error)

        threads = [threading.Thread(target=write, args=(m,)) for m in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors[0]
        assert query(postgres_dsn, f"SELECT COUNT(*), SUM(cents) FROM {table}") == [(writers, sum(range(writers)))]
