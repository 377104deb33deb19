"""Stubs for the private native module ``fleetstream._core``; use the ``fleetstream`` package instead.

Checked against the built module by ``python -m mypy.stubtest fleetstream._core`` (part of ``make test``).
"""

import os
from collections.abc import Sequence
from typing import Any, final

import pyarrow as pa

__all__ = ["__version__", "parse_duration", "LogParser", "WindowAggregator", "SpikeDetector", "Sessionizer"]

__version__: str

def parse_duration(text: str) -> int: ...


@final
class LogParser:
    """Native log-line parser; use fleetstream.logs.LogParser."""

    def __new__(
        cls,
        format: str,
        *,
        pattern: str | None = None,
        datefmt: str | None = None,
        style: str | None = None,
        time_field: list[str] | None = None,
        level_field: list[str] | None = None,
        service_field: list[str] | None = None,
        message_field: list[str] | None = None,
        time_format: str | None = None,
        required: list[str] = ...,
        extra_fields: list[str] | None = None,
        max_extra_fields: int = 1000,
        max_line_bytes: int = ...,
    ) -> LogParser: ...
    @property
    def format(self) -> str: ...
    @property
    def pattern(self) -> str | None: ...
    def parse(self, lines: object) -> tuple[pa.Table, pa.Table]: ...
    def parse_file(self, path: str | os.PathLike[str]) -> tuple[pa.Table, pa.Table]: ...

@final
class WindowAggregator:
    def __new__(
        cls,
        *,
        size: int,
        step: int | None,
        offset: int,
        time: str,
        keys: Sequence[str],
        aggs: Sequence[tuple[str, str, str | None, float | None]],
        watermark: int,
        allowed_lateness: int,
        max_key_bytes: int,
    ) -> WindowAggregator: ...
    def push(self, data: Any) -> pa.Table: ...
    def flush(self) -> pa.Table: ...
    def take_late(self) -> list[pa.Table]: ...
    def take_rejects(self) -> list[pa.Table]: ...
    def snapshot(self) -> bytes: ...
    @staticmethod
    def restore(state: bytes) -> WindowAggregator: ...
    def config_json(self) -> str: ...
    def output_schema(self) -> pa.Table: ...
    @property
    def watermark(self) -> int | None: ...
    @property
    def open_windows(self) -> int: ...
    def stats(self) -> dict[str, int]: ...

@final
class SpikeDetector:
    def __new__(
        cls,
        *,
        value: str,
        keys: Sequence[str],
        history: int,
        factor: float,
        floor: float,
        rule: str,
        threshold: float,
        alpha: float,
        cooldown: int,
        step: int | None,
    ) -> SpikeDetector: ...
    def push(self, data: Any) -> pa.Table: ...
    def flush(self) -> pa.Table: ...
    def snapshot(self) -> bytes: ...
    @staticmethod
    def restore(state: bytes) -> SpikeDetector: ...
    def config_json(self) -> str: ...
    def output_schema(self) -> pa.Table: ...
    @property
    def tracked_keys(self) -> int: ...

@final
class Sessionizer:
    def __new__(
        cls,
        *,
        gap: int,
        time: str,
        keys: Sequence[str],
        aggs: Sequence[tuple[str, str, str | None, float | None]],
        watermark: int,
        allowed_lateness: int,
        max_duration: int | None,
        max_key_bytes: int,
    ) -> Sessionizer: ...
    def push(self, data: Any) -> pa.Table: ...
    def flush(self) -> pa.Table: ...
    def take_late(self) -> list[pa.Table]: ...
    def take_rejects(self) -> list[pa.Table]: ...
    def snapshot(self) -> bytes: ...
    @staticmethod
    def restore(state: bytes) -> Sessionizer: ...
    def config_json(self) -> str: ...
    def output_schema(self) -> pa.Table: ...
    @property
    def watermark(self) -> int | None: ...
    @property
    def open_sessions(self) -> int: ...
    @property
    def open_keys(self) -> int: ...
    def stats(self) -> dict[str, int]: ...
