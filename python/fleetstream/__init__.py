"""fleetstream: fast, typed stream processing and vehicle routing for Python, with a Rust core.

>>> import fleetstream as fs
>>> agg = fs.WindowAggregator(window=fs.Tumbling("1m"), key="service", aggs={"errors": fs.count()})
"""

from fleetstream._core import __version__
from fleetstream.exceptions import (
    ConfigError,
    FleetstreamError,
    FleetstreamIOError,
    InfeasibleProblemError,
    OrderError,
    ParseError,
    SchemaError,
    SnapshotError,
)
from fleetstream import routing
from fleetstream.logs import LogParser, ParseResult
from fleetstream.stream import (
    Agg,
    Hopping,
    SpikeDetector,
    Tumbling,
    WindowAggregator,
    count,
    max,
    mean,
    min,
    quantile,
    sum,
)

__all__ = [
    "Agg",
    "ConfigError",
    "FleetstreamError",
    "FleetstreamIOError",
    "Hopping",
    "InfeasibleProblemError",
    "LogParser",
    "OrderError",
    "ParseError",
    "ParseResult",
    "SchemaError",
    "SnapshotError",
    "SpikeDetector",
    "Tumbling",
    "WindowAggregator",
    "__version__",
    "count",
    "max",
    "mean",
    "min",
    "quantile",
    "routing",
    "sum",
]
