"""Kafka sources and sinks: a Rust consumer that polls into Arrow record batches and a Rust producer
that sends Arrow batches as messages (librdkafka underneath, the GIL released while they wait)."""

from fleetstream.kafka.sink import KafkaSink, Partitioner
from fleetstream.kafka.source import KafkaBatch, KafkaSource, Partition
from fleetstream.kafka.transactions import TransactionalLoop

__all__ = ["KafkaBatch", "KafkaSink", "KafkaSource", "Partition", "Partitioner", "TransactionalLoop"]
