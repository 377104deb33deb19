"""Solve results: cost, feasibility, routes, the stop table, VRPLIB/GeoJSON export and a map plot."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from fleetstream import _core

if TYPE_CHECKING:
    from fleetstream.routing._model import Model
    from fleetstream.routing._vrplib import Instance


@dataclass
class RoutePlan:
    """One vehicle's route (``Result.plans``): clients in visiting order with their times, as
    integers in the problem's internal units (seconds since midnight for lat/lon and matrix models;
    for VRPLIB files the instance's units times its ``scale``).

    ``arrival``, ``start`` (of service, after any wait) and ``departure`` are per client;
    ``load`` is what is on board on leaving each client, one number per capacity dimension;
    ``distance`` (metres for lat/lon models) and ``duration`` are the whole route's, depot to
    depot; ``start_time`` and ``end_time`` are when it leaves and returns to its depots.
    """

    vehicle_type: int
    clients: list[int]
    arrival: list[int]
    start: list[int]
    departure: list[int]
    load: list[list[int]]
    distance: int
    duration: int
    start_time: int
    end_time: int
    #: clients already driven when this plan was re-optimised (see ``insert``)
    fixed: int = 0


@dataclass
class Result:
    """What ``solve`` and ``insert`` return: the best solution found and how the search went.

    ``cost`` is in the problem's cost units (currency units for a ``Model``; the instance's own
    for VRPLIB files, e.g. DIMACS distance / 10); ``feasible`` says whether every constraint holds
    (``violations`` says why not); ``routes`` lists client indices per used vehicle and ``plans``
    the same routes with their schedules; ``missing`` lists required clients not served;
    ``iterations``, ``runtime`` (s) and ``interrupted`` (Ctrl-C) describe the search.

    >>> import fleetstream as fs
    >>> m = fs.routing.Model()
    >>> hub = m.add_depot(x=0, y=0)
    >>> _ = m.add_vehicle_type(count=2, capacity=[10], start=hub, name="van")
    >>> for x, y in [(3, 4), (-3, 4), (0, -5)]:
    ...     _ = m.add_client(x=x, y=y, demand=[4])
    >>> result = fs.routing.solve(m, max_iterations=100, seed=1)
    >>> result.feasible, result.num_routes, result.missing, result.violations
    (True, 2, [], [])
    """

    source: Model | Instance
    problem: _core.RoutingProblem
    native: _core.RoutingSolution
    plans: list[RoutePlan]
    cost: float
    feasible: bool
    iterations: int = 0
    runtime: float = 0.0
    interrupted: bool = False
    missing: list[int] = field(default_factory=list)
    #: why a required client is not served, where that is known before solving (see ``insert``)
    reasons: dict[int, str] = field(default_factory=dict)
    #: each route's departure from its start depot when it was decided before this evaluation
    #: (``insert``); None for solve results, whose evaluator chooses it
    _starts: list[int | None] | None = field(default=None, repr=False)

    @classmethod
    def _from_native(cls, source: Model | Instance, problem: _core.RoutingProblem, native: _core.RoutingSolution,
                     scale: float) -> Result:
        nd = native_depots(source)
        plans = [
            RoutePlan(
                vehicle_type=r["vehicle_type"], clients=[loc - nd for loc in r["locations"]], arrival=r["arrival"],
                start=r["start"], departure=r["departure"], load=r["load"], distance=r["distance"],
                duration=r["duration"], start_time=r["start_time"], end_time=r["end_time"])
            for r in native.schedule()
        ]
        return cls(source=source, problem=problem, native=native, plans=plans, cost=native.cost / scale, feasible=native.feasible,
                   iterations=native.iterations, runtime=native.runtime, interrupted=native.interrupted,
                   missing=native.missing)

    # -- summaries --------------------------------------------------------------------------------
    @property
    def routes(self) -> list[list[int]]:
        """Client indices (as ``Model.add_client`` returned them) of each route, in visiting order."""
        return [p.clients for p in self.plans]

    @property
    def num_routes(self) -> int:
        """How many vehicles are used (routes with at least one client)."""
        return len(self.plans)

    @property
    def distance(self) -> float:
        """Total distance: metres for lat/lon models, the instance's units for VRPLIB files."""
        return sum(p.distance for p in self.plans) / self._distance_scale()

    @property
    def unassigned(self) -> list[int]:
        """Clients no route visits (required ones are listed in ``missing`` and make it infeasible)."""
        seen = {c for p in self.plans for c in p.clients}
        return [c for c in range(self._num_clients()) if c not in seen]

    @property
    def violations(self) -> list[str]:
        """Why the result is not feasible, one line per broken constraint (empty when feasible):
        routes late (after a window closes, the shift ends or the maximum duration), over capacity,
        over their maximum distance or without a needed skill; vehicle types with more routes than
        vehicles; required clients not served (with the reason where ``reasons`` knows it)."""
        from fleetstream.routing._model import Model
        unit = " s" if isinstance(self.source, Model) and self.source.clock else ""
        scale = self._distance_scale()
        out: list[str] = []
        routes_of: dict[int, int] = {}
        for k, r in enumerate(self.native.schedule()):
            routes_of[r["vehicle_type"]] = routes_of.get(r["vehicle_type"], 0) + 1
            if r["time_warp"]:
                out.append(f"route {k}: {r['time_warp'] / scale:g}{unit} late (a window closes, the shift ends "
                           "or the maximum duration passes before it gets there)")
                for seq, (location, arrival, start) in enumerate(zip(r["locations"], r["arrival"], r["start"]), 1):
                    if arrival > start:
                        out.append(f"route {k}, stop {seq} (client {self._client_of(location)}): arrives at "
                                   f"{_fmt_time(self, arrival)}, {(arrival - start) / scale:g}{unit} after its time window closed")
            if r["excess_load"]:
                out.append(f"route {k}: load over capacity by {r['excess_load']}")
            if r["excess_distance"]:
                out.append(f"route {k}: {r['excess_distance'] / scale:g} over its maximum distance")
            if not r["skills_ok"]:
                out.append(f"route {k}: its vehicle lacks a skill a client needs")
        counts = self.problem.vehicle_counts()
        for t, n in sorted(routes_of.items()):
            if n > counts[t]:
                out.append(f"{self._vehicle_type_label(t)}: {n} routes for {counts[t]} vehicles")
        for c in self.missing:
            out.append(f"client {c} is not served" + (f": {self.reasons[c]}" if c in self.reasons else ""))
        return out

    def _client_of(self, location: int) -> int:
        """The client index of a location of the native problem (depots come first)."""
        return location - self.problem.num_depots

    def _num_clients(self) -> int:
        from fleetstream.routing._model import Model
        return self.source.num_clients if isinstance(self.source, Model) else self.source.problem.num_clients

    def _distance_scale(self) -> float:
        from fleetstream.routing._model import Model
        return 1.0 if isinstance(self.source, Model) else float(self.source.scale)

    def __repr__(self) -> str:
        return (f"Result(cost={self.cost:.6g}, feasible={self.feasible}, routes={self.num_routes}, "
                f"clients={sum(len(p.clients) for p in self.plans)}, iterations={self.iterations}, "
                f"runtime={self.runtime:.2f}s)")

    def _vehicle_type_label(self, t: int) -> str:
        """"van (vehicle type 0)" when the model named the type, else "vehicle type 0"."""
        from fleetstream.routing._model import Model
        if isinstance(self.source, Model) and t < len(self.source._vehicle_types):
            name = self.source._vehicle_types[t].name
            if name:
                return f"{name} (vehicle type {t})"
        return f"vehicle type {t}"

    def summary(self) -> str:
        """A few lines to read: the result's repr, then per route its vehicle type (by name when
        ``add_vehicle_type`` gave one), stops, start-end times and distance (km for lat/lon and
        matrix models).

        >>> import fleetstream as fs
        >>> m = fs.routing.Model()
        >>> hub = m.add_depot(x=0, y=0)
        >>> _ = m.add_vehicle_type(count=1, capacity=[10], start=hub, name="van")
        >>> _ = m.add_client(x=3, y=4, demand=[4])
        >>> print(fs.routing.solve(m, max_iterations=10).summary())
        Result(cost=10, feasible=True, routes=1, clients=1, iterations=10, runtime=...s)
          route 0: van (vehicle type 0), 1 stops, 0.0-10.0, distance 10
        """
        lines = [repr(self)]
        km = _is_latlon(self.source) or (hasattr(self.source, "geometry") and getattr(self.source, "geometry") == "matrix")
        for k, p in enumerate(self.plans):
            d = f"{p.distance / 1000:.1f} km" if km else f"distance {p.distance / self._distance_scale():g}"
            lines.append(f"  route {k}: {self._vehicle_type_label(p.vehicle_type)}, {len(p.clients)} stops, "
                         f"{_fmt_time(self, p.start_time)}-{_fmt_time(self, p.end_time)}, {d}")
        return "\n".join(lines)

    # -- tables and exports -----------------------------------------------------------------------
    def stops(self) -> pa.Table:
        """The stop table, a ``pyarrow.Table`` with one row per visit, routes in order:

        * ``route`` (int32): the route's index in ``routes``;
        * ``vehicle_type`` (int32): the vehicle type's index (``add_vehicle_type``'s order);
        * ``seq`` (int32): the visit's position in its route, from 1;
        * ``client`` (int64): the client's index (``add_client``'s order);
        * ``name`` (string): the client's name (null if none, and for VRPLIB files);
        * ``arrival``, ``start`` (of service, after any wait for the time window), ``departure``;
        * ``load``: what is on board when the vehicle leaves the stop, after delivering its
          ``demand`` and picking up its ``pickup`` (int64; a list of int64, one per dimension,
          when capacities have several dimensions);
        * ``late``: by how much the vehicle arrives after the stop's time window closed (0 when
          on time). Only an infeasible result has late stops; the times after a late stop are
          counted from the window's close (``start`` is then before ``arrival``), so they are
          what the plan would be had the vehicle been on time, and ``violations`` lists each.

        Times are ``time32[s]`` of the day for lat/lon and matrix models (``duration[s]`` past
        midnight if a route runs beyond it), float64 numbers in the instance's units for VRPLIB
        files and planar models.

        >>> import fleetstream as fs
        >>> m = fs.routing.Model()
        >>> hub = m.add_depot(x=0, y=0)
        >>> _ = m.add_vehicle_type(count=1, capacity=[10], start=hub)
        >>> _ = m.add_client(x=3, y=4, demand=[4], name="a")
        >>> _ = m.add_client(x=3, y=-4, demand=[5], name="b")
        >>> stops = fs.routing.solve(m, max_iterations=20).stops()
        >>> stops.column_names
        ['route', 'vehicle_type', 'seq', 'client', 'name', 'arrival', 'start', 'departure', 'load', 'late']
        >>> stops.num_rows, stops.column("load").to_pylist()[-1]   # empty after the last delivery
        (2, 0)
        """
        from fleetstream.routing._model import Model
        rows: dict[str, list[Any]] = {k: [] for k in ("route", "vehicle_type", "seq", "client", "name", "arrival", "start", "departure", "load", "late")}
        for k, p in enumerate(self.plans):
            for s, c in enumerate(p.clients):
                rows["route"].append(k)
                rows["vehicle_type"].append(p.vehicle_type)
                rows["seq"].append(s + 1)
                rows["client"].append(c)
                rows["name"].append(self.source.client_name(c) if isinstance(self.source, Model) else None)
                rows["arrival"].append(p.arrival[s])
                rows["start"].append(p.start[s])
                rows["departure"].append(p.departure[s])
                rows["load"].append(p.load[s])
                rows["late"].append(max(0, p.arrival[s] - p.start[s]))  # service starts before arrival only when late
        clock = isinstance(self.source, Model) and self.source.clock
        times: dict[str, pa.Array] = {}
        for col in ("arrival", "start", "departure", "late"):
            values = rows[col]
            if clock and col == "late":
                times[col] = pa.array(values, type=pa.int64()).cast(pa.duration("s"))
            elif clock:
                typ = pa.time32("s") if all(v < 86400 for v in values) else pa.duration("s")
                times[col] = pa.array(values, type=pa.int32() if typ == pa.time32("s") else pa.int64()).cast(typ)
            else:
                times[col] = pa.array([v / self._distance_scale() for v in values], type=pa.float64())
        dims = max((len(load) for load in rows["load"]), default=1)
        load = pa.array([v[0] if v else 0 for v in rows["load"]], type=pa.int64()) if dims <= 1 else pa.array(rows["load"], type=pa.list_(pa.int64()))
        return pa.table({
            "route": pa.array(rows["route"], type=pa.int32()),
            "vehicle_type": pa.array(rows["vehicle_type"], type=pa.int32()),
            "seq": pa.array(rows["seq"], type=pa.int32()),
            "client": pa.array(rows["client"], type=pa.int64()),
            "name": pa.array(rows["name"], type=pa.string()),
            "arrival": times["arrival"],
            "start": times["start"],
            "departure": times["departure"],
            "load": load,
            "late": times["late"],
        })

    def to_vrplib(self) -> str:
        """The solution as PyVRP writes and reads ``.sol`` files: ``Route #k`` is the route of
        vehicle k (vehicles numbered type by type, in the order the instance's vehicle types list
        the file's vehicles, or the model's types list theirs; an unused vehicle before the last
        used one gets an empty ``Route #k:``), locations numbered as in the instance file (node id
        minus one) or, for a model, depots then clients from 0; then ``Cost``.

        >>> import fleetstream as fs
        >>> m = fs.routing.Model()
        >>> hub = m.add_depot(x=0, y=0)
        >>> _ = m.add_vehicle_type(count=1, capacity=[10], start=hub)
        >>> _ = m.add_client(x=3, y=4, demand=[4])
        >>> print(fs.routing.solve(m, max_iterations=10).to_vrplib())
        Route #1: 1
        Cost 10
        """
        from fleetstream.routing._model import Model
        if isinstance(self.source, Model):
            counts = [vt.count for vt in self.source._vehicle_types]
            starts = [sum(counts[:t]) for t in range(len(counts))]
            vehicles = [list(range(s, s + n)) for s, n in zip(starts, counts)]
            numbers = list(range(self.source.num_depots + self.source.num_clients))
        else:
            vehicles = [list(v) for v in self.source.vehicles]
            numbers = [i - 1 for i in self.source.node_ids]
        cost = self.cost
        return self.native.to_vrplib(int(cost) if float(cost).is_integer() else round(cost, 6), vehicles, numbers)

    def write_vrplib(self, path: str | os.PathLike[str]) -> None:
        """Writes ``to_vrplib()`` to the file ``path`` (a PyVRP-readable ``.sol`` file)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_vrplib())

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON FeatureCollection: one LineString per route (depot to depot) and one Point per
        visit (with its times) and depot. Coordinates are [lon, lat] (or [x, y] for planar models)."""
        coords = self.source_coordinates()
        nd = native_depots(self.source)
        depots_of = self.source_problem().vehicle_depots()
        latlon = _is_latlon(self.source)

        def pt(loc: int) -> list[float]:
            a, b = coords[loc]
            return [b, a] if latlon else [a, b]

        features: list[dict[str, Any]] = []
        for d in range(nd):
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": pt(d)},
                             "properties": {"kind": "depot", "depot": d}})
        for k, p in enumerate(self.plans):
            start, end = depots_of[p.vehicle_type]
            line = [pt(start)] + [pt(c + nd) for c in p.clients] + [pt(end)]
            features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": line},
                             "properties": {"kind": "route", "route": k, "vehicle_type": p.vehicle_type,
                                            "stops": len(p.clients), "distance": p.distance / self._distance_scale(),
                                            "start": _fmt_time(self, p.start_time), "end": _fmt_time(self, p.end_time)}})
            for s, c in enumerate(p.clients):
                features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": pt(c + nd)},
                                 "properties": {"kind": "stop", "route": k, "seq": s + 1, "client": c,
                                                "arrival": _fmt_time(self, p.arrival[s]),
                                                "departure": _fmt_time(self, p.departure[s])}})
        return {"type": "FeatureCollection", "features": features}

    def plot(self, ax: Any = None, *, title: str | None = None) -> Any:
        """Draws the routes on a matplotlib axes (created if not given) and returns it."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 8))
        coords = self.source_coordinates()
        nd = native_depots(self.source)
        latlon = _is_latlon(self.source)
        xy = [(b, a) if latlon else (a, b) for a, b in coords]
        depots_of = self.source_problem().vehicle_depots()
        served = {c for p in self.plans for c in p.clients}
        ax.scatter([xy[c + nd][0] for c in range(len(xy) - nd) if c not in served],
                   [xy[c + nd][1] for c in range(len(xy) - nd) if c not in served], c="lightgrey", s=12, label="not served")
        cmap = plt.get_cmap("tab20")
        for k, p in enumerate(self.plans):
            start, end = depots_of[p.vehicle_type]
            path = [xy[start]] + [xy[c + nd] for c in p.clients] + [xy[end]]
            ax.plot([q[0] for q in path], [q[1] for q in path], "-o", ms=3, lw=1.2, color=cmap(k % 20))
        ax.scatter([xy[d][0] for d in range(nd)], [xy[d][1] for d in range(nd)], marker="s", s=80, c="black", zorder=5, label="depot")
        ax.set_title(title or f"{self.num_routes} routes, cost {self.cost:.6g}" + ("" if self.feasible else " (infeasible)"))
        if latlon:
            ax.set_xlabel("longitude")
            ax.set_ylabel("latitude")
            ax.set_aspect(1 / max(0.1, _cos_lat(coords)))
        else:
            ax.set_aspect("equal")
        return ax

    # -- helpers ----------------------------------------------------------------------------------
    def source_problem(self) -> _core.RoutingProblem:
        """The native problem this result was evaluated on (the same as ``problem``)."""
        return self.problem

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickles (e.g. to or from Spark executors) as the source model or instance and the routes; the
        native solution is re-evaluated on loading, so cost and schedule are equal."""
        routes = [(p.vehicle_type, p.clients) for p in self.plans]
        return (_unpickle_result, (self.source, routes, self.iterations, self.runtime, self.interrupted,
                                   self._starts, [p.fixed for p in self.plans], self.reasons))

    def source_coordinates(self) -> list[tuple[float, float]]:
        """Each location's coordinates, depots first then clients: (lat, lon) for lat/lon
        models, (x, y) otherwise."""
        return self.source_problem().coordinates()


