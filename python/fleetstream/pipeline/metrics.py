"""Prometheus metrics for a pipeline, served over HTTP (``prometheus-client``, optional dependency).

Names: fleetstream_messages_in_total (of the input topic), fleetstream_bytes_in_total (of every topic read), fleetstream_messages_out_total{topic},
fleetstream_bytes_out_total{topic}, fleetstream_consumer_lag{topic,partition} (high watermark seen on
fetches minus next offset: ListOffsets is not trusted), fleetstream_batch_seconds (histogram),
fleetstream_watermark_delay_seconds (wall clock minus the smallest partition watermark),
fleetstream_late_events_total, fleetstream_late_contributions_total (alerts pipeline: counts that
reached a window already published), fleetstream_rejected_total{stage} (``parse``: unreadable lines;
``repartition``: messages of the internal topic that were not the pipeline's), fleetstream_alerts_total,
fleetstream_checkpoints_total. ``grafana/fleetstream-kafka.json`` is a dashboard over them.
"""

from __future__ import annotations

import time
from typing import Any

from fleetstream.exceptions import ConfigError


class PipelineMetrics:
    def __init__(self, port: int | None = None, addr: str = "127.0.0.1") -> None:
        try:
            import prometheus_client as prom
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigError("metrics need the prometheus-client package: pip install prometheus-client") from None
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.messages_in = prom.Counter("fleetstream_messages_in", "Messages of the input topic consumed", registry=r)
        self.bytes_in = prom.Counter("fleetstream_bytes_in", "Payload and key bytes consumed (all topics read)",
                                     registry=r)
        self.messages_out = prom.Counter("fleetstream_messages_out", "Messages produced", ["topic"], registry=r)
        self.bytes_out = prom.Counter("fleetstream_bytes_out", "Payload bytes produced", ["topic"], registry=r)
        self.lag = prom.Gauge("fleetstream_consumer_lag", "High watermark minus next offset", ["topic", "partition"],
                              registry=r)
        self.batch_seconds = prom.Histogram("fleetstream_batch_seconds", "Processing time per polled batch",
                                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                                            registry=r)
        self.watermark_delay = prom.Gauge("fleetstream_watermark_delay_seconds",
                                          "Wall clock minus the smallest event-time watermark", registry=r)
        self.late = prom.Counter("fleetstream_late_events", "Events for windows already closed", registry=r)
        self.late_contributions = prom.Counter("fleetstream_late_contributions",
                                               "Partial counts for windows already published", registry=r)
        self.rejected = prom.Counter("fleetstream_rejected", "Rejected input", ["stage"], registry=r)
        self.alerts = prom.Counter("fleetstream_alerts", "Alerts raised", registry=r)
        self.checkpoints = prom.Counter("fleetstream_checkpoints", "State + offset checkpoints written", registry=r)
        self._last: dict[str, int] = {}
        self._sink_last: dict[str, tuple[int, int]] = {}
        self.port: int | None = None
        self._server: Any = None
        if port is not None:
            server, _thread = prom.start_http_server(port, addr=addr, registry=r)
            self._server = server
            self.port = server.server_port

    def _delta(self, name: str, value: int) -> int:
        previous = self._last.get(name, 0)
        self._last[name] = value
        return max(0, value - previous)

    def observe_batch(self, pipeline: Any, batch: Any, seconds: float) -> None:
        self.batch_seconds.observe(seconds)
        self.observe_idle(pipeline)

    def observe_idle(self, pipeline: Any) -> None:
        counts = pipeline.counts
        stats = pipeline.source.stats()
        # The pipeline's own count: the source also reads the internal repartition topic.
        self.messages_in.inc(self._delta("messages", counts["messages"]))
        self.bytes_in.inc(self._delta("bytes", stats["bytes"]))
        self.late.inc(self._delta("late", counts["late"]))
        self.rejected.labels("parse").inc(self._delta("parse_rejects", counts["parse_rejects"]))
        self.rejected.labels("repartition").inc(self._delta("repartition_rejects", counts["repartition_rejects"]))
        self.late_contributions.inc(self._delta("late_contributions", counts["late_contributions"]))
        self.alerts.inc(self._delta("alerts", counts["alerts"]))
        self.checkpoints.inc(self._delta("checkpoints", counts["checkpoints"]))
        for topic, partition, next_offset, high in stats["partitions"]:
            self.lag.labels(topic, str(partition)).set(max(0, high - next_offset))
        for sink in (pipeline.alerts, pipeline.windows, pipeline.repartition, pipeline.rejects):
            if sink is None:
                continue
            s = sink.stats()
            sent, sent_bytes = self._sink_last.get(sink.topic, (0, 0))
            self.messages_out.labels(sink.topic).inc(max(0, s["sent"] - sent))
            self.bytes_out.labels(sink.topic).inc(max(0, s["bytes"] - sent_bytes))
            self._sink_last[sink.topic] = (s["sent"], s["bytes"])
        # Finished partitions report the largest time; they hold nothing back.
        watermarks = [op.watermark for op in pipeline.partials.values()
                      if op.watermark is not None and not op.finished]
        if watermarks:
            self.watermark_delay.set(time.time() - min(watermarks) / 1000)

    def render(self) -> bytes:
        import prometheus_client as prom

        data: bytes = prom.generate_latest(self.registry)
        return data

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
