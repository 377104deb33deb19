"""Stubs for the private native module ``fleetstream._core``; use the ``fleetstream`` package instead.

Checked against the built module by ``python -m mypy.stubtest fleetstream._core`` (part of ``make test``).
"""

import os
from collections.abc import Callable, Sequence
from typing import Any, final

import pyarrow as pa

__all__ = [
    "__version__",
    "parse_duration",
    "LogParser",
    "WindowAggregator",
    "SpikeDetector",
    "RoutingProblem",
    "RoutingSolution",
    "routing_matrices",
    "read_vrplib",
]

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
    def snapshot(self) -> bytes: ...
    @staticmethod
    def restore(state: bytes) -> SpikeDetector: ...
    def config_json(self) -> str: ...
    def output_schema(self) -> pa.Table: ...
    @property
    def tracked_keys(self) -> int: ...


def routing_matrices(
    points: Sequence[tuple[float, float]], geometry: str, speeds: Sequence[float | None]
) -> tuple[list[int], list[list[int]]]: ...
def read_vrplib(path: str | os.PathLike[str], round: str = "round") -> tuple[RoutingProblem, str, int]: ...

@final
class RoutingProblem:
    """Native routing problem; build it with fleetstream.routing.Model."""

    def __new__(
        cls,
        depots: Sequence[tuple[float, float, int, int]],
        clients: Sequence[tuple[float, float, Sequence[int], Sequence[int], int, Sequence[tuple[int, int]], int, bool, int]],
        vehicle_types: Sequence[
            tuple[int, Sequence[int], tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int, int], int, int]
        ],
        profiles: Sequence[tuple[Sequence[int], Sequence[int]]],
    ) -> RoutingProblem: ...
    @property
    def num_depots(self) -> int: ...
    @property
    def num_clients(self) -> int: ...
    @property
    def num_vehicles(self) -> int: ...
    @property
    def num_dims(self) -> int: ...
    def coordinates(self) -> list[tuple[float, float]]: ...
    def vehicle_depots(self) -> list[tuple[int, int]]: ...
    def solve(
        self,
        *,
        seed: int = 1,
        threads: int = 1,
        max_runtime: float | None = None,
        max_iterations: int | None = None,
        no_improvement: int | None = None,
        initial: Sequence[tuple[int, Sequence[int]]] | None = None,
        callback: Callable[[dict[str, Any]], Any] | None = None,
    ) -> RoutingSolution: ...
    def evaluate(self, routes: Sequence[tuple[int, Sequence[int]]]) -> RoutingSolution: ...

@final
class RoutingSolution:
    @property
    def cost(self) -> int: ...
    @property
    def feasible(self) -> bool: ...
    @property
    def distance(self) -> int: ...
    @property
    def duration(self) -> int: ...
    @property
    def uncollected_prizes(self) -> int: ...
    @property
    def missing(self) -> list[int]: ...
    @property
    def iterations(self) -> int: ...
    @property
    def runtime(self) -> float: ...
    @property
    def interrupted(self) -> bool: ...
    def routes(self) -> list[tuple[int, list[int]]]: ...
    def schedule(self) -> list[dict[str, Any]]: ...
    def to_vrplib(self, cost: float) -> str: ...
