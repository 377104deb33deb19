"""Window specifications: immutable, picklable descriptions that build stateful operators."""

from __future__ import annotations

from dataclasses import dataclass

from fleetstream._time import Duration, duration_ms
from fleetstream.exceptions import ConfigError


@dataclass(frozen=True, init=False)
class Tumbling:
    """Fixed-size, non-overlapping windows ``[start, start + size)`` aligned to the Unix epoch.

    >>> import fleetstream as fs
    >>> fs.Tumbling("1m")
    Tumbling(size_ms=60000, offset_ms=0)
    """

    size_ms: int
    offset_ms: int

    def __init__(self, size: Duration, offset: Duration = 0) -> None:
        size_ms = duration_ms(size, "Tumbling size")
        if size_ms <= 0:
            raise ConfigError(f"Tumbling size must be positive, got {size!r}")
        object.__setattr__(self, "size_ms", size_ms)
        object.__setattr__(self, "offset_ms", duration_ms(offset, "Tumbling offset") % size_ms)

    def __reduce__(self) -> tuple[type, tuple[int, int]]:
        return (Tumbling, (self.size_ms, self.offset_ms))


@dataclass(frozen=True, init=False)
class Hopping:
    """Overlapping windows of length ``size`` starting every ``step`` (sliding windows).

    Every event belongs to about ``size / step`` windows.

    >>> import fleetstream as fs
    >>> fs.Hopping(size="5m", step="1m")
    Hopping(size_ms=300000, step_ms=60000, offset_ms=0)
    """

    size_ms: int
    step_ms: int
    offset_ms: int

    def __init__(self, size: Duration, step: Duration, offset: Duration = 0) -> None:
        size_ms = duration_ms(size, "Hopping size")
        step_ms = duration_ms(step, "Hopping step")
        if size_ms <= 0 or step_ms <= 0:
            raise ConfigError(f"Hopping size and step must be positive, got size={size!r}, step={step!r}")
        if step_ms > size_ms:
            raise ConfigError(
                f"Hopping step ({step!r}) is larger than the size ({size!r}): events between windows would be lost"
            )
        object.__setattr__(self, "size_ms", size_ms)
        object.__setattr__(self, "step_ms", step_ms)
        object.__setattr__(self, "offset_ms", duration_ms(offset, "Hopping offset") % step_ms)

    def __reduce__(self) -> tuple[type, tuple[int, int, int]]:
        return (Hopping, (self.size_ms, self.step_ms, self.offset_ms))


Window = Tumbling | Hopping
