from __future__ import annotations

import resource
import time
import urllib.request
from pathlib import Path

import pyarrow as pa

import fleetstream as fs
from fleetstream.pipeline import AlertsConfig, AlertsPipeline
from fleetstream.pipeline.metrics import PipelineMetrics
from fleetstream.testing import LocalBroker, LogStreamSpec, generate_log_lines

from kafka_helpers import consumer_config, drain, produce_raw, unique


def test_pause_stops_fetching_and_resume_continues(broker: LocalBroker, make_topic) -> None:
    topic = make_topic(2)
    source = fs.KafkaSource(topic, unique("g"), consumer_config(broker), format="text", batch_size=50)
    try:
        produce_raw(broker, topic, [b"a"] * 20, partition=0)
        drain(source, 20)
        assert sorted(source.assignment()) == [(topic, 0), (topic, 1)]
        source.pause([(topic, 0)])
        produce_raw(broker, topic, [b"p0"] * 30, partition=0)
        produce_raw(broker, topic, [b"p1"] * 30, partition=1)
        batches = drain(source, 60, timeout=4)
        values = [v for b in batches for v in b.records["value"].to_pylist()]
        assert values == ["p1"] * 30  # partition 0 is paused; the consumer stays in the group
        source.resume([(topic, 0)])
        values = [v for b in drain(source, 30) for v in b.records["value"].to_pylist()]
        assert values == ["p0"] * 30
    finally:
        source.close()


def test_memory_stays_bounded_when_the_producer_is_faster(broker: LocalBroker, make_topic) -> None:
    """100k x 1 KiB messages (~100 MiB) waiting in the topic; a slow consumer's memory grows by far less:
    librdkafka prefetches at most queued.max.messages.kbytes, the source hands out batch_size rows."""
    topic = make_topic(1)
    payload = b"x" * 1024
    produce_raw(broker, topic, [payload] * 100_000)
    source = fs.KafkaSource(topic, unique("g"), consumer_config(broker, **{"queued.max.messages.kbytes": 8192}),
                            format="raw", batch_size=1000)
    try:
        drain(source, 1000)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        consumed = 0
        for _ in range(30):
            time.sleep(0.05)  # the slow consumer
            consumed += source.poll(max_wait="500ms").messages
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert consumed > 0
        assert grown_mib < 60, f"RSS grew by {grown_mib:.0f} MiB"
        lag = source.stats()["partitions"]
        (t, p, next_offset, high), = lag
        assert high - next_offset > 50_000  # the backlog stays in the broker
    finally:
        source.close()


def test_pipeline_metrics_over_http(broker: LocalBroker, tmp_path: Path) -> None:
    topic, alerts_topic = unique("logs"), unique("alerts")
    broker.create_topics({topic: 2, alerts_topic: 1})
    lines = generate_log_lines(LogStreamSpec(events=5_000, services=4, seed=3))
    # Distinct keys spread the lines over both partitions (unkeyed, the sticky partitioner may put
    # them all in one, and the lag of the other would never be reported).
    produce_raw(broker, topic, [line.encode() for line in lines], keys=[str(i).encode() for i in range(len(lines))])
    metrics = PipelineMetrics(port=0)
    pipeline = AlertsPipeline(AlertsConfig(brokers=broker.bootstrap, topic=topic, alerts_topic=alerts_topic,
                                           group=unique("g"), state_dir=str(tmp_path), idle_exit=2.0), metrics)
    try:
        counts = pipeline.run()
        assert counts["messages"] == 5_000
        assert counts["lines"] == 5_000 and counts["parse_rejects"] > 0
        body = urllib.request.urlopen(f"http://127.0.0.1:{metrics.port}/metrics", timeout=5).read().decode()
    finally:
        metrics.close()
    assert "fleetstream_messages_in_total 5000.0" in body
    assert "fleetstream_batch_seconds_count" in body
    assert 'fleetstream_consumer_lag{partition="0"' in body
    assert 'fleetstream_rejected_total{stage="parse"}' in body
    assert "fleetstream_watermark_delay_seconds" in body


def test_dashboard_json_names_only_exported_metrics() -> None:
    import json
    import re

    dashboard = json.loads((Path(__file__).parents[2] / "grafana" / "fleetstream-kafka.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    names = {m for e in exprs for m in re.findall(r"fleetstream_[a-z_]+", e)}
    metrics = PipelineMetrics()
    families = list(metrics.registry.collect())
    exported = {m.name for m in families} | {f"{m.name}_{suffix}" for m in families
                                             for suffix in ("total", "bucket", "count", "sum")}
    assert names and names <= exported, names - exported
