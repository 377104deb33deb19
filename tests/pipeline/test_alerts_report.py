"""The alerts pipeline's reject warning, on hand-computed stretches of lines."""

from __future__ import annotations

import logging

import pyarrow as pa
import pytest

from fleetstream.pipeline._alerts_report import RejectWatch


def rejects(n: int, first_offset: int = 0) -> pa.RecordBatch:
    return pa.record_batch({"line": pa.array([f"bad {i}" for i in range(n)]),
                            "offset": pa.array(range(first_offset, first_offset + n), pa.int64()),
                            "reason": pa.array(["not JSON"] * n)})


def test_warns_with_a_sample_when_a_stretch_is_over_the_share(caplog: pytest.LogCaptureFixture) -> None:
    watch = RejectWatch(share=0.1, min_lines=1000, every=60)
    with caplog.at_level(logging.WARNING, "fleetstream.alerts"):
        assert watch.observe(600, rejects(50), partition=2, now=0.0) is None  # a stretch of 600 lines: too short
        warning = watch.observe(500, rejects(80, first_offset=600), partition=2, now=1.0)  # 130 of 1,100: 11.8 %
    assert warning is not None and caplog.records and caplog.records[0].getMessage() == warning
    assert "130 of 1,100 log lines (12%)" in warning
    assert "partition 2 offset 0: 'bad 0': not JSON" in warning
    # 100 of 1,000 is not more than 10 %; and a new stretch over the share within a minute stays quiet.
    assert watch.observe(1000, rejects(100), partition=0, now=2.0) is None
    assert watch.observe(1000, rejects(500), partition=0, now=30.0) is None
    assert watch.observe(1000, rejects(500), partition=0, now=62.0) is not None
    assert watch.finish() is None  # already said


def test_a_short_run_mostly_rejected_is_reported_at_the_end() -> None:
    watch = RejectWatch(share=0.1, min_lines=1000)
    watch.observe(300, rejects(300), partition=0, now=0.0)
    warning = watch.finish()
    assert warning is not None and "300 of 300 log lines (100%)" in warning
    clean = RejectWatch(share=0.1)
    clean.observe(300, rejects(3), partition=0, now=0.0)
    assert clean.finish() is None
