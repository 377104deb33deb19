"""Composed pipelines: Kafka in, stream operators, Kafka out, state checkpointed with offsets."""

from fleetstream.pipeline.alerts import AlertsConfig, AlertsPipeline
from fleetstream.pipeline.checkpoint import CheckpointStore
from fleetstream.pipeline.dispatch import DispatchConfig, DispatchPipeline
from fleetstream.pipeline.foreach_batch import exactly_once_foreach_batch
from fleetstream.pipeline.payments import PaymentsConfig, PaymentsPipeline, PaymentsWriter

__all__ = ["AlertsConfig", "AlertsPipeline", "CheckpointStore", "DispatchConfig", "DispatchPipeline", "PaymentsConfig", "PaymentsPipeline", "PaymentsWriter",
           "exactly_once_foreach_batch"]
