"""Composed pipelines: Kafka in, stream operators, Kafka out, state checkpointed with offsets."""

from fleetstream.pipeline.alerts import AlertsConfig, AlertsPipeline
from fleetstream.pipeline.checkpoint import CheckpointStore

__all__ = ["AlertsConfig", "AlertsPipeline", "CheckpointStore"]
