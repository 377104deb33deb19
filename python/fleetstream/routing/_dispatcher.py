"""``Dispatcher``: the optimiser on a live day. Orders arrive, vans are out, the plan changes
without breaking what is under way.

>>> import fleetstream as fs
>>> m = fs.routing.Model()
>>> hub = m.add_depot(x=0, y=0)
>>> _ = m.add_vehicle_type(count=2, capacity=[10], start=hub, name="van")
>>> d = fs.routing.Dispatcher(m, freeze=5, seed=1)
>>> d.add_orders({"order_id": ["o1", "o2"], "x": [10, -10], "y": [0, 0], "demand": [3, 3]}, now=0).column("status").to_pylist()
['planned', 'planned']
>>> d.vehicle_event({"vehicle_id": ["van-1"], "ts": [0], "kind": ["departed"]}, now=0).applied
1
>>> for row in d.plan().select(["vehicle", "order_id", "eta", "frozen"]).to_pylist():
...     print(row)
{'vehicle': 'van-1', 'order_id': 'o1', 'eta': 10.0, 'frozen': True}
{'vehicle': 'van-2', 'order_id': 'o2', 'eta': 10.0, 'frozen': False}

van-1 left at 0 and drives to o1 (frozen). o2 went to van-2: van-1 leaves within the freeze
horizon (5), so its load was fixed when o2 arrived.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from fleetstream import _core
from fleetstream._arrow import as_arrow
from fleetstream.exceptions import ConfigError
from fleetstream.routing._model import COST_SCALE, Model, Span, TimeOfDay, span, time_of_day


@dataclass(frozen=True)
class EventReport:
    """What ``vehicle_event`` did: events applied, rejected ones as (row, reason), orders newly
    predicted to miss their window, and whether that made the dispatcher re-plan."""

    applied: int
    rejected: list[tuple[int, str]]
    late: list[str]
    replanned: bool


@dataclass(frozen=True)
class ImproveReport:
    """What ``improve`` did: search iterations, whether the new plan was adopted, the plan's cost
    before and after (moves of promised stops included, in the model's cost units), promised stops
    moved to another van, waiting orders placed, and the time it took (s)."""

    iterations: int
    accepted: bool
    cost_before: float
    cost_after: float
    moved: int
    placed: int
    runtime: float


def _vehicle_ids(model: Model, given: Sequence[str] | None) -> list[tuple[str, int]]:
    vans: list[tuple[str, int]] = []
    for t, vt in enumerate(model._vehicle_types):
        base = vt.name or f"v{t}"
        vans.extend((base if vt.count == 1 else f"{base}-{k + 1}", t) for k in range(vt.count))
    if given is not None:
        ids = list(given)
        if len(ids) != len(vans):
            raise ConfigError(f"vehicle_ids: {len(ids)} ids given for {len(vans)} vehicles")
        vans = [(i, t) for i, (_, t) in zip(ids, vans)]
    return vans


def _origin_ms(origin: datetime | str | None) -> int | None:
    if origin is None:
        return None
    if isinstance(origin, str):
        try:
            origin = datetime.fromisoformat(origin)
        except ValueError:
            raise ConfigError(f"origin: expected an ISO date or time such as \"2026-12-03\", got {origin!r}") from None
    if not isinstance(origin, datetime):
        raise ConfigError(f"origin: expected a datetime or an ISO string, got {origin!r}")
    if origin.tzinfo is None:
        origin = origin.replace(tzinfo=timezone.utc)
    return int(origin.timestamp() * 1000)


class Dispatcher:
    """A live plan over a routing ``Model``'s depots and vehicles (each vehicle is a van with an id:
    the vehicle type's ``name``, numbered ``name-1``, ``name-2`` ... when it has several).

    * ``add_orders`` places every new order at once by the cheapest feasible insertion, or leaves it
      waiting with the reason no van can take it (it is tried again at every ``improve``).
    * ``vehicle_event`` takes what vans report (departed, arrived, served, failed, position): ETAs
      follow, served stops leave the plan, and a stop predicted to miss its window is flagged
      ``late`` and makes the dispatcher re-plan (``replan_iterations`` iterations).
    * ``improve`` re-optimises the unfrozen part with the solver's own search, starting from the
      current plan; moving a planned (promised) stop to another van costs ``stability`` (in the
      model's cost units). The new plan is adopted only if it is cheaper and as drivable.
    * ``buffer``: plans aim to reach a stop this long before its window closes (a margin for
      delays: orders and re-plans never take it away); ``late`` still means missing the window.
    * Frozen: the stop a van drives to and every stop it reaches within ``freeze``; a van leaving
      the depot within ``freeze`` is being loaded, so its load is fixed (a van out takes no goods
      from the depot, only pickups it has room for).
    * ``plan()`` is the stops table; ``changes()`` the routes changed since last published.

    Orders table columns: ``order_id``, a place (``lat``/``lon``, ``x``/``y``, or ``site``: an index
    into the model's matrices), and optionally ``demand``, ``pickup``, ``tw_start``, ``tw_end``,
    ``service``, ``release`` (the goods reach the depot then), ``required``/``prize``, ``skills``.
    Vehicle events: ``vehicle_id``, ``ts``, ``kind``, optionally ``stop`` (the order id), a place,
    ``reason``. Times: numbers in the model's units (seconds of the day for lat/lon and matrix
    models), "HH:MM" text, Arrow times, or timestamps counted from ``origin``. Deterministic for a
    seed under iteration budgets; ``snapshot()`` / ``Dispatcher.restore()`` resume exactly.
    """

    def __init__(self, model: Model, *, freeze: Span = "15m", stability: float = 1.0, seed: int = 1, threads: int = 1,
                 eta_tolerance: Span = "2m", replan_iterations: int = 200, buffer: Span = 0,
                 vehicle_ids: Sequence[str] | None = None, origin: datetime | str | None = None) -> None:
        if not isinstance(model, Model):
            raise ConfigError(f"Dispatcher() expects a fleetstream.routing.Model, got {type(model).__name__}")
        if not model.num_depots or not model._vehicle_types:
            raise ConfigError("Dispatcher(): the model needs at least one depot and one vehicle type")
        if not (isinstance(stability, (int, float)) and math.isfinite(stability) and stability >= 0):
            raise ConfigError(f"stability must be a non-negative number, got {stability!r}")
        for name, value in (("seed", seed), ("replan_iterations", replan_iterations)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be a positive integer, got {threads!r}")
        geometry = model.geometry
        speeds, profile_of = model._profiles()
        depots = [(d.a, d.b, d.opening[0], d.opening[1]) for d in model._depots]
        matrices = None
        depot_sites = None
        if geometry == "matrix":
            assert model._matrices is not None
            distance, duration = model._matrices
            size = math.isqrt(len(distance))
            matrices = (size, distance, [duration])
            depot_sites = list(range(model.num_depots))
        vehicle_specs = model._vehicle_specs(profile_of)
        for c in model._clients:  # skill names of the model's clients count too
            model._skill_bits(c.skills, "client")
        skills = sorted(model._skills, key=model._skills.__getitem__)
        self._clock = model.clock
        self._native = _core.Dispatcher(
            depots, vehicle_specs, _vehicle_ids(model, vehicle_ids), geometry, speeds, matrices, depot_sites, skills,
            freeze=span(freeze, "freeze"), stability=int(round(stability * COST_SCALE)), seed=seed, threads=threads,
            eta_tolerance=span(eta_tolerance, "eta_tolerance"), replan_iterations=replan_iterations,
            buffer=span(buffer, "buffer"), clock=model.clock,
            origin_ms=_origin_ms(origin), cost_scale=float(COST_SCALE))
        if model.num_clients:
            self.add_orders(self._model_clients(model), now=0)

    @staticmethod
    def _model_clients(model: Model) -> pa.Table:
        rows = []
        for i, c in enumerate(model._clients):
            place = {"site": model.num_depots + i} if model.geometry == "matrix" else (
                {"lat": c.a, "lon": c.b} if model.geometry == "latlon" else {"x": c.a, "y": c.b})
            (open_, close) = (c.time_windows[0][0], c.time_windows[-1][1])
            rows.append({"order_id": c.name or f"c{i}", **place, "demand": c.demand or None, "pickup": c.pickup or None,
                         "tw_start": open_, "tw_end": close, "service": c.service, "release": c.release,
                         "required": c.required, "prize": c.prize, "skills": c.skills or None})
        return pa.Table.from_pylist(rows)

    # -- state ------------------------------------------------------------------------------------
    @classmethod
    def restore(cls, data: bytes) -> Dispatcher:
        """A dispatcher from ``snapshot()`` bytes: it continues exactly as the original would."""
        self = cls.__new__(cls)
        self._native = _core.Dispatcher.restore(bytes(data))
        self._clock = self._native.clock
        return self

    def snapshot(self) -> bytes:
        """The dispatcher's whole state as bytes, for ``Dispatcher.restore`` (e.g. stored with the
        Kafka offsets of the events it has taken)."""
        return bytes(self._native.snapshot())

    @property
    def now(self) -> int:
        """The dispatcher's clock (model units); it only moves forward."""
        return int(self._native.now)

    @property
    def stats(self) -> dict[str, int]:
        """Counters since the start: orders received, served, ... (name -> count)."""
        return dict(self._native.stats())

    def _now(self, now: TimeOfDay | datetime) -> int:
        if isinstance(now, datetime):
            origin = self._native.origin_ms
            if origin is None:
                raise ConfigError("now is a datetime, but the dispatcher has no origin (give origin= to use datetimes)")
            stamp = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
            return (int(stamp.timestamp() * 1000) - origin) // 1000
        if not self._clock and (isinstance(now, bool) or not isinstance(now, (int, float))):
            raise ConfigError(f"now: expected a number (the model's times are plain numbers), got {now!r}")
        return time_of_day(now, "now")

    # -- inputs -----------------------------------------------------------------------------------
    def add_orders(self, orders: Any, *, now: TimeOfDay | datetime) -> pa.Table:
        """Places new orders; returns one row per order: order_id, status ("planned",
        "unassigned" or "rejected"), vehicle, reason.

        ``orders``: a pyarrow table or record batch, a polars or pandas frame, or a dict of
        columns (the columns are listed in the class docstring). ``now``: the current time (a
        number in model units, "HH:MM", or a datetime when the dispatcher has an ``origin``); the
        dispatcher's clock never goes back. See the module docstring for an example."""
        table: pa.Table = self._native.add_orders(as_arrow(orders, "orders"), self._now(now))
        return table

    def cancel(self, order_ids: Sequence[str], *, now: TimeOfDay | datetime) -> pa.Table:
        """Withdraws orders (a planned stop leaves its route, frozen or not); one row per id:
        status "cancelled" or "rejected" (unknown, already served, failed or cancelled)."""
        table: pa.Table = self._native.cancel([str(i) for i in order_ids], self._now(now))
        return table

    def hold(self, order_ids: Sequence[str], until: TimeOfDay | datetime, *, now: TimeOfDay | datetime) -> pa.Table:
        """Holds orders until ``until`` (their goods reach the depot then: the van carrying them
        leaves no earlier) and places them again; refused for orders on a loaded van."""
        table: pa.Table = self._native.hold([str(i) for i in order_ids], self._now(until), self._now(now))
        return table

    def vehicle_event(self, events: Any, *, now: TimeOfDay | datetime) -> EventReport:
        """Applies what vans report, in row order; a report that does not fit (unknown vehicle or
        stop, a stop already served ...) is rejected with the reason and changes nothing.

        ``events``: a table or dict of columns ``vehicle_id``, ``ts``, ``kind`` ("departed",
        "arrived", "served", "failed", "position") and optionally ``stop`` (the order id), a place,
        ``reason``; ``now`` as for ``add_orders``. Returns an ``EventReport``."""
        applied, rejected, late, replanned = self._native.vehicle_events(as_arrow(events, "vehicle events"), self._now(now))
        return EventReport(applied, rejected, late, replanned)

    def improve(self, budget: Span | None = None, *, now: TimeOfDay | datetime, iterations: int | None = None) -> ImproveReport:
        """Re-optimises the unfrozen part within ``budget`` (wall clock: "500ms") and/or
        ``iterations`` (deterministic), then tries the waiting orders again. Ctrl-C stops it."""
        if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0):
            raise ConfigError(f"iterations must be a non-negative integer, got {iterations!r}")
        seconds = None
        if budget is not None:
            from fleetstream.routing._solve import _seconds
            seconds = _seconds(budget, "budget")
        r = self._native.improve(self._now(now), max_runtime=seconds, max_iterations=iterations)
        return ImproveReport(r["iterations"], r["accepted"], r["cost_before"] / COST_SCALE, r["cost_after"] / COST_SCALE,
                             r["moved"], r["placed"], r["runtime"])

    # -- outputs ----------------------------------------------------------------------------------
    def _times(self, table: pa.Table, columns: Sequence[str]) -> pa.Table:
        """Times in the model's form: time of day (or a duration past midnight) for clock models,
        timestamps when the dispatcher has an origin, numbers for planar models."""
        origin = self._native.origin_ms
        for name in columns:
            column = table.column(name)
            if origin is not None:
                values = pa.array([None if v is None else origin + 1000 * v for v in column.to_pylist()], pa.int64())
                converted = values.cast(pa.timestamp("ms", tz="UTC"))
            elif self._clock:
                values = column.to_pylist()
                small = all(v is None or 0 <= v < 86_400 for v in values)
                converted = pa.array(values, pa.int32() if small else pa.int64()).cast(pa.time32("s") if small else pa.duration("s"))
            else:
                converted = column.cast(pa.float64())
            table = table.set_column(table.schema.get_field_index(name), name, converted)
        return table

    def plan(self) -> pa.Table:
        """The plan now: one row per remaining stop, vans in fleet order: vehicle, seq, order_id, eta,
        start, departure, load (on leaving; a list when the fleet has several capacity dimensions),
        frozen, changed (since last published by ``changes``), late (predicted to miss its window)."""
        table = self._times(self._native.plan(), ("eta", "start", "departure"))
        if self._native.num_dims == 1:
            load = pa.array([v[0] for v in table.column("load").to_pylist()], pa.int64())
            table = table.set_column(table.schema.get_field_index("load"), "load", load)
        return table

    def changes(self) -> list[dict[str, Any]]:
        """Routes that changed since the last call (stops, their order, or an ETA by at least
        ``eta_tolerance``), now published: dicts with vehicle, version, status, departure, end, and
        stops (order_id, eta, start, departure, load, frozen, late); times in model units."""
        return list(self._native.take_changes())

    def fates(self) -> pa.Table:
        """Order fates since the last call: order_id, status (planned, unassigned, served, failed,
        cancelled, rejected), vehicle, at, reason."""
        return self._times(self._native.take_fates(), ("at",))

    def orders(self) -> pa.Table:
        """Every order so far and its state: order_id, status, vehicle, received, at (when served,
        failed or cancelled), reason, and its place (a, b: lat/lon or x/y; site)."""
        return self._times(self._native.orders(), ("received", "at"))

    def vehicles(self) -> pa.Table:
        """One row per van: vehicle, status (at_depot, loading, driving, at_stop, done), departure,
        stops left, frozen, committed, last reported place (a, b), distance driven."""
        return self._times(self._native.vehicles(), ("departure",))

    def check(self) -> None:
        """Raises ``InternalError`` if an order is in two places or none (a bug)."""
        self._native.check_invariants()

    def __repr__(self) -> str:
        s = self.stats
        return (f"Dispatcher(now={self.now}, orders={s['orders']}, served={s['served']}, "
                f"waiting={sum(1 for x in self.orders().column('status').to_pylist() if x == 'unassigned')})")
