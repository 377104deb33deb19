"""fleetstream inside PySpark: Spark distributes, fleetstream's Rust operators compute.

DataFrame-in, DataFrame-out functions:

* :func:`sessionize` runs :class:`fleetstream.Sessionizer` per key on a batch DataFrame (by default
  in two phases: partial sessions where the data is, then only those shuffled and merged);
* :func:`window_aggregate` runs :class:`fleetstream.WindowAggregator` per key;
* :func:`sessionize_stream` and :func:`window_aggregate_stream` do the same in Structured
  Streaming, with each key's operator state in Spark's state store between micro-batches;
* :func:`solve_regions` solves one routing problem per region on the executors;
* :func:`exactly_once_foreach_batch` writes a streaming query's micro-batches to an
  :class:`fleetstream.ExactlyOnceSink` exactly once (``writeStream.foreachBatch(...)``).

Details and the semantics next to Spark's own ``session_window``/``window``: the modules
``fleetstream.spark._batch``, ``._two_phase``, ``._streaming`` and ``._routing``.

>>> import fleetstream as fs
>>> from fleetstream import spark as fss
>>> clicks = spark.createDataFrame([(7, 0, "/"), (7, 60_000, "/cart"), (7, 9_000_000, "/")],
...                                "user_id long, ts long, page string")  # doctest: +SKIP
>>> sessions = fss.sessionize(clicks, gap="30m", key="user_id", time="ts",
...                           aggs={"page_views": fs.count(), "first_page": fs.first("page")})  # doctest: +SKIP
>>> sessions.orderBy("session_start").select("page_views", "first_page").collect()  # doctest: +SKIP
[Row(page_views=2, first_page='/'), Row(page_views=1, first_page='/')]
>>> per_hour = fss.window_aggregate(clicks, fs.Tumbling("1h"), key="user_id",
...                                 aggs={"views": fs.count()})  # doctest: +SKIP
>>> per_hour.orderBy("window_start").select("views").collect()  # doctest: +SKIP
[Row(views=2), Row(views=1)]

(``spark`` is a ``SparkSession``; the examples are executed by ``tests/spark`` with one.)

Running on a cluster: the ``fleetstream`` wheel (and pyarrow) must be installed on every executor,
since the functions shipped to executors import :mod:`fleetstream`. pyspark is imported lazily, so
``import fleetstream`` never needs it.
"""

from __future__ import annotations

from fleetstream.pipeline.foreach_batch import exactly_once_foreach_batch
from fleetstream.spark._batch import NEVER_LATE_MS, OnReject, sessionize, window_aggregate
from fleetstream.spark._routing import solve_regions
from fleetstream.spark._streaming import sessionize_stream, window_aggregate_stream

__all__ = [
    "NEVER_LATE_MS",
    "OnReject",
    "exactly_once_foreach_batch",
    "sessionize",
    "sessionize_stream",
    "solve_regions",
    "window_aggregate",
    "window_aggregate_stream",
]
