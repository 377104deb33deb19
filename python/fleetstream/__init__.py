"""fleetstream: fast, typed stream processing and vehicle routing for Python, with a Rust core.

>>> import fleetstream as fs
>>> agg = fs.WindowAggregator(window=fs.Tumbling("1m"), key="service", aggs={"errors": fs.count()})
"""

from fleetstream._core import __version__
from fleetstream.exceptions import (
    ConfigError,
    FencedError,
    FleetstreamError,
    FleetstreamIOError,
    KafkaDeliveryError,
    KafkaError,
    KafkaFencedError,
    InfeasibleProblemError,
    InternalError,
    OrderError,
    ParseError,
    SchemaError,
    SinkError,
    SnapshotError,
)
from fleetstream.enrich import ReferenceTable
from fleetstream.sinks import ExactlyOnceSink, ReadModel
from fleetstream.kafka import KafkaBatch, KafkaSink, KafkaSource, TransactionalLoop
from fleetstream import routing
from fleetstream.logs import LogParser, ParseResult
from fleetstream.stream import (
    Agg,
    Hopping,
    Sessionizer,
    SpikeDetector,
    Tumbling,
    WindowAggregator,
    count,
    count_distinct,
    first,
    last,
    max,
    mean,
    min,
    quantile,
    sum,
)

__all__ = [
    "Agg",
    "ConfigError",
    "ExactlyOnceSink",
    "FencedError",
    "FleetstreamError",
    "FleetstreamIOError",
    "Hopping",
    "KafkaBatch",
    "KafkaDeliveryError",
    "KafkaError",
    "KafkaFencedError",
    "KafkaSink",
    "KafkaSource",
    "InfeasibleProblemError",
    "InternalError",
    "LogParser",
    "OrderError",
    "ParseError",
    "ParseResult",
    "ReadModel",
    "ReferenceTable",
    "SchemaError",
    "Sessionizer",
    "SinkError",
    "SnapshotError",
    "SpikeDetector",
    "TransactionalLoop",
    "Tumbling",
    "WindowAggregator",
    "__version__",
    "count",
    "count_distinct",
    "first",
    "last",
    "max",
    "mean",
    "min",
    "quantile",
    "routing",
    "sum",
]
