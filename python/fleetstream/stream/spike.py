"""Spike alerts over closed windows."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import pyarrow as pa

from fleetstream import _core
from fleetstream._arrow import as_arrow
from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError
from fleetstream.stream._operator import key_columns

Rule = Literal["mean", "zscore", "ewma"]


class SpikeDetector:
    """Raises an alert when a window's value spikes above its key's recent history.

    Per key, windows are taken in time order with missing windows counted as 0. Rules:

    - ``"mean"`` (default): alert when ``value > floor`` and ``value > factor * mean`` of the previous
      ``history`` windows, once the key has ``history`` windows since its first non-empty one.
    - ``"zscore"``: ``value > mean + threshold * stdev`` of the previous ``history`` windows.
    - ``"ewma"``: ``value > factor * ewma`` of all previous windows (smoothing ``alpha``).

    ``cooldown`` windows after an alert cannot alert for the same key. Alerts are returned as a
    table (key columns, ``window_start``, ``window_end``, ``value``, ``baseline``, ``rule``) and, if
    given, passed one by one (as dicts) to ``on_alert``.

    State shrinks with the keys that go quiet: once a key has missed enough windows that its baseline
    is all zeros (``history`` windows for ``"mean"`` and ``"zscore"``, and any cooldown spent; for
    ``"ewma"`` only once the average has decayed to exactly zero, at once with ``alpha=1``, after
    about 2,000 windows with ``alpha=0.3``), only its name and last window start are kept, and it
    gets the same state back if it returns: no alert changes. This needs windows in time order across
    keys, as :class:`WindowAggregator` emits them; a window older than the latest one seen stops it
    (and a window of a key let go that is older than the moment it was let go is an
    :class:`OrderError`). :meth:`stats` reports the keys, the dormant keys and the state's size.

    >>> import fleetstream as fs, pyarrow as pa
    >>> det = fs.SpikeDetector(value="errors", key="service", history=3, factor=3.0, floor=5)
    >>> windows = pa.table({"service": ["api"] * 5,
    ...                     "window_start": [0, 60_000, 120_000, 180_000, 240_000],
    ...                     "window_end": [60_000, 120_000, 180_000, 240_000, 300_000],
    ...                     "errors": [2, 3, 1, 40, 2]})
    >>> det.push(windows).to_pydict()["value"]
    [40.0]
    """

    def __init__(
        self,
        value: str = "errors",
        key: str | Sequence[str] | None = None,
        *,
        history: int = 10,
        factor: float = 3.0,
        floor: float = 20,
        rule: Rule = "mean",
        threshold: float = 3.0,
        alpha: float = 0.3,
        cooldown: int = 0,
        step: Duration | None = None,
        on_alert: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        # Every option is checked, also those the chosen rule does not use: a wrong value is a
        # mistake either way, and would surprise whoever switches the rule later.
        if not isinstance(value, str) or not value:
            raise ConfigError(f"value must be the name of the windows' value column, got {value!r}")
        _check_int("history", history, 1, 100_000)
        _check_int("cooldown", cooldown, 0, 1_000_000_000)
        for name, number in (("factor", factor), ("floor", floor), ("threshold", threshold)):
            _check_number(name, number)
        if not (_is_number(alpha) and 0.0 < float(alpha) <= 1.0):
            raise ConfigError(f"alpha (the ewma rule's smoothing) must be a number in (0, 1], got {alpha!r}")
        if rule not in get_args(Rule):
            raise ConfigError(f"rule must be one of {', '.join(map(repr, get_args(Rule)))}, got {rule!r}")
        if on_alert is not None and not callable(on_alert):
            raise ConfigError(f"on_alert must be a function taking one alert (a dict), got {on_alert!r}")
        self._native = _core.SpikeDetector(
            value=value,
            keys=key_columns(key),
            history=history,
            factor=float(factor),
            floor=float(floor),
            rule=rule,
            threshold=float(threshold),
            alpha=float(alpha),
            cooldown=cooldown,
            step=None if step is None else duration_ms(step, "step"),
        )
        self.on_alert = on_alert

    def push(self, windows: Any) -> pa.Table:
        """Evaluate closed windows (as :meth:`WindowAggregator.push` returns them); returns alerts."""
        alerts: pa.Table = self._native.push(as_arrow(windows, "SpikeDetector.push() input"))
        if self.on_alert is not None:
            for alert in alerts.to_pylist():
                self.on_alert(alert)
        return alerts

    def flush(self) -> pa.Table:
        """End of input: an empty alerts table (every window is decided as it arrives)."""
        alerts: pa.Table = self._native.flush()
        return alerts

    def snapshot(self) -> bytes:
        """The complete state: configuration and per-key history."""
        return self._native.snapshot()

    @classmethod
    def restore(cls, state: bytes, on_alert: Callable[[dict[str, Any]], object] | None = None) -> SpikeDetector:
        """A detector that continues exactly where the one that took ``state`` was."""
        self = cls.__new__(cls)
        self._native = _core.SpikeDetector.restore(state)
        self.on_alert = on_alert
        return self

    @property
    def output_schema(self) -> pa.Schema:
        """The schema of the alerts :meth:`push` returns: the key columns, ``window_start``,
        ``window_end``, ``value``, ``baseline`` and ``rule``.

        >>> import fleetstream as fs
        >>> fs.SpikeDetector(key="service").output_schema.names
        ['service', 'window_start', 'window_end', 'value', 'baseline', 'rule']
        """
        schema: pa.Schema = self._native.output_schema().schema
        return schema

    @property
    def tracked_keys(self) -> int:
        """Keys the detector holds a history for (dormant keys not counted)."""
        return self._native.tracked_keys

    def stats(self) -> dict[str, int]:
        """``keys`` (with a history), ``dormant_keys`` (history all zeros, kept by name) and
        ``state_bytes`` (an estimate of the per-key state).

        >>> import fleetstream as fs, pyarrow as pa
        >>> det = fs.SpikeDetector(value="errors", key="service", history=2)
        >>> _ = det.push(pa.table({"service": ["a", "b", "b", "b"], "window_start": [0, 0, 60_000, 180_000],
        ...                        "window_end": [60_000, 60_000, 120_000, 240_000], "errors": [3, 1, 1, 1]}))
        >>> det.stats()["keys"], det.stats()["dormant_keys"]
        (1, 1)
        """
        return dict(self._native.stats())

    def config(self) -> dict[str, Any]:
        """The options as the detector holds them (what :meth:`snapshot` saves and ``repr`` shows).

        >>> import fleetstream as fs
        >>> fs.SpikeDetector(key="service", rule="ewma", alpha=0.5).config()["rule"]
        {'Ewma': {'alpha': 0.5}}
        """
        config: dict[str, Any] = json.loads(self._native.config_json())
        return config

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (SpikeDetector.restore, (self.snapshot(),))

    def __repr__(self) -> str:
        c = self.config()
        rule, options = next(iter(c["rule"].items())) if isinstance(c["rule"], dict) else (c["rule"], {})
        extra = "".join(f", {k}={v!r}" for k, v in options.items())
        step = "" if c["step"] is None else f", step={c['step']}ms"
        return (f"SpikeDetector(value={c['value']!r}, key={c['keys']!r}, rule={rule.lower()!r}, history={c['history']}, "
                f"factor={c['factor']:g}, floor={c['floor']:g}{extra}, cooldown={c['cooldown']}{step})")


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_number(name: str, x: object) -> None:
    if not (_is_number(x) and float(x) >= 0):  # type: ignore[arg-type]
        raise ConfigError(f"{name} must be a finite number >= 0, got {x!r}")


def _check_int(name: str, x: object, lo: int, hi: int) -> None:
    if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
        raise ConfigError(f"{name} must be a whole number of windows from {lo} to {hi:,}, got {x!r}")
