"""Where KafkaSink puts rows: librdkafka's partitioners, explicit partitions, and how unkeyed rows spread.
Partitions are read back with an independent client (confluent-kafka)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest

import fleetstream as fs
from fleetstream.testing import LocalBroker

from kafka_helpers import consumer_config, drain, unique


def murmur2(key: bytes) -> int:
    """The Java client's ``Utils.murmur2`` (as an unsigned 32-bit value), written from the published
    algorithm."""
    m, length = 0x5BD1E995, len(key)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(key[i:i + 4], "little") * m) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * m) & 0xFFFFFFFF) ^ ((k * m) & 0xFFFFFFFF)
    tail = key[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_murmur2_partition(key: bytes, partitions: int) -> int:
    """The Java producer's partition of a keyed record (``toPositive(murmur2(key)) % partitions``):
    the oracle for ``partitioner="murmur2"``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def test_the_murmur2_oracle_matches_the_java_clients_test_vectors() -> None:
    # From Apache Kafka's UtilsTest.testMurmur2 (signed Java ints).
    vectors = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
               b"a-little-bit-longer-string": -1486304829, b"abc": 479470107,
               b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971}
    assert {k: murmur2(k) - (1 << 32 if murmur2(k) >= 1 << 31 else 0) for k in vectors} == vectors


def partitions_of(broker: LocalBroker, topic: str, expected: int) -> dict[str, int]:
    """value -> partition, as a consumer reads them back."""
    with fs.KafkaSource(topic, unique("reader"), consumer_config(broker), format="text", columns=["partition"]) as source:
        batches = drain(source, expected, timeout=60)
    out = {}
    for batch in batches:
        for value, partition in zip(batch.records["value"].to_pylist(), batch.records["_partition"].to_pylist()):
            out[value] = partition
    assert len(out) == expected
    return out


def test_murmur2_puts_keys_where_the_java_producer_would(broker: LocalBroker, make_topic) -> None:
    topic = make_topic(5)
    keys = [f"service-{i}" for i in range(200)] + ["", "a", "ab", "abc", "abcd", "é"]
    with fs.KafkaSink(topic, brokers=broker.bootstrap, format="raw", key="key", partitioner="murmur2") as sink:
        sink.send(pa.table({"value": keys, "key": keys}))
    got = partitions_of(broker, topic, len(keys))
    assert {k: got[k] for k in keys} == {k: java_murmur2_partition(k.encode(), 5) for k in keys}
    # The default (CRC32) puts some of them elsewhere: the option really is applied.
    default_topic = make_topic(5)
    with fs.KafkaSink(default_topic, brokers=broker.bootstrap, format="raw", key="key") as sink:
        sink.send(pa.table({"value": keys, "key": keys}))
    assert partitions_of(broker, default_topic, len(keys)) != got


def test_unkeyed_rows_spread_over_every_partition_without_stickiness(broker: LocalBroker, make_topic) -> None:
    topic = make_topic(4)
    values = [f"row-{i}" for i in range(4000)]
    with fs.KafkaSink(topic, {"sticky.partitioning.linger.ms": 0}, brokers=broker.bootstrap, format="raw",
                      partitioner="random") as sink:
        sink.send(pa.table({"value": values}))
    shares = Counter(partitions_of(broker, topic, len(values)).values())
    # Binomial(4000, 1/4): mean 1000, standard deviation 27; 600 is 15 deviations away.
    assert sorted(shares) == [0, 1, 2, 3] and min(shares.values()) > 600, shares
    # With a partitioner that hashes null keys, every unkeyed row goes to one partition (as documented).
    single = make_topic(4)
    with fs.KafkaSink(single, brokers=broker.bootstrap, format="raw", partitioner="murmur2") as sink:
        sink.send(pa.table({"value": values[:300]}))
    assert len(set(partitions_of(broker, single, 300).values())) == 1


def test_explicit_partitions_override_the_partitioner(broker: LocalBroker, make_topic) -> None:
    topic = make_topic(3)
    rows = pa.table({"value": ["a", "b", "c", "d"], "key": ["k", "k", "k", "k"],
                     "partition": pa.array([2, 0, None, 1], pa.int32())})
    with fs.KafkaSink(topic, brokers=broker.bootstrap, format="raw", key="key", partition="partition",
                      partitioner="murmur2") as sink:
        sink.send(rows)
    got = partitions_of(broker, topic, 4)
    assert (got["a"], got["b"], got["d"]) == (2, 0, 1)
    assert got["c"] == java_murmur2_partition(b"k", 3)  # null: the partitioner decides
    with pytest.raises(fs.SchemaError, match="partition"):
        with fs.KafkaSink(topic, brokers=broker.bootstrap, format="raw", partition="partition") as sink:
            sink.send(pa.table({"value": ["x"], "partition": pa.array([-1])}))


def test_unknown_or_contradicting_partitioners_are_config_errors(broker: LocalBroker, make_topic) -> None:
    topic = make_topic(1)
    with pytest.raises(fs.ConfigError, match="murmur2_random"):
        fs.KafkaSink(topic, brokers=broker.bootstrap, partitioner="round_robin")  # type: ignore[arg-type]
    with pytest.raises(fs.ConfigError, match="contradicts"):
        fs.KafkaSink(topic, {"partitioner": "fnv1a"}, brokers=broker.bootstrap, partitioner="murmur2")
    fs.KafkaSink(topic, {"partitioner": "fnv1a"}, brokers=broker.bootstrap, partitioner="fnv1a").close()


def test_fetch_watermarks_tell_an_empty_partition_from_a_lagging_one(broker: LocalBroker, make_topic) -> None:
    topic = make_topic(2)
    with fs.KafkaSink(topic, brokers=broker.bootstrap, format="raw", partition="partition") as sink:
        sink.send(pa.table({"value": ["x", "y", "z"], "partition": pa.array([0, 0, 0], pa.int32())}))
    with fs.KafkaSource(topic, unique("g"), consumer_config(broker), format="text") as source:
        drain(source, 3, timeout=60)
        marks = source.fetch_watermarks()
        assert marks[(topic, 1)][0] == marks[(topic, 1)][1]  # nothing to read
        assert marks[(topic, 0)][1] == 3 == source.position()[(topic, 0)]  # read to the end
