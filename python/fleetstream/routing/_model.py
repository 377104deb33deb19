"""The problem builder: depots, vehicle types and clients in user units, turned into integer data.

Units. For lat/lon models (and user-given matrices) distances are metres and times seconds; times of
day accept "08:30", ``datetime.time`` or seconds since midnight, durations "4m", "1h30m", ``timedelta``
or seconds. Costs are kept as integers internally at ``COST_SCALE`` per currency unit. For planar x/y
models distances are rounded Euclidean coordinate units and times are plain numbers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time as dtime
from datetime import timedelta
from typing import Any, Union

from fleetstream import _core
from fleetstream.exceptions import ConfigError, InfeasibleProblemError

TimeOfDay = Union[str, int, float, dtime]
Span = Union[str, int, float, timedelta]

#: "no limit" for times and durations (matches the core's INF)
UNBOUNDED = 1 << 50
#: internal integer cost units per unit of cost given by the user
COST_SCALE = 1_000_000


def time_of_day(value: TimeOfDay, name: str) -> int:
    """Seconds since midnight in ``value``."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a time such as \"08:30\", got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name}: expected a non-negative time, got {value!r}")
        return int(round(value))
    if isinstance(value, dtime):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        parts = value.strip().split(":")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) in (2, 3) and all(0 <= n < 60 for n in numbers[1:]):
            h, m, s = (numbers + [0])[:3]
            if 0 <= h <= 23 or (h, m, s) == (24, 0, 0):  # 24:00 is the end of the day (ISO 8601)
                return h * 3600 + m * 60 + s
            raise ConfigError(f"{name}: {value!r} is not a time of day: hours go from 00 to 23 (24:00 is the end of "
                              f"the day); give a time on the next day in seconds since midnight, e.g. 90000 for 01:00")
    raise ConfigError(f"{name}: expected a time of day such as \"08:30\", got {value!r}")


