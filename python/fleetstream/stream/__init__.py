"""Event-time stream operators: windows, aggregates, the window aggregator and spike alerts."""

from fleetstream.stream.aggregates import Agg, count, max, mean, min, quantile, sum
from fleetstream.stream.aggregator import WindowAggregator
from fleetstream.stream.spike import SpikeDetector
from fleetstream.stream.windows import Hopping, Tumbling

__all__ = [
    "Agg",
    "Hopping",
    "SpikeDetector",
    "Tumbling",
    "WindowAggregator",
    "count",
    "max",
    "mean",
    "min",
    "quantile",
    "sum",
]
