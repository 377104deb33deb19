"""Exactly-once writes from Spark Structured Streaming's ``foreachBatch``.

Spark re-runs a micro-batch with the same ``batch_id`` after a failure. The function returned by
:func:`exactly_once_foreach_batch` writes the batch's rows and the mark ``(query_id, batch_id)`` in
one database transaction, so a replayed batch id writes nothing (and rows are keyed anyway)::

    query = (stream_df.writeStream
             .foreachBatch(exactly_once_foreach_batch(sink, query_id="payments-v1"))
             .option("checkpointLocation", "/checkpoints/payments-v1").start())

The function runs on the driver (as ``foreachBatch`` functions do): the batch is collected as Arrow
(``DataFrame.toArrow()``), so keep micro-batches to what the driver can hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetstream.sinks import ExactlyOnceSink, WriteResult


def exactly_once_foreach_batch(sink: ExactlyOnceSink, query_id: str,
                               on_batch: Callable[[int, WriteResult], None] | None = None) -> Callable[[Any, int], None]:
    """A ``foreachBatch`` function writing each micro-batch to ``sink`` exactly once per
    ``(query_id, batch_id)``. ``on_batch(batch_id, result)`` is called after each write (for logs /
    metrics); a replayed batch reports ``result.applied == False``."""

    def write(batch_df: Any, batch_id: int) -> None:
        if sink.is_applied(query_id, batch_id):  # cheap early exit; the transaction re-checks
            result = WriteResult(applied=False, rows=0, written=0, duplicates=0, dead_letters=0)
        else:
            result = sink.write(batch_df.toArrow(), batch=(query_id, int(batch_id)))
        if on_batch is not None:
            on_batch(int(batch_id), result)

    return write