def span(value: Span, name: str) -> int:
    """Seconds in a duration."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration such as \"4m\", got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name}: expected a non-negative duration, got {value!r}")
        return int(round(value))
    if isinstance(value, timedelta):
        return int(round(value.total_seconds()))
    if isinstance(value, str):
        try:
            return int(round(_core.parse_duration(value) / 1000))
        except ValueError as error:
            raise ConfigError(f"{name}: {error}") from None
    raise ConfigError(f"{name}: expected a duration such as \"4m\", got {value!r}")


def _vector(value: int | Sequence[int] | None, name: str) -> list[int]:
    if value is None:
        return []
    values = [value] if isinstance(value, (int, float)) else list(value)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v != int(v):
            raise ConfigError(f"{name}: expected non-negative whole numbers, got {value!r}")
        out.append(int(v))
    return out


def _coordinates(what: str, lat: float | None, lon: float | None, x: float | None, y: float | None) -> tuple[str, float, float]:
    if lat is not None or lon is not None:
        if x is not None or y is not None:
            raise ConfigError(f"{what}: give lat/lon or x/y, not both")
        if lat is None or lon is None:
            raise ConfigError(f"{what}: both lat and lon are needed (got lat={lat!r}, lon={lon!r})")
        a, b = float(lat), float(lon)
        if not (math.isfinite(a) and math.isfinite(b)) or not (-90 <= a <= 90 and -180 <= b <= 180):
            raise ConfigError(f"{what}: invalid coordinates lat={lat!r}, lon={lon!r}")
        return "latlon", a, b
    if x is None or y is None:
        raise ConfigError(f"{what}: coordinates missing (give lat= and lon=, or x= and y=)")
    a, b = float(x), float(y)
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ConfigError(f"{what}: invalid coordinates x={x!r}, y={y!r}")
    return "planar", a, b


@dataclass
class _Depot:
    a: float
    b: float
    name: str | None
    opening: tuple[int, int]


@dataclass
class _VehicleType:
    count: int
    capacity: list[int]
    start: int
    end: int
    shift: tuple[int, int]
    max_duration: int
    max_distance: int
    fixed_cost: float
    cost_per_km: float
    cost_per_hour: float
    speed_kmh: float | None
    skills: list[str]
    name: str | None


@dataclass
class _Client:
    a: float
    b: float
    demand: list[int]
    pickup: list[int]
    service: int
    time_windows: list[tuple[int, int]]
    required: bool
    prize: float
    skills: list[str]
    name: str | None
    release: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Model:
    """Builds a routing problem: ``add_depot``, ``add_vehicle_type``, ``add_client``, then ``solve``.

    >>> m = Model()
    >>> depot = m.add_depot(x=0, y=0)
    >>> _ = m.add_vehicle_type(count=2, capacity=[10], start=depot)
    >>> _ = m.add_client(x=3, y=4, demand=[5])
    """

    def __init__(self) -> None:
        self._geometry: str | None = None
        self._depots: list[_Depot] = []
        self._vehicle_types: list[_VehicleType] = []
        self._clients: list[_Client] = []
        self._matrices: tuple[list[int], list[int]] | None = None
        self._skills: dict[str, int] = {}

    # -- building ---------------------------------------------------------------------------------
    def _geo(self, kind: str, what: str) -> None:
        if self._geometry is None:
            self._geometry = kind
        elif self._geometry != kind:
            raise ConfigError(f"{what}: mixes {kind} coordinates with the model's {self._geometry} ones")

    @property
    def geometry(self) -> str:
        """"latlon", "planar" or "matrix" (user-given matrices)."""
        if self._matrices is not None:
            return "matrix"
        return self._geometry or "planar"

    @property
    def clock(self) -> bool:
        """Whether times are seconds of a day (lat/lon or matrix models) rather than plain numbers."""
        return self.geometry != "planar"

    def add_depot(self, *, lat: float | None = None, lon: float | None = None, x: float | None = None,
                  y: float | None = None, name: str | None = None,
                  opening: tuple[TimeOfDay, TimeOfDay] | None = None) -> int:
        """Adds a depot; returns its index (to pass as a vehicle type's ``start``/``end``).

        Parameters:
            lat, lon: the place in degrees (distances between lat/lon places are great-circle,
                haversine, distances in metres); or
            x, y: planar coordinates (distances are Euclidean, rounded to whole units). A model
                uses one kind of coordinates throughout.
            name: shown in errors.
            opening: (open, close) times of day ("07:00", ``datetime.time`` or seconds since
                midnight; plain numbers for planar models): vehicles leave and return within it.

        >>> m = Model()
        >>> m.add_depot(lat=52.52, lon=13.40, name="hub", opening=("07:00", "20:00"))
        0
        >>> m.add_depot(lat=52.45, lon=13.30)
        1
        """
        what = f"depot {len(self._depots)}" + (f" ({name!r})" if name else "")
        kind, a, b = _coordinates(what, lat, lon, x, y)
        self._geo(kind, what)
        window = (0, UNBOUNDED) if opening is None else (time_of_day(opening[0], f"{what} opening"),
                                                          time_of_day(opening[1], f"{what} closing"))
        self._depots.append(_Depot(a, b, name, window))
        return len(self._depots) - 1

    def add_vehicle_type(self, count: int = 1, capacity: int | Sequence[int] | None = None, *, start: int = 0,
                         end: int | None = None, shift: tuple[TimeOfDay, TimeOfDay] | None = None,
                         max_duration: Span | None = None, max_distance: float | None = None,
                         fixed_cost: float = 0, cost_per_km: float = 1.0, cost_per_hour: float = 0.0,
                         speed_kmh: float | None = 30, skills: Iterable[str] = (), name: str | None = None) -> int:
        """Adds ``count`` identical vehicles; returns the vehicle type's index.

        Parameters:
            count: how many vehicles of this type (each drives at most one route).
            capacity: what a vehicle carries, one number per dimension (e.g. ``[60]`` parcels, or
                ``[60, 500]`` parcels and kg), in the same units as the clients' ``demand``.
            start, end: depot indices (from ``add_depot``) the routes leave from and return to;
                ``end`` defaults to ``start``.
            shift: (start, end) times of day the vehicles work ("08:00", ``datetime.time`` or
                seconds since midnight; plain numbers for planar models).
            max_duration: longest route, a duration ("9h", ``timedelta`` or seconds).
            max_distance: longest route in metres (lat/lon) or coordinate units (planar).
            fixed_cost: cost of using a vehicle (per route), in currency units.
            cost_per_km: cost per kilometre driven (per coordinate unit for planar models).
            cost_per_hour: cost per hour on the road (per 3600 time units for planar models).
            speed_kmh: converts distances to driving times, in km/h for lat/lon models (30 by
                default); for planar models distance units per time unit (None or the default 30:
                driving time equals distance). Ignored when ``set_matrices`` gives the times.
            skills: names a client's ``skills`` may require (e.g. ``["fridge"]``).
            name: shown in ``Result.summary()`` and, for a ``Dispatcher``, the vans' ids.

        >>> m = Model()
        >>> hub = m.add_depot(lat=52.52, lon=13.40)
        >>> m.add_vehicle_type(count=3, capacity=[60], start=hub, shift=("08:00", "18:00"), max_duration="9h",
        ...                    fixed_cost=25, cost_per_km=0.6, speed_kmh=22, name="van")
        0
        """
        what = f"vehicle type {len(self._vehicle_types)}" + (f" ({name!r})" if name else "")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(f"{what}: count must be a non-negative integer, got {count!r}")
        end = start if end is None else end
        for d, label in ((start, "start"), (end, "end")):
            if not isinstance(d, int) or not 0 <= d < len(self._depots):
                raise ConfigError(f"{what}: {label} depot {d!r} does not exist (add depots first)")
        window = (0, UNBOUNDED) if shift is None else (time_of_day(shift[0], f"{what} shift start"),
                                                        time_of_day(shift[1], f"{what} shift end"))
        for value, label in ((fixed_cost, "fixed_cost"), (cost_per_km, "cost_per_km"), (cost_per_hour, "cost_per_hour")):
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{what}: {label} must be a non-negative number, got {value!r}")
        if speed_kmh is not None and not (math.isfinite(speed_kmh) and speed_kmh > 0):
            raise ConfigError(f"{what}: speed_kmh must be positive, got {speed_kmh!r}")
        self._vehicle_types.append(_VehicleType(
            count=count, capacity=_vector(capacity, f"{what} capacity"), start=start, end=end, shift=window,
            max_duration=UNBOUNDED if max_duration is None else span(max_duration, f"{what} max_duration"),
            max_distance=UNBOUNDED if max_distance is None else int(round(max_distance)),
            fixed_cost=fixed_cost, cost_per_km=cost_per_km, cost_per_hour=cost_per_hour, speed_kmh=speed_kmh,
            skills=list(skills), name=name))
        return len(self._vehicle_types) - 1

    def add_client(self, *, lat: float | None = None, lon: float | None = None, x: float | None = None,
                   y: float | None = None, demand: int | Sequence[int] | None = None,
                   pickup: int | Sequence[int] | None = None, service: Span = 0,
                   time_windows: Sequence[tuple[TimeOfDay, TimeOfDay]] | None = None, required: bool = True,
                   prize: float = 0, skills: Iterable[str] = (), name: str | None = None,
                   release: TimeOfDay | None = None) -> int:
        """Adds a client (a delivery or pickup stop); returns its index (0, 1, ... in the order added,
        as ``Result.routes`` and ``Result.stops()`` name clients).

        Parameters:
            lat, lon: the place in degrees (haversine distances in metres); or
            x, y: planar coordinates (rounded Euclidean distances).
            demand: what is delivered, one number per capacity dimension (e.g. ``[3]`` parcels).
            pickup: what is picked up and carried back to the depot, per dimension.
            service: time spent at the stop ("4m", ``timedelta`` or seconds).
            time_windows: (open, close) pairs of times of day ("09:00", ``datetime.time`` or
                seconds since midnight; numbers for planar models); service starts within one of
                them (a vehicle arriving early waits). None: any time.
            required: False makes the client optional: it is served when its ``prize`` is worth
                the detour.
            prize: what serving an optional client earns, in cost units.
            skills: names of skills the vehicle needs (see ``add_vehicle_type``).
            name: shown in ``Result.stops()`` and in errors.
            release: when its goods reach the depot (time of day); the route serving it leaves no
                earlier.

        >>> m = Model()
        >>> hub = m.add_depot(lat=52.52, lon=13.40)
        >>> m.add_client(lat=52.53, lon=13.41, demand=[3], service="4m", time_windows=[("09:00", "12:00")],
        ...              name="order-1")
        0
        >>> m.add_client(lat=52.50, lon=13.35, pickup=[2], required=False, prize=15)
        1
        """
        what = f"client {len(self._clients)}" + (f" ({name!r})" if name else "")
        kind, a, b = _coordinates(what, lat, lon, x, y)
        self._geo(kind, what)
        windows = []
        for k, w in enumerate(time_windows or [(0, UNBOUNDED)]):
            if len(w) != 2:
                raise ConfigError(f"{what}: time window {k} must be a pair (open, close), got {w!r}")
            windows.append((time_of_day(w[0], f"{what} time window {k} open"), time_of_day(w[1], f"{what} time window {k} close")))
        windows.sort()
        for k, (o, c) in enumerate(windows):
            if o > c:
                raise ConfigError(f"{what}: time window {k} opens after it closes ({o} > {c})")
        if not math.isfinite(prize) or prize < 0:
            raise ConfigError(f"{what}: prize must be a non-negative number, got {prize!r}")
        self._clients.append(_Client(a, b, _vector(demand, f"{what} demand"), _vector(pickup, f"{what} pickup"),
                                     span(service, f"{what} service"), windows, bool(required), prize, list(skills), name,
                                     0 if release is None else time_of_day(release, f"{what} release")))
        return len(self._clients) - 1

    def set_matrices(self, distance: Any, duration: Any | None = None) -> None:
        """Uses given matrices (e.g. road distances in metres and times in seconds) over all locations,
        depots first then clients in the order added; anything ``numpy.asarray`` accepts.

        Parameters:
            distance: square matrix of non-negative distances (rounded to whole numbers).
            duration: square matrix of driving times in seconds; None: equal to ``distance``.
                Times of day then count in seconds, as for lat/lon models.

        >>> m = Model()
        >>> hub = m.add_depot(x=0, y=0)
        >>> _ = m.add_vehicle_type(capacity=[5], start=hub)
        >>> _ = m.add_client(x=1, y=0, demand=[1])
        >>> m.set_matrices([[0, 900], [950, 0]], [[0, 60], [70, 0]])
        >>> m.geometry
        'matrix'
        """
        def flat(m: Any, what: str) -> list[int]:
            rows = [list(r) for r in (m.tolist() if hasattr(m, "tolist") else m)]
            n = len(rows)
            values = []
            for i, r in enumerate(rows):
                if len(r) != n:
                    raise ConfigError(f"{what} matrix must be square: row {i} has {len(r)} entries, expected {n}")
                for j, v in enumerate(r):
                    if not math.isfinite(v) or v < 0:
                        raise ConfigError(f"{what} matrix entry ({i}, {j}) is {v!r}; expected a non-negative number")
                    values.append(int(round(v)))
            return values
        d = flat(distance, "distance")
        self._matrices = (d, d if duration is None else flat(duration, "duration"))

    # -- access -----------------------------------------------------------------------------------
    @property
    def num_clients(self) -> int:
        """How many clients were added."""
        return len(self._clients)

    @property
    def num_depots(self) -> int:
        """How many depots were added."""
        return len(self._depots)

    def client_name(self, index: int) -> str | None:
        """The ``name`` client ``index`` was added with (None if it has none).

        >>> m = Model()
        >>> _ = m.add_client(x=1, y=2, name="bakery")
        >>> m.client_name(0)
        'bakery'
        """
        return self._clients[index].name

    def copy(self) -> Model:
        """An independent copy: adding to it leaves this model as it is."""
        return copy.deepcopy(self)

    def _skill_bits(self, skills: list[str], what: str) -> int:
        bits = 0
        for s in skills:
            if s not in self._skills:
                if len(self._skills) >= 64:
                    raise ConfigError(f"{what}: at most 64 distinct skills are supported")
                self._skills[s] = len(self._skills)
            bits |= 1 << self._skills[s]
        return bits

    def _cost_units(self) -> tuple[int, int]:
        """(internal units per currency unit, distance units per km)."""
        return COST_SCALE, (1000 if self.geometry != "planar" else 1)

    def _profiles(self) -> tuple[list[float | None], list[int]]:
        """(speed of each distance/duration profile, profile of each vehicle type)."""
        geometry = self.geometry
        speeds: list[float | None] = []
        profile_of: list[int] = []
        for vt in self._vehicle_types:
            speed = vt.speed_kmh if geometry == "latlon" else (None if geometry == "planar" and vt.speed_kmh == 30 else vt.speed_kmh)
            if geometry == "matrix":
                speed = None
            if speed not in speeds:
                speeds.append(speed)
            profile_of.append(speeds.index(speed))
        return speeds or [None], profile_of

    def _vehicle_specs(self, profile_of: list[int]) -> list[Any]:
        """The vehicle types as the native problem takes them (internal cost units)."""
        scale, per_km = self._cost_units()
        return [(vt.count, vt.capacity, (vt.start, vt.end), vt.shift, (vt.max_duration, vt.max_distance),
                 (int(round(vt.fixed_cost * scale)), int(round(vt.cost_per_km * scale / per_km)),
                  int(round(vt.cost_per_hour * scale / 3600))), profile_of[t], self._skill_bits(vt.skills, f"vehicle type {t}"))
                for t, vt in enumerate(self._vehicle_types)]

    def _build(self, check_servable: bool = True) -> _core.RoutingProblem:
        """The native problem; ``check_servable=False`` allows clients no vehicle can serve (a
        re-planned day reports them instead of refusing the day)."""
        geometry = self.geometry
        points = [(d.a, d.b) for d in self._depots] + [(c.a, c.b) for c in self._clients]
        speeds, profile_of = self._profiles()
        if geometry == "matrix":
            assert self._matrices is not None
            n = len(points)
            if len(self._matrices[0]) != n * n:
                raise ConfigError(f"matrices are {int(math.isqrt(len(self._matrices[0])))} wide but the model has {n} locations")
            profiles = [self._matrices]
        else:
            distance, durations = _core.routing_matrices(points, "latlon" if geometry == "latlon" else "planar", speeds)
            profiles = [(distance, d) for d in durations]
        scale, _ = self._cost_units()
        depots = [(d.a, d.b, d.opening[0], d.opening[1]) for d in self._depots]
        clients = [(c.a, c.b, c.demand, c.pickup, c.service, c.time_windows, int(round(c.prize * scale)), c.required,
                    self._skill_bits(c.skills, f"client {i}"), c.release) for i, c in enumerate(self._clients)]
        vts = self._vehicle_specs(profile_of)
        if self._clients and not self._vehicle_types:
            raise ConfigError("the model has clients but no vehicle type (call add_vehicle_type)")
        self._check_dimensions()
        try:
            return _core.RoutingProblem(depots, clients, vts, profiles, check_servable)
        except InfeasibleProblemError as error:
            if not self.clock:
                raise
            raise InfeasibleProblemError(_times_of_day_in(str(error))) from None

    def _check_dimensions(self) -> None:
        """Every demand, pickup and capacity counts the same dimensions (a shorter one was padded
        with zeros: a capacity of 0 in a dimension the user never meant to have)."""
        sizes = [(f"vehicle type {t}'s capacity", vt.capacity) for t, vt in enumerate(self._vehicle_types)]
        sizes += [(f"client {i}'s {what}", vector) for i, c in enumerate(self._clients)
                  for what, vector in (("demand", c.demand), ("pickup", c.pickup))]
        sizes = [(what, list(vector)) for what, vector in sizes if vector]
        if len({len(vector) for _, vector in sizes}) > 1:
            first = sizes[0]
            other = next((what, v) for what, v in sizes if len(v) != len(first[1]))
            raise ConfigError(f"{other[0]} {other[1]} has {len(other[1])} dimension(s) but {first[0]} {first[1]} has "
                              f"{len(first[1])}: give every demand, pickup and capacity the same number of dimensions")


def _clock(seconds: int) -> str:
    """Seconds since midnight as HH:MM (HH:MM:SS when not on a minute; "+1d" past midnight)."""
    days, rest = divmod(seconds, 86_400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    text = f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")
    return text + (f" (+{days}d)" if days else "")


def _times_of_day_in(message: str) -> str:
    """The native reasons name times in seconds ("shift ends at 32400 (earliest return 43201)"):
    for a model whose times are of a day, as HH:MM."""
    import re

    return re.sub(r"\b(at|return|arrival) (\d+)\b", lambda m: f"{m.group(1)} {_clock(int(m.group(2)))}", message)
