"""Event-time stream operators: windows, sessions, aggregates and spike alerts."""

from fleetstream.stream.aggregates import Agg, count, count_distinct, first, last, max, mean, min, quantile, sum
from fleetstream.stream.aggregator import WindowAggregator
from fleetstream.stream.sessions import Sessionizer
from fleetstream.stream.spike import SpikeDetector
from fleetstream.stream.windows import Hopping, Tumbling

__all__ = [
    "Agg",
    "Hopping",
    "Sessionizer",
    "SpikeDetector",
    "Tumbling",
    "WindowAggregator",
    "count",
    "count_distinct",
    "first",
    "last",
    "max",
    "mean",
    "min",
    "quantile",
    "sum",
]
