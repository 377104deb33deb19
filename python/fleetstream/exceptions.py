"""One exception tree: every error fleetstream raises is a :class:`FleetstreamError`.

Errors that are about a bad value also subclass :class:`ValueError`, so generic handlers keep working.
Messages name what was wrong and where (column, option, row, line).
"""

from __future__ import annotations

__all__ = [
    "FleetstreamError",
    "SchemaError",
    "ConfigError",
    "ParseError",
    "SnapshotError",
    "OrderError",
    "InfeasibleProblemError",
    "FleetstreamIOError",
    "KafkaError",
    "KafkaDeliveryError",
    "KafkaFencedError",
    "SinkError",
    "FencedError",
    "InternalError",
]


class FleetstreamError(Exception):
    """Base class of every exception raised by fleetstream."""


class SchemaError(FleetstreamError, ValueError):
    """A column is missing or has a type the operator cannot use."""


class ConfigError(FleetstreamError, ValueError):
    """An option given to a constructor is invalid."""


class ParseError(FleetstreamError, ValueError):
    """Text that must parse as a whole (a duration, a pattern, an instance file) is malformed."""


class SnapshotError(FleetstreamError, ValueError):
    """Bytes given to ``restore`` are not a snapshot of this operator, or of an incompatible version."""


class OrderError(FleetstreamError, ValueError):
    """Input that must arrive in time order arrived out of order."""


class InfeasibleProblemError(FleetstreamError, ValueError):
    """A routing problem no solution can satisfy as given (the message names the client at fault)."""


class FleetstreamIOError(FleetstreamError, OSError):
    """A file could not be read or written."""


class KafkaError(FleetstreamError):
    """Kafka reported an error: the broker is unreachable, a topic is unknown, a commit or seek failed.

    ``code`` is librdkafka's error name (e.g. ``"UnknownTopicOrPartition"``) when there is one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class KafkaDeliveryError(KafkaError):
    """Messages could not be delivered (message too large, unknown topic, timeout). ``code`` as above."""


class KafkaFencedError(KafkaError):
    """A newer instance with the same ``transactional.id`` took over: this producer is a zombie and
    must stop; its open transaction is aborted."""


class SinkError(FleetstreamError):
    """A database sink operation failed (connection, schema, statement); its transaction was rolled back."""


class FencedError(SinkError):
    """Another writer took over a partition (its generation in the offsets table moved on): this
    writer is a zombie and must stop; the batch it tried to commit was rolled back."""


class InternalError(FleetstreamError):
    """A broken invariant inside fleetstream (a bug): the message names the call where it happened.
    The operator that raised it may hold partial state from the failed call; restore it from a snapshot."""
