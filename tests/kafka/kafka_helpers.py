"""Helpers shared by the Kafka tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import fleetstream as fs
from fleetstream.testing import LocalBroker


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def consumer_config(broker: LocalBroker, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": broker.bootstrap,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    config.update(extra)
    return config


def produce_raw(broker: LocalBroker, topic: str, payloads: list[bytes | None], *, partition: int | None = None,
                keys: list[bytes] | None = None, headers: list[tuple[str, bytes]] | None = None) -> None:
    """Produce exact bytes with confluent-kafka (an independent client)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i, payload in enumerate(payloads):
        kwargs: dict[str, Any] = {}
        if partition is not None:
            kwargs["partition"] = partition
        if keys is not None:
            kwargs["key"] = keys[i]
        if headers is not None:
            kwargs["headers"] = headers
        producer.produce(topic, payload, **kwargs)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


def drain(source: fs.KafkaSource, expected: int, timeout: float = 30.0) -> list[fs.KafkaBatch]:
    """Poll until ``expected`` messages (rows + rejects) arrived or ``timeout`` seconds passed."""
    batches = []
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < expected and time.monotonic() < deadline:
        batch = source.poll(max_wait="200ms")
        if batch.messages:
            batches.append(batch)
            seen += batch.messages
    return batches
