"""Prometheus metrics of the dispatch pipeline (``prometheus-client``, optional dependency).

fleetstream_dispatch_messages_in_total, fleetstream_dispatch_routes_out_total,
fleetstream_dispatch_fates_out_total, fleetstream_dispatch_dead_letters_total,
fleetstream_dispatch_checkpoints_total, fleetstream_dispatch_ticks_total (re-plans),
fleetstream_dispatch_batch_seconds (histogram), fleetstream_consumer_lag{topic,partition},
fleetstream_dispatch_waiting (messages held by the event-time merge),
fleetstream_dispatch_clock_seconds (the dispatcher's event clock, seconds of the day).
"""

from __future__ import annotations

from typing import Any

from fleetstream.exceptions import ConfigError


class DispatchMetrics:
    def __init__(self, port: int | None = None, addr: str = "127.0.0.1") -> None:
        try:
            import prometheus_client as prom
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigError("metrics need the prometheus-client package: pip install prometheus-client") from None
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.counters = {name: prom.Counter(f"fleetstream_dispatch_{metric}", help_text, registry=r) for name, metric, help_text in [
            ("messages", "messages_in", "Messages consumed"),
            ("routes", "routes_out", "Route messages produced"),
            ("fates", "fates_out", "Order fate messages produced"),
            ("dead_letters", "dead_letters", "Input that could not be used"),
            ("checkpoints", "checkpoints", "State + offset checkpoints written"),
        ]}
        self.ticks = prom.Counter("fleetstream_dispatch_ticks", "Re-plans on the event clock", registry=r)
        self.batch_seconds = prom.Histogram("fleetstream_dispatch_batch_seconds", "Processing time per polled batch",
                                            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.lag = prom.Gauge("fleetstream_consumer_lag", "High watermark minus next offset", ["topic", "partition"], registry=r)
        self.waiting = prom.Gauge("fleetstream_dispatch_waiting", "Messages held by the event-time merge", registry=r)
        self.clock = prom.Gauge("fleetstream_dispatch_clock_seconds", "The dispatcher's event clock", registry=r)
        self._last: dict[str, int] = {}
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
        for name, counter in self.counters.items():
            counter.inc(self._delta(name, pipeline.counts[name]))
        for topic, partition, next_offset, high in pipeline.source.stats()["partitions"]:
            self.lag.labels(topic, str(partition)).set(max(0, high - next_offset))
        if pipeline.operator is not None:
            self.ticks.inc(self._delta("ticks", pipeline.operator.counts()["ticks"]))
            self.waiting.set(pipeline.operator.waiting)
            self.clock.set(pipeline.operator.now)

    def render(self) -> bytes:
        import prometheus_client as prom

        data: bytes = prom.generate_latest(self.registry)
        return data

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
