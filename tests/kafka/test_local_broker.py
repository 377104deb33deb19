from __future__ import annotations

import os
import socket

import pytest

from fleetstream.exceptions import KafkaError
from fleetstream.testing import LocalBroker


def test_local_broker_starts_on_a_free_port_and_stops_by_pid() -> None:
    with LocalBroker() as broker:
        pid = broker.pid
        assert pid is not None
        with socket.create_connection(("127.0.0.1", broker.port), timeout=2):
            pass
        broker.create_topic("created", partitions=2)
        broker.create_topic("created", partitions=2)  # existing topics are left alone
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert broker.pid is None


def test_create_topic_on_an_unreachable_broker_raises_a_typed_error() -> None:
    broker = LocalBroker()  # never started: nothing listens on its port
    with pytest.raises(KafkaError):
        broker.create_topic("nowhere", timeout=2.0)