def _unpickle_result(source: Model | Instance, routes: list[tuple[int, list[int]]], iterations: int, runtime: float,
                     interrupted: bool, starts: list[int | None] | None = None, fixed: list[int] | None = None,
                     reasons: dict[int, str] | None = None) -> Result:
    from fleetstream.routing._model import COST_SCALE, Model
    if isinstance(source, Model):
        # a re-planned day may list clients no vehicle can serve any more: build it as it was
        problem, scale = source._build(check_servable=starts is None), float(COST_SCALE)
    else:
        problem, scale = source.problem, float(source.scale)
    nd = problem.num_depots
    native = problem.evaluate([(vt, [c + nd for c in clients]) for vt, clients in routes], starts)
    result = Result._from_native(source, problem, native, scale)
    result.iterations, result.runtime, result.interrupted = iterations, runtime, interrupted
    result._starts, result.reasons = starts, dict(reasons or {})
    for plan, n in zip(result.plans, fixed or []):
        plan.fixed = n
    return result


def native_depots(source: Model | Instance) -> int:
    from fleetstream.routing._model import Model
    return source.num_depots if isinstance(source, Model) else source.problem.num_depots


def _is_latlon(source: Model | Instance) -> bool:
    from fleetstream.routing._model import Model
    return isinstance(source, Model) and source.geometry == "latlon"


def _cos_lat(coords: list[tuple[float, float]]) -> float:
    import math
    lats = [a for a, _ in coords]
    return math.cos(math.radians(sum(lats) / max(1, len(lats))))


def _fmt_time(result: Result, t: int) -> str | float:
    from fleetstream.routing._model import Model
    if isinstance(result.source, Model) and result.source.clock:
        h, rem = divmod(int(t), 3600)
        return f"{h:02d}:{rem // 60:02d}:{rem % 60:02d}"
    return t / result._distance_scale()
